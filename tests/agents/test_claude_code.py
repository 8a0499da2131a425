"""Claude Code itself (`claude -p`, installed from npm by the test set-up) runs one task that needs a tool
call, through the gateway's Messages API, against a scripted OpenAI-compatible stand-in: the model first
asks for the Write tool, then answers. Telemetry, update checks and other outside traffic are off; HOME is a
temporary folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..conftest import TEST_KEY, Gateway
from ..upstream import Received, Reply, Upstream

AGENTS = Path(__file__).parent
CLAUDE = AGENTS / "node_modules" / ".bin" / "claude"
CONTENT = "written through switchpoint\n"
ANSWER = "The file hello.txt now holds the greeting."


@pytest.fixture(scope="module")
def claude() -> Path:
    """The Claude Code CLI, installed from the committed package-lock.json when missing."""
    if not CLAUDE.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed (scripts/system-deps.sh installs it)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=AGENTS, check=True, timeout=600)
    return CLAUDE


def openai_reply(received: Received, workdir: Path) -> Reply:
    """The stand-in model: asks for Write when it has the tool and no tool result yet, then answers;
    any other request (titles, topic checks) gets a short text."""
    body = received.json
    names = {t["function"]["name"] for t in body.get("tools") or ()}
    answered = any(m.get("role") == "tool" for m in body["messages"])
    if "Write" in names and not answered:
        arguments = json.dumps({"file_path": str(workdir / "hello.txt"), "content": CONTENT})
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_write_1", "type": "function", "function": {"name": "Write", "arguments": arguments}}]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": ANSWER if answered else "Greeting file"}
        finish = "stop"
    usage = {"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920}
    if not body.get("stream"):
        return Reply.json({"id": "chatcmpl-cc", "object": "chat.completion", "created": 1, "model": body["model"],
                           "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
    base = {"id": "chatcmpl-cc", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
    delta: dict[str, Any] = {"role": "assistant"}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{"index": 0, **message["tool_calls"][0]}]
    else:
        delta["content"] = message["content"]
    chunks = [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
              {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
              {**base, "choices": [], "usage": usage}]
    return Reply(chunks=[f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"],
                 content_type="text/event-stream")


def test_claude_code_runs_a_tool_through_the_gateway(claude: Path, make_gateway: Any, upstream: Upstream,
                                                      tmp_path: Path) -> None:
    gateway: Gateway = make_gateway(messages={"model_aliases": {"claude-*": "test/gpt"}})
    workdir = tmp_path / "project"
    workdir.mkdir()
    upstream.script("/v1/chat/completions", lambda received: openai_reply(received, workdir))
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "dumb",
           "ANTHROPIC_BASE_URL": gateway.url, "ANTHROPIC_API_KEY": TEST_KEY,
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1",
           "DISABLE_ERROR_REPORTING": "1", "DISABLE_BUG_COMMAND": "1", "NO_PROXY": "127.0.0.1,localhost"}
    run = subprocess.run([str(claude), "-p", "Create hello.txt in the current folder with a greeting.",
                          "--permission-mode", "acceptEdits", "--output-format", "json"],
                         cwd=workdir, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["result"] == ANSWER and not result["is_error"]
    assert (workdir / "hello.txt").read_text() == CONTENT  # the tool ran
    rows = gateway.ledger()
    assert rows and all(r["api_type"] == "messages" and r["status"] == "success" for r in rows)
    sent = [r.json for r in upstream.hits("/v1/chat/completions")]
    assert any(m.get("role") == "tool" and m["tool_call_id"] == "call_write_1" for b in sent for m in b["messages"])
