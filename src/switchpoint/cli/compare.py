"""`switchpoint compare`: one prompt, several models at once, answers side by side."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click
from rich.columns import Columns
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from .client import Answer, Gateway
from .common import api_key, console, print_json, run


def messages(prompt: str, system: str | None) -> list[dict[str, str]]:
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]


async def ask_all(models: list[str], body: dict[str, Any], live: Live | None = None) -> list[Answer]:
    """Send `body` to every model concurrently; redraw `live` while they stream."""
    progress: dict[str, Answer | None] = dict.fromkeys(models)
    partial = {m: Answer(model=m) for m in models}
    started = time.perf_counter()

    def seen(model: str) -> Any:
        def on_text(text: str) -> None:
            partial[model].text += text
            if partial[model].ttft_s is None:
                partial[model].ttft_s = time.perf_counter() - started
        return on_text

    async with Gateway() as gateway:
        async def one(model: str) -> Answer:
            answer = await gateway.chat({**body, "model": model}, seen(model))
            progress[model] = answer
            return answer

        tasks = [asyncio.ensure_future(one(m)) for m in models]
        while live is not None and not all(t.done() for t in tasks):
            live.update(progress_table(models, progress, partial, time.perf_counter() - started))
            await asyncio.wait(tasks, timeout=0.1)
        answers = list(await asyncio.gather(*tasks))
    if live is not None:
        live.update(progress_table(models, progress, partial, time.perf_counter() - started))
    return answers


def progress_table(models: list[str], done: dict[str, Answer | None], partial: dict[str, Answer],
                   elapsed: float) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column, justify in (("", "left"), ("model", "left"), ("status", "left"), ("first token", "right"),
                            ("chars", "right"), ("time", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for model in models:
        answer, now = done[model], partial[model]
        if answer is None:
            icon: Any = Spinner("dots", style="cyan")
            status = "streaming" if now.text else "waiting"
            seconds = elapsed
        else:
            icon = Text("✓", style="green") if answer.ok else Text("✗", style="red")
            status = "done" if answer.ok else "failed"
            seconds = answer.latency_s or 0
        ttft = now.ttft_s if answer is None else answer.ttft_s
        table.add_row(icon, model, status, f"{ttft:.2f}s" if ttft is not None else "-", f"{len(now.text):,}",
                      f"{seconds:.1f}s")
    return table


def side_by_side(answers: list[Answer]) -> None:
    panels = []
    for answer in answers:
        if answer.ok:
            body: Any = Text(answer.text.strip() or "(empty answer)")
            subtitle = f"via {answer.provider} · {answer.latency_s:.2f}s · ${answer.cost:.6f}"
            style = "cyan"
        else:
            body = Text(answer.error or "failed", style="red")
            subtitle, style = "failed", "red"
        panels.append(Panel(body, title=f"[bold]{answer.model}[/bold]", subtitle=subtitle, border_style=style,
                            padding=(0, 1)))
    width = max(30, console.width // max(1, min(3, len(panels))) - 1)
    console.print(Columns(panels, width=width, equal=True))
    console.print(summary(answers))


def summary(answers: list[Answer]) -> Table:
    ok = [a for a in answers if a.ok]
    fastest = min(ok, key=lambda a: a.latency_s or 0, default=None)
    cheapest = min(ok, key=lambda a: a.cost, default=None)
    table = Table(header_style="bold", box=None)
    for column, justify in (("model", "left"), ("provider", "left"), ("latency", "right"),
                            ("first token", "right"), ("tokens in", "right"), ("tokens out", "right"),
                            ("cost", "right"), ("", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for a in answers:
        notes = []
        if a is fastest and len(ok) > 1:
            notes.append("[green]fastest[/green]")
        if a is cheapest and len(ok) > 1:
            notes.append("[green]cheapest[/green]")
        if not a.ok:
            notes.append("[red]failed[/red]")
        table.add_row(a.model, a.provider or "-", f"{a.latency_s:.2f}s" if a.latency_s is not None else "-",
                      f"{a.ttft_s:.2f}s" if a.ttft_s is not None else "-", f"{a.prompt_tokens:,}",
                      f"{a.completion_tokens:,}", f"${a.cost:.6f}", " ".join(notes))
    return table


@click.command()
@click.argument("prompt")
@click.option("-m", "--model", "models", multiple=True, required=True,
              help="A model to ask; repeat for each (-m A -m B -m C).")
@click.option("-s", "--system", help="System prompt.")
@click.option("--max-tokens", type=int, help="Upper bound on output tokens for every model.")
@click.option("--temperature", type=float, help="Sampling temperature for every model.")
@click.option("--json", "as_json", is_flag=True, help="Print the answers and their figures as JSON.")
def compare(prompt: str, models: tuple[str, ...], system: str | None, max_tokens: int | None,
            temperature: float | None, as_json: bool) -> None:
    """Send PROMPT to several models at once through the gateway and compare their answers, latency,
    tokens and cost side by side. Exits 1 when every model failed."""
    api_key()
    body: dict[str, Any] = {"messages": messages(prompt, system)}
    if max_tokens:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    unique = list(dict.fromkeys(models))
    if as_json or not console.is_terminal:
        answers = run(ask_all(unique, body))
    else:
        with Live(console=console, refresh_per_second=10, transient=True) as live:
            answers = run(ask_all(unique, body, live))
    if as_json:
        print_json({"prompt": prompt, "answers": [a.as_dict() for a in answers]})
    else:
        side_by_side(answers)
    if not any(a.ok for a in answers):
        raise SystemExit(1)
