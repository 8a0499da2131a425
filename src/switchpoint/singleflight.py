"""Concurrent callers asking for the same thing share one call (one database read, not hundreds)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._inflight: dict[Any, asyncio.Future[T]] = {}

    async def run(self, key: Any, call: Callable[[], Awaitable[T]]) -> T:
        future = self._inflight.get(key)
        if future is None:
            future = self._inflight[key] = asyncio.ensure_future(call())

            def done(finished: asyncio.Future[T]) -> None:
                if self._inflight.get(key) is finished:  # not a newer call started after `forget`
                    del self._inflight[key]

            future.add_done_callback(done)
        # shield: one caller being cancelled (a client went away) must not cancel the others' call
        return await asyncio.shield(future)

    def forget(self, key: Any) -> None:
        """Callers from now on start a new call (what the one in flight reads may be out of date)."""
        self._inflight.pop(key, None)
