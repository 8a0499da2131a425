"""`switchpoint healthcheck`: is the gateway this config describes alive? For a container's
HEALTHCHECK, a systemd watchdog script or a load balancer's probe command: it asks `/healthz` of the
address the config listens on (loopback when it listens on every address), over HTTPS when
`server.tls` is set, and exits 0 on a 200, 1 otherwise.

The certificate is not checked: the probe runs beside the gateway and only asks whether it answers
(the certificate names the public host, not the loopback address the probe uses)."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

import click

from .common import load_or_exit

ANY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1"}


def probe_url(host: str, port: int, tls: bool) -> str:
    host = ANY_ADDRESS.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}/healthz"


@click.command()
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--url", help="Ask this URL instead of the config's address (e.g. https://gw.example/healthz).")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for the answer.")
def healthcheck(config_path: str | None, url: str | None, timeout: float) -> None:
    """Exit 0 when the gateway answers /healthz with 200, else 1 (for HEALTHCHECK and probes)."""
    if url is None:
        config = load_or_exit(config_path)
        url = probe_url(config.host, config.port, config.server.tls is not None)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise click.ClickException(f"{url}: {reason}") from None
    if status != 200:
        raise click.ClickException(f"{url}: HTTP {status}")
    click.echo(f"ok {url}")
