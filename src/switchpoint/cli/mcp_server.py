"""`switchpoint mcp`: a Model Context Protocol server whose tools reach every model of the gateway, so
a desktop assistant configured with this one server can ask, compare and price them all. Runs over
stdio (the default) or streamable HTTP. Needs the optional `mcp` package: pip install switchpoint[mcp]."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click

from .client import Gateway
from .common import api_key, gateway_url
from .compare import ask_all, messages

INSTRUCTIONS = ("Tools of a Switchpoint LLM gateway: list_models shows every model with its price; ask sends a "
                "prompt to one model; compare sends the same prompt to several models at once and reports "
                "answers, latency, tokens and cost.")


def per_million(price: str | None) -> float | None:
    return float(Decimal(price) * 1_000_000) if price is not None else None


async def list_models(search: str | None = None) -> list[dict[str, Any]]:
    """Every chat model the gateway serves, with context length and USD per million tokens."""
    async with Gateway() as gateway:
        data = (await gateway.get("/api/v1/models"))["data"]
    out = []
    for model in data:
        if search and search.lower() not in (model["id"] + model["name"]).lower():
            continue
        out.append({"id": model["id"], "name": model["name"], "context_length": model["context_length"],
                    "prompt_usd_per_million": per_million(model["pricing"].get("prompt")),
                    "completion_usd_per_million": per_million(model["pricing"].get("completion")),
                    "endpoints": model.get("endpoints")})
    return out


async def ask(model: str, prompt: str, system: str | None = None, max_tokens: int | None = None) -> dict[str, Any]:
    """Send one prompt to one model; returns its answer with tokens, cost (USD) and latency."""
    (answer,) = await ask_all([model], body(prompt, system, max_tokens))
    return answer.as_dict()


async def compare(prompt: str, models: list[str], system: str | None = None,
                  max_tokens: int | None = None) -> dict[str, Any]:
    """Send the same prompt to several models at once; returns every answer side by side with latency,
    tokens and cost, and which was fastest and cheapest."""
    answers = await ask_all(list(dict.fromkeys(models)), body(prompt, system, max_tokens))
    ok = [a for a in answers if a.ok]
    return {"answers": [a.as_dict() for a in answers],
            "fastest": min(ok, key=lambda a: a.latency_s or 0).model if ok else None,
            "cheapest": min(ok, key=lambda a: a.cost).model if ok else None}


def body(prompt: str, system: str | None, max_tokens: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {"messages": messages(prompt, system)}
    if max_tokens:
        out["max_tokens"] = max_tokens
    return out


def build_server() -> Any:
    try:
        from mcp.server.mcpserver import MCPServer  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise click.ClickException("the MCP server needs the mcp package: pip install 'switchpoint[mcp]'") from None
    server = MCPServer("switchpoint", instructions=INSTRUCTIONS)
    for tool in (list_models, ask, compare):
        server.add_tool(tool)
    return server


@click.command("mcp")
@click.option("--transport", type=click.Choice(["stdio", "http"]), default="stdio", show_default=True,
              help="stdio for a desktop assistant that starts the server; http for streamable HTTP at /mcp.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address for --transport http.")
@click.option("--port", type=int, default=8765, show_default=True, help="Port for --transport http.")
def mcp_command(transport: str, host: str, port: int) -> None:
    """Serve the gateway's models as MCP tools (list_models, ask, compare) through SWITCHPOINT_URL with
    SWITCHPOINT_API_KEY."""
    api_key()
    server = build_server()
    if transport == "stdio":
        server.run("stdio")
    else:
        click.echo(f"MCP over streamable HTTP at http://{host}:{port}/mcp (gateway {gateway_url()})", err=True)
        server.run("streamable-http", host=host, port=port)

