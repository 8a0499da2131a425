"""The workers' state process, beyond the State contract: a state process started again after a crash
holds messages until every worker has subscribed again."""

from __future__ import annotations

import asyncio

from .conftest import HostedState


async def test_a_restarted_host_holds_messages_until_every_worker_is_back() -> None:
    hosted = await HostedState(workers=2).start()
    first, second = hosted.client(), hosted.client()
    try:
        await first.subscribe("ledger-pending", lambda m: "first")
        asked = asyncio.ensure_future(first.publish("ledger-pending", "?"))
        await asyncio.sleep(0.1)
        assert not asked.done()  # the other worker has not subscribed yet: its rows would be missed
        await second.subscribe("ledger-pending", lambda m: "second's rows")
        assert await asked == ["second's rows"]
    finally:
        await hosted.stop()


async def test_a_worker_that_never_comes_back_delays_messages_only_for_the_grace() -> None:
    hosted = await HostedState(workers=3).start()
    first, second = hosted.client(), hosted.client()
    try:
        await first.subscribe("keys", lambda m: None)
        await second.subscribe("keys", lambda m: "dropped")
        assert await asyncio.wait_for(first.publish("keys", "k"), 2) == ["dropped"]
        assert await asyncio.wait_for(first.publish("keys", "k"), 0.2) == ["dropped"]  # after the grace: at once
    finally:
        await hosted.stop()
