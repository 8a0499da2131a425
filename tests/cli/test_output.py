"""What the commands print does not depend on the terminal they might have had: output that is not a
terminal is never wrapped and has no colours."""

from __future__ import annotations

import io

import pytest
from rich.table import Table

from switchpoint.cli.common import CliConsole


@pytest.mark.parametrize("env", [{"FORCE_COLOR": "1", "COLUMNS": "40"}, {"TERM": "dumb", "COLUMNS": "20"},
                                 {"TTY_COMPATIBLE": "1", "COLUMNS": "30"}])
def test_output_to_a_file_is_plain_and_unwrapped(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    console = CliConsole(file=out)
    sentence = " ".join(["word"] * 30)
    console.print(f"[red]error[/red] {sentence}")
    table = Table(box=None)
    table.add_column("model")
    table.add_column("description")
    table.add_row("vendor/a-model-with-a-long-name", sentence)
    console.print(table)
    lines = out.getvalue().splitlines()
    assert "\x1b" not in out.getvalue()
    assert lines[0] == f"error {sentence}"
    assert [line.split() for line in lines[1:]] == [["model", "description"],
                                                     ["vendor/a-model-with-a-long-name", *sentence.split()]]
