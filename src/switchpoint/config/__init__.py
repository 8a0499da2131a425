"""Configuration: file + environment -> validated immutable Config. Env expansion happens here only."""

from .load import find_config_path, load_config
from .schema import Config

__all__ = ["Config", "find_config_path", "load_config"]
