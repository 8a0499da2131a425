"""Run TensorZero's gateway, embedded in its PyPI wheel, as an HTTP server; print its base URL.

Uses the wheel's internal `_start_http_gateway` (present in 2026.6.0). The port is random.
    python tz_serve.py tensorzero.toml
"""

import signal
import sys

import tensorzero

gateway = tensorzero._start_http_gateway(config_file=sys.argv[1], clickhouse_url=None, postgres_url=None,
                                         valkey_url=None, async_setup=False)
print(gateway.base_url, flush=True)
signal.pause()
