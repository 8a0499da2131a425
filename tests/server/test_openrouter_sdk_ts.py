"""OpenRouter's official TypeScript SDK (npm `@openrouter/sdk`, pinned in tests/sdk_ts) against the
gateway: tests/sdk_ts/run.mjs calls every SDK method that maps to a route the gateway serves, and the
SDK validates each answer against OpenRouter's schema (zod), so any field left out or mistyped fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..conftest import ADMIN_KEY, TEST_KEY
from ..upstream import Upstream
from .test_openrouter_sdk import LIMITED_KEY, sdk_gateway

EXTERNAL_KEY = "partner-chosen-key-" + "5f3a9c" * 6
SDK_DIR = Path(__file__).resolve().parent.parent / "sdk_ts"
# The SDK's postinstall script fetches openrouter.ai's model list: scripts never run here
# (--ignore-scripts, and .npmrc), and these variables turn the check off for anyone installing by hand.
QUIET_ENV = {"OPENROUTER_SKIP_TYPE_CHECK": "1", "CI": "1", "npm_config_update_notifier": "false"}


@pytest.fixture(scope="module")
def node() -> str:
    """Node with the pinned SDK installed (`npm ci` from the lockfile when node_modules is missing)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed for the TypeScript SDK tests (Debian: nodejs, npm)")
    if not (SDK_DIR / "node_modules" / "@openrouter" / "sdk").is_dir():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=SDK_DIR,
                              env={**os.environ, **QUIET_ENV}, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            pytest.fail(f"npm ci in {SDK_DIR} failed:\n{done.stdout}{done.stderr}")
    return node


def run_sdk(node: str, plan: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([node, "run.mjs", json.dumps(plan)], cwd=SDK_DIR, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **QUIET_ENV})
    assert done.stdout, f"run.mjs printed nothing (exit {done.returncode}): {done.stderr}"
    results: dict[str, Any] = json.loads(done.stdout)
    failures = {name: r for name, r in results.items() if "error" in r}
    assert not failures, "\n\n".join(f"{name}: {r['error']}: {r['message']}" for name, r in failures.items())
    assert done.returncode == 0, done.stderr
    return {name: r.get("ok", r) for name, r in results.items()}


def test_every_method_of_the_typescript_sdk(node: str, make_gateway: Any, upstream: Upstream) -> None:
    gateway, failed = sdk_gateway(make_gateway, upstream)
    out = run_sdk(node, {"url": gateway.url, "key": TEST_KEY, "limitedKey": LIMITED_KEY, "adminKey": ADMIN_KEY,
                         "failedGeneration": failed,
                         "chatModel": "test/gpt", "embedModel": "test/embed", "bareModel": ["test", "bare"],
                         "externalKey": EXTERNAL_KEY})

    assert out["chat.send"]["choices"][0]["message"]["content"]
    listed = [m["id"] for page in out["models.list"] for m in page["data"]]
    assert "mini" in listed  # an alias row passes the SDK's schema
    assert listed == [m["id"] for page in out["models.list(limit=1)"] for m in page["data"]]
    assert [len(page["data"]) for page in out["models.list(limit=1)"]] == [1] * len(listed) + [0]  # the SDK's end
    assert out["models.count"]["data"]["count"] == len(listed)
    assert [m["id"] for page in out["models.listForUser"] for m in page["data"]] == listed
    bare = out["endpoints.list(bare model)"]["data"]["endpoints"][0]
    assert isinstance(bare["contextLength"], int) and bare["contextLength"] > 0
    assert {p["slug"] for p in out["providers.list"]["data"]} == {"up", "backup", "router"}
    assert out["models.get(unknown)"]["status"] == 404 and out["chat.send(wrong key)"]["status"] == 401

    unlimited = out["credits.getCredits"]["data"]
    assert unlimited["totalCredits"] == unlimited["totalUsage"] > 0
    assert out["credits.getCredits(limited)"]["data"] == {"totalCredits": 2.5, "totalUsage": 0}
    rows = out["analytics.getUserActivity(admin)"]["data"]
    assert sum(r["requests"] for r in rows) == 4, rows
    assert {r["providerName"] for r in rows} == {"up", ""}

    created = out["apiKeys.create"]
    assert created["key"].startswith("sk-sp-v1-") and created["data"]["limit"] == 3
    assert created["data"]["updatedAt"] is None
    assert out["apiKeys.update"]["data"]["name"] == "renamed" and out["apiKeys.update"]["data"]["updatedAt"]
    assert out["apiKeys.get(deleted)"]["status"] == 404
    external = out["apiKeys.create(external)"]
    assert (external["key"], external["data"]["externalUser"]) == (EXTERNAL_KEY, "end-user-7")
    assert external["data"]["expiresAt"] and external["data"]["workspaceId"] == created["data"]["workspaceId"]
    assert out["apiKeys.getCurrentKeyMetadata"]["data"]["limit"] is None
