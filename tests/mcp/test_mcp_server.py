"""The MCP server over stdio, driven by the mcp package's own client, against a real gateway."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from ..cli.conftest import answer_everywhere
from ..conftest import TEST_KEY

stdio = pytest.importorskip("mcp.client.stdio")
session_module = pytest.importorskip("mcp.client.session")
SWITCHPOINT = str(Path(sys.executable).parent / "switchpoint")


async def session_calls(gateway_url: str) -> dict:
    params = stdio.StdioServerParameters(
        command=SWITCHPOINT, args=["mcp"],
        env={**os.environ, "SWITCHPOINT_URL": gateway_url, "SWITCHPOINT_API_KEY": TEST_KEY})
    async with stdio.stdio_client(params) as (read, write), session_module.ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        listed = await session.call_tool("list_models", {})
        asked = await session.call_tool("ask", {"model": "test/gpt", "prompt": "Capital of the UK?"})
        compared = await session.call_tool("compare", {"prompt": "Capital of the UK?",
                                                       "models": ["test/gpt", "test/routed", "nope/missing"]})
        return {"tools": tools, "listed": listed, "asked": asked, "compared": compared}


def structured(result) -> object:
    assert not result.is_error if hasattr(result, "is_error") else not result.isError
    content = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
    if content is not None:
        return content.get("result", content) if isinstance(content, dict) and set(content) == {"result"} else content
    return json.loads(result.content[0].text)


def test_tools_reach_every_model_through_the_gateway(gateway, upstream) -> None:
    answer_everywhere(upstream)
    calls = asyncio.run(asyncio.wait_for(session_calls(gateway.url), 60))
    assert {t.name for t in calls["tools"].tools} == {"list_models", "ask", "compare"}
    models = structured(calls["listed"])
    gpt = next(m for m in models if m["id"] == "test/gpt")
    assert gpt["prompt_usd_per_million"] == pytest.approx(0.15) and gpt["completion_usd_per_million"] == pytest.approx(0.6)
    asked = structured(calls["asked"])
    assert asked["text"] == "The capital of the UK is London." and asked["provider"] == "up"
    assert asked["cost"] == pytest.approx(78 * 0.00000015 + 9 * 0.0000006)
    compared = structured(calls["compared"])
    assert [a["model"] for a in compared["answers"]] == ["test/gpt", "test/routed", "nope/missing"]
    assert compared["answers"][2]["status"] == 400 and compared["cheapest"] in ("test/gpt", "test/routed")


async def http_ask(url: str) -> object:
    streamable = pytest.importorskip("mcp.client.streamable_http")
    async with streamable.streamable_http_client(url) as streams, \
            session_module.ClientSession(streams[0], streams[1]) as session:
        await session.initialize()
        return await session.call_tool("ask", {"model": "test/routed", "prompt": "Capital of the UK?"})


def test_streamable_http_transport(gateway, upstream) -> None:
    import socket
    import subprocess
    import time

    from ..conftest import free_port

    answer_everywhere(upstream)
    port = free_port()
    env = {**os.environ, "SWITCHPOINT_URL": gateway.url, "SWITCHPOINT_API_KEY": TEST_KEY}
    server = subprocess.Popen([SWITCHPOINT, "mcp", "--transport", "http", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        result = asyncio.run(asyncio.wait_for(http_ask(f"http://127.0.0.1:{port}/mcp"), 30))
    finally:
        server.terminate()
        server.wait(10)
    answer = structured(result)
    assert answer["text"] == "The capital of the UK is London." and answer["provider"] == "router"
