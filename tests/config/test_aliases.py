"""Aliases, the default model and the routing fields of endpoints in the config: accepted, and a target
that is no model reported with its field path when the config is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchpoint.config import load_config
from switchpoint.errors import ConfigError

GOOD = """
providers:
  up: {type: openai, base_url: http://127.0.0.1:9/v1, api_key: k}
models:
  - id: my/model
    endpoints:
      - {provider: up, model: m, extended_context: true, tool_quality: 0.8}
default_model: mini
aliases:
  mini: my/model
  fast: my/model:nitro
  "google/*": google/gemini-2.5-flash
routing:
  sticky: {ttl: 5m}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchpoint.yaml"
    path.write_text(text)
    return path


def test_aliases_default_model_and_endpoint_fields_are_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD), env={})
    assert config.default_model == "mini"
    assert config.aliases["google/*"] == "google/gemini-2.5-flash"  # a bundled model
    endpoint = config.models[0].endpoints[0]
    assert endpoint.extended_context is True and endpoint.tool_quality == 0.8
    assert config.routing.sticky.ttl == 300 and config.routing.sticky.enabled


def test_a_target_that_is_no_model_is_a_config_error_with_its_path(tmp_path: Path) -> None:
    text = GOOD.replace("mini: my/model", "mini: my/modle").replace("default_model: mini", "default_model: nope") \
        + "messages:\n  model_aliases: {claude-*: no/such}\n"
    text = text.replace("tool_quality: 0.8", "tool_quality: 3")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    problems = dict(caught.value.problems)
    assert problems["aliases.mini"].startswith("'my/modle' is not a model of the catalogue")
    assert problems["messages.model_aliases.claude-*"].startswith("'no/such' is not a model of the catalogue")
    assert problems["default_model"] == "'nope' is not a model of the catalogue or an alias"
    assert "models[0].endpoints[0].tool_quality" in problems
