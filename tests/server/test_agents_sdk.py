"""The OpenAI Agents SDK (`openai-agents`) with its default model, the Responses one, through the gateway:
an agent with a function tool, run and streamed, against OpenAI-compatible, Anthropic and Gemini
endpoints of the scripted stand-in. Tracing export is off."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from openai import AsyncOpenAI

from agents import Agent, OpenAIProvider, RunConfig, Runner, function_tool, set_tracing_disabled

from ..conftest import TEST_KEY, Gateway
from ..upstream import Upstream
from .scripted_models import ANSWER, SIGNATURE
from .test_responses_sdk import MODELS, upstream_bodies
from .test_responses_sdk import gateway as responses_gateway  # noqa: F401 - the same endpoints

set_tracing_disabled(True)
CALLS: list[str] = []


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    CALLS.append(city)
    return f"sunny in {city}"


@pytest.fixture
def gateway(responses_gateway: Gateway) -> Gateway:  # noqa: F811
    return responses_gateway


async def run(agent: Agent[Any], gateway: Gateway, streamed: bool) -> tuple[str, list[str]]:
    async with AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=TEST_KEY, max_retries=0, timeout=20) as client:
        config = RunConfig(model_provider=OpenAIProvider(openai_client=client, use_responses=True),
                           tracing_disabled=True)
        if not streamed:
            result = await Runner.run(agent, "Weather in Paris?", run_config=config)
            return str(result.final_output), []
        stream = Runner.run_streamed(agent, "Weather in Paris?", run_config=config)
        kinds = [event.type async for event in stream.stream_events()]
        return str(stream.final_output), kinds


@pytest.mark.parametrize("kind", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("streamed", [False, True])
def test_agent_with_a_function_tool(gateway: Gateway, upstream: Upstream, kind: str, streamed: bool) -> None:
    CALLS.clear()
    agent = Agent(name="weather", instructions="Answer with the tool's help.", model=MODELS[kind],
                  tools=[get_weather])
    output, kinds = asyncio.run(run(agent, gateway, streamed))
    assert output == ANSWER
    assert CALLS == ["Paris"]
    if streamed:
        assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    rows = gateway.ledger()
    assert len(rows) == 2 and all(r["api_type"] == "responses" and r["streamed"] == streamed for r in rows)
    later = json.dumps(upstream_bodies(upstream, kind)[-1])
    assert "sunny in Paris" in later
    if kind == "anthropic":  # the thinking signature came back through the agent's own history
        assert SIGNATURE in later


