"""`switchpoint status`: is each configured provider up? A one-token request to a few of its models,
pinned to that provider, through the running gateway; plus its circuit state when the admin key is set."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import click
from rich.table import Table

from .client import Answer, Gateway, GatewayError
from .common import api_key, console, print_json, run


@dataclass
class ProviderStatus:
    name: str
    probes: list[Answer] = field(default_factory=list)
    circuits: dict[str, str] = field(default_factory=dict)

    @property
    def up(self) -> bool:
        return any(p.ok for p in self.probes)

    @property
    def key(self) -> str:
        if self.up:
            return "accepted"
        if self.probes and all(p.error_provider and p.error_type == "authentication" for p in self.probes):
            return "rejected"  # the provider refused the gateway's credentials for it
        return "unknown"

    @property
    def latency_s(self) -> float | None:
        return min((p.latency_s for p in self.probes if p.ok and p.latency_s is not None), default=None)

    @property
    def circuit(self) -> str:
        states = set(self.circuits.values())
        for state in ("open", "half_open"):
            if state in states:
                return state
        return "closed" if states else "n/a"

    def as_dict(self) -> dict[str, Any]:
        return {"provider": self.name, "up": self.up, "key": self.key, "latency_s": self.latency_s,
                "circuit": self.circuit, "models": [{"model": p.model, "ok": p.ok, "latency_s": p.latency_s,
                                                     "error": p.error} for p in self.probes]}


async def endpoints_by_provider(gateway: Gateway) -> dict[str, list[str]]:
    """provider -> the chat models it serves, from the gateway's catalogue."""
    models = (await gateway.get("/api/v1/models"))["data"]
    details = await asyncio.gather(*(gateway.get(f"/api/v1/models/{m['id']}/endpoints") for m in models))
    served: dict[str, list[str]] = defaultdict(list)
    for detail in details:
        for endpoint in detail["data"]["endpoints"]:
            served[endpoint["provider_name"]].append(detail["data"]["id"])
    return dict(sorted(served.items()))


async def circuits(gateway: Gateway, admin_key: str | None) -> dict[tuple[str, str], str]:
    if not admin_key:
        return {}
    try:
        rows = (await gateway.get("/dashboard/api/endpoints", key=admin_key))["endpoints"]
    except GatewayError:
        return {}
    return {(r["provider"], r["model"]): r["live"]["circuit"] for r in rows}


async def check_key(gateway: Gateway) -> None:
    """The gateway must accept SWITCHPOINT_API_KEY, else every probe fails for that one reason."""
    try:
        await gateway.get("/api/v1/key")
    except GatewayError as exc:
        if exc.status not in (401, 403):
            raise
        raise click.ClickException(
            f"the gateway at {gateway.url} refused SWITCHPOINT_API_KEY ({exc.message}). That is the key of "
            "the gateway, not of a provider: use one from `switchpoint keys create NAME` or `switchpoint keys "
            "list`, for the gateway SWITCHPOINT_URL names.") from None


async def probe(per_provider: int, only: tuple[str, ...]) -> list[ProviderStatus]:
    async with Gateway(timeout=60) as gateway:
        await check_key(gateway)
        served = await endpoints_by_provider(gateway)
        unknown = [name for name in only if name not in served]
        if unknown:
            raise click.ClickException(f"no provider {', '.join(unknown)} with models on the gateway; it has "
                                       f"{', '.join(served) or 'none'}")
        states = await circuits(gateway, os.environ.get("SWITCHPOINT_ADMIN_KEY"))
        statuses = {name: ProviderStatus(name) for name in served if not only or name in only}
        body = {"messages": [{"role": "user", "content": "Reply with OK."}], "max_tokens": 1}
        jobs = []
        for name, status in statuses.items():
            for model in served[name][:per_provider]:
                jobs.append((status, gateway.chat({**body, "model": model,
                                                   "provider": {"only": [name], "allow_fallbacks": False}})))
            status.circuits = {m: s for (p, m), s in states.items() if p == name}
        for (status, _), answer in zip(jobs, await asyncio.gather(*(j for _, j in jobs)), strict=True):
            status.probes.append(answer)
    return list(statuses.values())


def render(statuses: list[ProviderStatus]) -> None:
    table = Table(header_style="bold", box=None)
    for column in ("provider", "status", "key", "models answering", "latency", "circuit"):
        table.add_column(column)
    for s in statuses:
        answering = [p.model for p in s.probes if p.ok]
        failing = [p for p in s.probes if not p.ok]
        models = f"{len(answering)}/{len(s.probes)} " + ", ".join(answering)
        if failing:
            origin = "" if failing[0].error_provider else "refused by the gateway: "
            models += f"\n[dim]{failing[0].model}: {origin}{failing[0].error}[/dim]"
        circuit_style = {"open": "red", "half_open": "yellow", "closed": "green"}.get(s.circuit, "dim")
        table.add_row(s.name, "[green]up[/green]" if s.up else "[red]down[/red]",
                      {"accepted": "[green]accepted[/green]", "rejected": "[red]rejected[/red]"}.get(s.key, "?"),
                      models, f"{s.latency_s * 1000:.0f} ms" if s.latency_s is not None else "-",
                      f"[{circuit_style}]{s.circuit}[/{circuit_style}]")
    console.print(table)


@click.command()
@click.option("--models", "per_provider", type=int, default=2, show_default=True,
              help="How many of each provider's models to try.")
@click.option("-p", "--provider", "only", multiple=True, help="Only this provider (repeatable).")
@click.option("--json", "as_json", is_flag=True)
def status(per_provider: int, only: tuple[str, ...], as_json: bool) -> None:
    """For each provider of the running gateway: is its key accepted, which models answer, how long a
    one-token request takes, and its circuit state (with SWITCHPOINT_ADMIN_KEY). Exits 1 if any is down."""
    api_key()
    try:
        statuses = run(probe(per_provider, only))
    except GatewayError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        print_json([s.as_dict() for s in statuses])
    elif statuses:
        render(statuses)
    else:
        console.print("[yellow]The gateway has no providers with models.[/yellow]")
    if any(not s.up for s in statuses):
        raise SystemExit(1)
