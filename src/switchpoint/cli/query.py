"""`switchpoint query` and `switchpoint models`: talk to a running gateway."""

from __future__ import annotations

from decimal import Decimal

import click
from rich.table import Table

from .common import api_key, call, console, err_console, print_json, stream


@click.command()
@click.argument("prompt")
@click.option("-m", "--model", required=True, help="Model id, e.g. openai/gpt-4o-mini.")
@click.option("-s", "--system", help="System prompt.")
@click.option("--stream/--no-stream", default=True, show_default=True, help="Stream the answer as it arrives.")
@click.option("--max-tokens", type=int, help="Upper bound on output tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print the full response as JSON.")
def query(prompt: str, model: str, system: str | None, stream: bool, max_tokens: int | None, as_json: bool) -> None:
    """Send PROMPT to MODEL through the gateway (SWITCHPOINT_URL, SWITCHPOINT_API_KEY)."""
    key = api_key()
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    body: dict = {"model": model, "messages": messages}
    if max_tokens:
        body["max_tokens"] = max_tokens
    if as_json or not stream:
        response = call("POST", "/api/v1/chat/completions", body, key)
        if as_json:
            print_json(response)
            return
        message = response["choices"][0]["message"]
        click.echo(message.get("content") or "")
        _footer(response.get("model"), response.get("provider"), response.get("usage"))
        return
    body["stream"] = True
    served = provider = usage = None
    for chunk in stream_chunks(body, key):
        served, provider = chunk.get("model"), chunk.get("provider")
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                click.echo(text, nl=False)
    click.echo()
    _footer(served, provider, usage)


def stream_chunks(body: dict, key: str | None):  # noqa: ANN201 - generator passthrough
    return stream("/api/v1/chat/completions", body, key)


def _footer(model: str | None, provider: str | None, usage: dict | None) -> None:
    if not usage:
        return
    cost = Decimal(str(usage.get("cost") or 0))
    err_console.print(f"[dim]{model} via {provider} · {usage.get('prompt_tokens')} in / "
                      f"{usage.get('completion_tokens')} out · ${cost:.6f}[/dim]", highlight=False)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
@click.option("-q", "--query", "search", help="Only models whose id or name contains this.")
def models(as_json: bool, search: str | None) -> None:
    """The model catalogue of a running gateway, with prices and context lengths."""
    data = call("GET", "/api/v1/models?output_modalities=all", key=api_key(required=False))["data"]
    if search:
        data = [m for m in data if search.lower() in (m["id"] + m["name"]).lower()]
    if as_json:
        print_json(data)
        return
    table = Table(box=None, header_style="bold")
    for column, justify in (("model", "left"), ("context", "right"), ("$/M in", "right"), ("$/M out", "right"),
                            ("endpoints", "right")):
        table.add_column(column, justify=justify)
    for model in data:
        pricing = model["pricing"]
        table.add_row(model["id"], f"{model['context_length'] or '-':,}" if model["context_length"] else "-",
                      _per_million(pricing.get("prompt")), _per_million(pricing.get("completion")),
                      str(model.get("endpoints", "")))
    console.print(table)
    console.print(f"[dim]{len(data)} models[/dim]")


def _per_million(value: str | None) -> str:
    if value is None:
        return "-"
    amount = Decimal(value) * 1_000_000
    if amount < 0:  # OpenRouter's "-1": priced per request by the model it routes to (switchpoint/auto)
        return "varies"
    return "free" if amount == 0 else f"{amount:.2f}"
