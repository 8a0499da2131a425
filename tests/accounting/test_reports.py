"""GET /key, /credits and /activity, and `switchpoint usage` over the same query."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .. import replies
from ..conftest import ADMIN_KEY, TEST_KEY
from .conftest import admin, chat, get, key_config


def test_key_and_credits(make_gateway: Any, upstream: Any) -> None:
    gateway = make_gateway(keys=key_config(limit=1.5, limit_reset="weekly",
                                           rate_limit={"requests": 100, "interval": 60}))
    upstream.always("/v1/chat/completions", replies.chat(1000, 1000))
    assert chat(gateway).status_code == 200
    spent = 750_000 / 1e9  # 1000 * $0.00000015 + 1000 * $0.0000006
    data = get(gateway, "/key").json()["data"]
    assert data["limit"] == 1.5 and data["limit_reset"] == "weekly"
    assert data["usage"] == data["usage_daily"] == data["usage_weekly"] == data["usage_monthly"] == spent
    assert data["limit_remaining"] == 1.5 - spent
    assert data["rate_limit"] == {"requests": 100, "interval": "60s",
                                  "note": "Deprecated by OpenRouter; requests -1 means no limit."}
    assert data["label"].startswith("sk-sp-v1-") and data["is_management_key"] is False
    assert get(gateway, "/auth/key").json() == get(gateway, "/key").json()
    assert get(gateway, "/credits").json()["data"] == {"total_credits": 1.5, "total_usage": spent}
    # nothing caps the admin's view of all spend: its credits are what was spent (never null)
    assert get(gateway, "/credits", key=ADMIN_KEY).json()["data"] == {"total_credits": spent, "total_usage": spent}
    assert get(gateway, "/key", key="sk-sp-v1-nope").status_code == 401


def test_activity_for_a_key_and_for_the_admin(gateway: Any, upstream: Any, tmp_path: Any) -> None:
    upstream.always("/v1/chat/completions", replies.chat(10, 20, reasoning=5))
    other = admin(gateway, "POST", "/keys", json={"name": "other"}).json()["key"]
    for key in (TEST_KEY, TEST_KEY, other):
        assert chat(gateway, key=key).status_code == 200
    gateway.flush()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    mine = get(gateway, "/activity").json()["data"]
    assert mine == [{"date": today, "model": "test/gpt", "model_permaslug": "test/gpt", "provider_name": "up",
                     "endpoint_id": "up:gpt-4o-mini", "usage": 27_000 / 1e9, "markup": 0.0,
                     "byok_usage_inference": 0, "requests": 2, "errors": 0, "cache_hits": 0, "prompt_tokens": 20,
                     "completion_tokens": 40, "reasoning_tokens": 10, "cached_tokens": 0}]
    everyone = get(gateway, "/activity", key=ADMIN_KEY).json()["data"]
    assert [row["requests"] for row in everyone] == [3]
    assert get(gateway, "/activity", key=ADMIN_KEY, date="2020-01-01").json()["data"] == []
    assert get(gateway, "/activity", date="yesterday").status_code == 400

    # the CLI reads the same query from the same database
    config = tmp_path / "cli.yaml"
    config.write_text(f"database: {gateway.config.database}\n")
    out = subprocess.run([str(Path(sys.executable).parent / "switchpoint"), "usage", "--by", "key", "--json",
                          "--config", str(config)], capture_output=True, text=True, check=True).stdout
    by_key = {row["key"]: (row["requests"], row["cost"]) for row in json.loads(out)}
    assert by_key == {"test": (2, 27_000 / 1e9), "other": (1, 13_500 / 1e9)}
