from __future__ import annotations

import json

from ..dashboard.helpers import make_traffic


def test_usage_and_keys_read_the_shared_reports(invoke, gateway, upstream, monkeypatch) -> None:
    make_traffic(gateway, upstream, ok=2, failed=1)
    monkeypatch.setenv("SWITCHPOINT_DATABASE", gateway.config.database)
    monkeypatch.chdir(gateway.config.database.split("///")[1].rsplit("/", 1)[0])
    config = "switchpoint.yaml"
    by_model = json.loads(invoke("usage", "--by", "model", "--config", config, "--json").stdout)
    assert [(r["model"], r["requests"], r["errors"], r["prompt_tokens"], r["completion_tokens"])
            for r in by_model] == [("test/gpt", 3, 1, 28, 74)]
    assert abs(by_model[0]["cost"] - 2 * (14 * 0.00000015 + 37 * 0.0000006)) < 1e-12
    since = json.loads(invoke("usage", "--by", "key", "--since", "30m", "--config", config, "--json").stdout)
    assert since[0]["key"] == "test" and since[0]["requests"] == 3
    keys = json.loads(invoke("keys", "list", "--config", config, "--json").stdout)
    assert keys[0]["usage"] == by_model[0]["cost"]
