"""Codex CLI itself (`codex exec`, installed from npm by the test set-up into tests/agents/codex) runs one
task that needs a tool call, through the gateway's Responses API (a custom model provider with
wire_api = "responses"), against a scripted OpenAI-compatible chat stand-in: the model first asks to run
a shell command, then answers. CODEX_HOME and HOME are temporary folders; analytics, feedback and update
checks are off, and the only reachable server is the gateway on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..conftest import TEST_KEY, Gateway
from ..server.scripted_models import ANSWER, ScriptedModel
from ..upstream import Received, Upstream

CODEX_DIR = Path(__file__).parent / "codex"
CODEX = CODEX_DIR / "node_modules" / ".bin" / "codex"
PROOF = "ran through switchpoint"
SHELL_TOOLS = ("shell", "shell_command", "exec_command", "local_shell")


@pytest.fixture(scope="module")
def codex() -> Path:
    """The Codex CLI, installed from the committed package-lock.json when missing."""
    if not CODEX.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed (scripts/system-deps.sh installs it)")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CODEX_DIR, check=True, timeout=600)
    return CODEX


def shell_tool(names: list[str]) -> str | None:
    return next((n for n in names if n in SHELL_TOOLS), None)


def shell_arguments(name: str, received: Received) -> dict[str, Any]:
    """Each of Codex's shell tools takes the command its own way."""
    command = f"echo '{PROOF}' > proof.txt"
    if name == "shell":
        return {"command": ["bash", "-lc", command]}
    if name == "exec_command":
        return {"cmd": command}
    return {"command": command}


def config_toml(gateway: Gateway) -> str:
    return f'''model = "test/gpt"
model_provider = "switchpoint"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false
web_search = "disabled"  # a hosted tool: only an endpoint serving the Responses API itself runs it

[model_providers.switchpoint]
name = "Switchpoint"
base_url = "{gateway.url}/api/v1"
env_key = "SWITCHPOINT_API_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[feedback]
enabled = false
'''


def run_codex(codex: Path, gateway: Gateway, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    workdir = tmp_path / "project"
    workdir.mkdir()
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex" / "config.toml").write_text(config_toml(gateway))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "CODEX_HOME": str(home / ".codex"),
           "SWITCHPOINT_API_KEY": TEST_KEY, "TERM": "dumb", "NO_COLOR": "1", "RUST_LOG": "error",
           "NO_PROXY": "127.0.0.1,localhost", "CODEX_DISABLE_TELEMETRY": "1"}
    run = subprocess.run([str(codex), "exec", "--skip-git-repo-check", "--json", "--color", "never",
                          "Run a shell command that writes a proof file, then tell me it is done."],
                         cwd=workdir, env=env, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    return run, workdir


def test_codex_runs_a_shell_command_through_the_gateway(codex: Path, make_gateway: Any, upstream: Upstream,
                                                        tmp_path: Path) -> None:
    gateway: Gateway = make_gateway()
    ScriptedModel(shell_arguments, shell_tool).install(upstream)
    run, workdir = run_codex(codex, gateway, tmp_path)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert (workdir / "proof.txt").read_text().strip() == PROOF  # the tool ran
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    messages = [e["item"].get("text") for e in events if e.get("type") == "item.completed"
                and e["item"].get("type") == "agent_message"]
    assert ANSWER in messages  # the final answer arrived
    rows = gateway.ledger()
    assert len(rows) >= 2 and all(r["api_type"] == "responses" and r["status"] == "success" for r in rows)
    sent = [r.json for r in upstream.hits("/v1/chat/completions")]
    assert any(m.get("role") == "tool" and m["tool_call_id"] == "call_1" for b in sent for m in b["messages"])
    first = sent[0]
    assert first["stream"] is True and any(t["function"]["name"] == "exec_command" for t in first["tools"])
