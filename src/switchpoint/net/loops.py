"""Objects kept one per event loop: the timers and write queues that every connection of a loop shares."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """`make(loop, key)` once per (event loop, key), on first use; those of closed loops are dropped."""

    def __init__(self, make: Callable[[asyncio.AbstractEventLoop, Hashable], T]) -> None:
        self._make = make
        self._items: dict[tuple[asyncio.AbstractEventLoop, Hashable], T] = {}

    def get(self, loop: asyncio.AbstractEventLoop, key: Hashable = None) -> T:
        found = self._items.get((loop, key))
        if found is None:
            for stale in [k for k in self._items if k[0].is_closed()]:
                del self._items[stale]
            found = self._items[(loop, key)] = self._make(loop, key)
        return found
