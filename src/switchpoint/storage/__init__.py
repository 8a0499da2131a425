"""Durable storage (SQLAlchemy): API keys, stored responses and the generation ledger, with its spool
and the SQLite writer child. SQLite by default, PostgreSQL for a cluster. Stores what it is given;
business rules live in accounting/ and the engine.

This `__init__` imports nothing heavy: the SQLite ledger child (`sqlite_ledger`) runs without any
database library (~14 MB less resident than with SQLAlchemy loaded), so `Store`, `metadata` and
`migrate` are loaded on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import migrate
    from .store import Store
    from .tables import metadata

_LAZY = {"Store": (".store", "Store"), "metadata": (".tables", "metadata"), "migrate": (".migrate", None)}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name, __name__)
    return module if attribute is None else getattr(module, attribute)


__all__ = ["Store", "metadata", "migrate"]
