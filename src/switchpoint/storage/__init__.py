"""Durable storage (SQLAlchemy): API keys and the generation ledger. SQLite by default, PostgreSQL
for a cluster. Stores what it is given; business rules live in accounting/ and the engine."""

from . import migrate
from .store import Store
from .tables import metadata

__all__ = ["Store", "metadata", "migrate"]
