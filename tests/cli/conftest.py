"""Command-line tests run the real commands (click's CliRunner) against a real gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from switchpoint.cli.main import cli

from ..conftest import ADMIN_KEY, TEST_KEY, Gateway
from ..upstream import Reply, Upstream

STREAM = "openai/chat_stream_text_usage.sse"
PATHS = {"up": "/v1/chat/completions", "backup": "/backup/v1/chat/completions",
         "router": "/or/api/v1/chat/completions"}


def answer_everywhere(upstream: Upstream, pause: float = 0.0) -> None:
    for path in PATHS.values():
        upstream.always(path, Reply.sse(STREAM, pause=pause))


@pytest.fixture
def invoke(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    monkeypatch.setenv("SWITCHPOINT_URL", gateway.url)
    monkeypatch.setenv("SWITCHPOINT_API_KEY", TEST_KEY)
    monkeypatch.setenv("SWITCHPOINT_ADMIN_KEY", ADMIN_KEY)
    runner = CliRunner()

    def run(*args: str, input: str | None = None):  # noqa: A002 - click's name
        return runner.invoke(cli, list(args), input=input, catch_exceptions=False)

    yield run
