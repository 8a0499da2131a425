"""`switchpoint reload`: ask the running gateway to re-read switchpoint.yaml (the same as SIGHUP), and
report what it applied, what needs a restart, or why it refused the file."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import click

from .common import gateway_url, load_or_exit


@click.command()
@click.option("--config", "config_path", help="Path to switchpoint.yaml (for its admin_key and listen address).")
def reload(config_path: str | None) -> None:
    """Reload the running gateway's configuration (providers, models, keys, limits) without a restart.
    Needs the admin key ($SWITCHPOINT_ADMIN_KEY or admin_key in the config). Exit 1 if it was refused."""
    if config_path:
        os.environ["SWITCHPOINT_CONFIG"] = config_path  # its listen address, unless $SWITCHPOINT_URL
    admin_key = os.environ.get("SWITCHPOINT_ADMIN_KEY") or load_or_exit(config_path).admin_key
    if not admin_key:
        raise click.ClickException("set SWITCHPOINT_ADMIN_KEY (or admin_key in switchpoint.yaml): reloading needs it")
    url = gateway_url() + "/api/v1/admin/reload"
    request = urllib.request.Request(url, data=b"{}", method="POST", headers={
        "authorization": f"Bearer {admin_key}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            result = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        error = _error(exc)
        for problem in error.get("metadata", {}).get("problems", []):
            click.echo(f"{click.style('error', fg='red')} {problem['field']}: {problem['problem']}", err=True)
        raise click.ClickException(f"reload refused ({exc.code}): {error.get('message', 'no message')}") from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach the gateway at {gateway_url()}: {exc.reason}. "
                                   "Is `switchpoint serve` running? (set SWITCHPOINT_URL)") from None
    for warning in result.get("warnings", []):
        click.echo(f"{click.style('warning', fg='yellow')} {warning}", err=True)
    for setting in result.get("restart_needed", []):
        click.echo(f"{click.style('warning', fg='yellow')} {setting} changed: needs a restart (the running value "
                   "is kept until then)", err=True)
    click.echo(f"reloaded {result['config']}")


def _error(exc: urllib.error.HTTPError) -> dict:
    try:
        return json.loads(exc.read()).get("error", {})
    except ValueError:
        return {"message": f"HTTP {exc.code}"}
