"""The interactive commands in a real terminal (a pty driven by pexpect): streaming output, the live
progress display, prompts and line editing."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from ..conftest import ADMIN_KEY, TEST_KEY
from .conftest import answer_everywhere

pexpect = pytest.importorskip("pexpect")
SWITCHPOINT = str(Path(sys.executable).parent / "switchpoint")


def spawn(gateway, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
    environment = {**os.environ, "SWITCHPOINT_URL": gateway.url if gateway else "", "SWITCHPOINT_API_KEY": TEST_KEY,
                   "SWITCHPOINT_ADMIN_KEY": ADMIN_KEY, "COLUMNS": "120", "LINES": "40", "TERM": "xterm",
                   **(env or {})}
    return pexpect.spawn(SWITCHPOINT, list(args), env=environment, cwd=str(cwd) if cwd else None,
                         encoding="utf-8", timeout=30, dimensions=(40, 120))


def at_prompt(child, pattern: str) -> None:
    """Wait for the prompt, then for line editing to take over the terminal: keys typed while it
    switches the terminal's mode can be discarded."""
    child.expect(pattern)
    time.sleep(0.3)


def test_chat_in_a_terminal(gateway, upstream) -> None:
    answer_everywhere(upstream)
    child = spawn(gateway, "chat", "-m", "test/gpt")
    at_prompt(child, "test/gpt.*›")
    child.sendline("Capital of the UK?")
    child.expect("The capital of the UK is London.")
    child.expect(r"\$0\.000017 this turn")
    at_prompt(child, "test/gpt.*›")
    child.sendline("/model test/routed")
    child.expect("now talking to")
    at_prompt(child, "test/routed.*›")
    child.sendline("And France?")
    child.expect("via router")
    at_prompt(child, "test/routed.*›")  # an early Ctrl-D would reach the tty before readline
    child.sendeof()
    child.expect(r"2 turns · \$0\.000034")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_compare_live_display_in_a_terminal(gateway, upstream) -> None:
    answer_everywhere(upstream, pause=0.05)
    child = spawn(gateway, "compare", "Capital of the UK?", "-m", "test/gpt", "-m", "test/routed")
    child.expect("streaming|waiting")  # the live progress table, redrawn while the answers arrive
    child.expect("fastest")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_init_wizard_in_a_terminal(tmp_path: Path) -> None:
    child = spawn(None, "init", "--dir", str(tmp_path), cwd=tmp_path,
                  env={"OPENAI_API_KEY": "", "SWITCHPOINT_ADMIN_KEY": ""})
    child.expect(r"Providers to enable \(comma-separated\)")
    child.sendline("openai")
    child.expect("Listen on")
    child.sendline("")
    child.expect("Ledger database")
    child.sendline("")
    child.expect(r"openai API key \(OPENAI_API_KEY\)")
    child.sendline("sk-typed-in-terminal")
    child.expect("1 providers, 0 models")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "OPENAI_API_KEY=sk-typed-in-terminal" in (tmp_path / ".env").read_text()


def test_ctrl_c_stops_the_answer_not_the_chat(gateway, upstream) -> None:
    answer_everywhere(upstream, pause=0.5)  # an answer that takes several seconds
    child = spawn(gateway, "chat", "-m", "test/gpt")
    at_prompt(child, "test/gpt.*›")
    child.sendline("Capital of the UK?")
    child.expect("The capital")
    child.sendintr()
    child.expect("answer stopped")
    at_prompt(child, "test/gpt.*›")
    child.sendline("/cost")
    child.expect(r"0 turns · \$0\.000000")
    at_prompt(child, "test/gpt.*›")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
