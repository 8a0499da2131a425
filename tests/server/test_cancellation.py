"""A client that hangs up before its answer: the upstream request is dropped at once (not after the
provider's timeout), the key's budget hold is released, and the ledger records a cancelled generation."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest

from switchpoint.accounting.keys import hash_key

from .. import replies
from ..conftest import TEST_KEY, Gateway
from ..upstream import Reply, Upstream

HOLD = 60.0  # the upstream would answer after a minute; the provider timeout is 30 s


def wait_for(condition: Callable[[], Any], seconds: float = 5.0) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return result


def reserved(gateway: Gateway) -> int:
    """nano-USD the key holds for requests in flight (the in-process state's budget counters)."""
    state = gateway.services.state
    memory = getattr(state, "primary", state)
    prefix = f"spend:{hash_key(TEST_KEY)}:"
    return sum(c.reserved for name, c in memory._counters.items() if name.startswith(prefix))  # noqa: SLF001


def send_and_hang_up(gateway: Gateway, upstream: Upstream, path: str, body: dict[str, Any], upstream_path: str) -> None:
    """Send a request on a raw socket, wait until the upstream has it, then close the socket."""
    data = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", gateway.port)) as client:
        client.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n%s" % (path.encode(), TEST_KEY.encode(), len(data), data))
        assert wait_for(lambda: upstream.hits(upstream_path)), "the request never reached the upstream"
        assert reserved(gateway) > 0  # its budget is held while the upstream works


@pytest.mark.parametrize(("path", "body", "upstream_path"), [
    ("/api/v1/chat/completions", {"model": "test/gpt", "max_tokens": 100,
                                  "messages": [{"role": "user", "content": "hi"}]}, "/v1/chat/completions"),
    ("/api/v1/embeddings", {"model": "test/embed", "input": "hi"}, "/v1/embeddings"),
])
def test_a_client_that_hangs_up_cancels_its_upstream_request(make_gateway: Any, upstream: Upstream, path: str,
                                                             body: dict[str, Any], upstream_path: str) -> None:
    gateway = make_gateway(keys=[{"name": "test", "key": TEST_KEY, "limit": 1.0}],
                           providers={"up": {"type": "openai", "base_url": f"{upstream.url}/v1",
                                             "api_key": "upstream-key", "max_retries": 0, "timeout": 30}})
    upstream.always(upstream_path, Reply.json({}, hold=HOLD))
    send_and_hang_up(gateway, upstream, path, body, upstream_path)
    assert wait_for(lambda: upstream.disconnects == 1), "the upstream request kept running"
    assert wait_for(lambda: reserved(gateway) == 0), "the budget hold was not released"
    [row] = wait_for(gateway.ledger)
    assert (row["status"], row["http_status"], row["error"]) == ("cancelled", 499, "client disconnected")
    assert row["cost_nanos"] == 0 and not row["streamed"]
    # the gateway still serves the key, with its whole budget
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    response = httpx.post(f"{gateway.url}/api/v1/chat/completions", timeout=10,
                          headers={"authorization": f"Bearer {TEST_KEY}"},
                          json={"model": "test/gpt", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200 and reserved(gateway) == 0


def test_a_stream_cancelled_before_its_first_output_is_recorded(make_gateway: Any, upstream: Upstream) -> None:
    gateway = make_gateway(keys=[{"name": "test", "key": TEST_KEY, "limit": 1.0}],
                           providers={"up": {"type": "openai", "base_url": f"{upstream.url}/v1",
                                             "api_key": "upstream-key", "max_retries": 0, "timeout": 30}})
    upstream.always("/v1/chat/completions", Reply.json({}, hold=HOLD))
    send_and_hang_up(gateway, upstream, "/api/v1/chat/completions",
                     {"model": "test/gpt", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
                     "/v1/chat/completions")
    assert wait_for(lambda: upstream.disconnects == 1)
    assert wait_for(lambda: reserved(gateway) == 0)
    [row] = wait_for(gateway.ledger)
    assert (row["status"], row["http_status"], row["cost_nanos"]) == ("cancelled", 499, 0)
