"""The audit log: every change to a key or a team, wherever it is made (the provisioning API, the
dashboard, the command line, switchpoint.yaml at start), writes exactly one entry naming who made it; entries never
hold a secret; only the management key reads them, newest first, a page at a time."""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml
from click.testing import CliRunner

from switchpoint.accounting.audit import redact
from switchpoint.accounting.keys import hash_key
from switchpoint.cli.main import cli

from ..conftest import ADMIN_KEY, TEST_KEY, Gateway
from ..dashboard.helpers import csrf_token, http, login

CONFIG_KEY = "sk-sp-v1-" + "c" * 64


def api(gateway: Gateway, method: str, path: str, key: str = ADMIN_KEY, **kw: Any) -> httpx.Response:
    return httpx.request(method, f"{gateway.url}/api/v1{path}", headers={"authorization": f"Bearer {key}"},
                         timeout=10, **kw)


def audit(gateway: Gateway, **params: Any) -> list[dict[str, Any]]:
    response = api(gateway, "GET", "/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def dashboard(gateway: Gateway, path: str, body: dict[str, Any]) -> dict[str, Any]:
    cookie = login(gateway)
    status, _, raw = http(gateway, "POST", f"/dashboard/api/{path}", json.dumps(body).encode(),
                          {"cookie": cookie, "content-type": "application/json", "x-csrf-token": csrf_token(gateway, cookie)})
    assert status in (200, 201), raw
    return json.loads(raw)


def cli_config(gateway: Gateway, tmp_path: Path) -> str:
    path = tmp_path / "cli.yaml"
    path.write_text(yaml.safe_dump({"database": gateway.config.database, "providers": {}}))
    return str(path)


def made(gateway: Gateway, name: str, **fields: Any) -> dict[str, Any]:
    response = api(gateway, "POST", "/keys", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


# Each mutating way in. A change gets the gateway, a folder, `make_gateway` (to start another process on
# the same database) and the hash of the key it works on (made through the API before entries are counted).
Change = Callable[[Gateway, Path, Callable[..., Gateway], str], None]


def api_create(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str) -> None:
    made(gateway, "made-by-api", limit=2, user_limit=0.5)


def api_update(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str) -> None:
    assert api(gateway, "PATCH", f"/keys/{key}", json={"limit": 3, "disabled": True}).status_code == 200


def api_delete(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str) -> None:
    assert api(gateway, "DELETE", f"/keys/{key}").json() == {"deleted": True}


def dashboard_create(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str) -> None:
    dashboard(gateway, "keys", {"name": "made-in-dashboard", "limit": 1})


def dashboard_update(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str) -> None:
    dashboard(gateway, "keys/update", {"hash": key, "disabled": True})


def dashboard_revoke(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str) -> None:
    dashboard(gateway, "keys/revoke", {"hash": key})


def cli_create(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str = "") -> None:
    result = CliRunner().invoke(cli, ["keys", "create", "made-by-cli", "--user-limit", "0.25",
                                      "--user-rate-limit", "10/1m", "--config", cli_config(gateway, tmp_path)])
    assert result.exit_code == 0, result.output


def cli_revoke(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str) -> None:
    result = CliRunner().invoke(cli, ["keys", "revoke", key[:16], "--config", cli_config(gateway, tmp_path)])
    assert result.exit_code == 0, result.output


def api_team_create(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], name: str) -> None:
    response = api(gateway, "POST", "/teams", json={"name": "made-by-api", "limit": 5, "user_limit": 0.5})
    assert response.status_code == 201, response.text


def api_team_update(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], name: str) -> None:
    assert api(gateway, "PATCH", f"/teams/{name}", json={"limit": 7}).status_code == 200


def api_team_delete(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], name: str) -> None:
    assert api(gateway, "DELETE", f"/teams/{name}").json() == {"deleted": True}


def dashboard_team_create(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], name: str) -> None:
    dashboard(gateway, "teams", {"name": "made-in-dashboard", "limit": 1})


def dashboard_team_update(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], name: str) -> None:
    dashboard(gateway, "teams/update", {"name": name, "user_rate_limit": {"requests": 5, "interval": 60}})


def dashboard_team_delete(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], name: str) -> None:
    dashboard(gateway, "teams/delete", {"name": name})


def restart_with_team(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], name: str = "") -> None:
    make(database=gateway.config.database, keys=[{"name": "test", "key": TEST_KEY}],
         teams=[{"name": "from-config", "limit": 3}])


def restart_with(keys: list[dict[str, Any]]) -> Change:
    """Start the gateway again on the same database with other `keys:` in switchpoint.yaml."""
    def change(gateway: Gateway, tmp_path: Path, make: Callable[..., Gateway], key: str = "") -> None:
        make(database=gateway.config.database, keys=keys)
    return change


CLI_ACTOR = f"cli ({getpass.getuser()})"
CONFIG_ACTOR = "config (switchpoint.yaml)"
SESSION_ACTOR = "dashboard (admin-key)"
# (way in, the key made first or None, the change, then the one entry it must write: action, actor, target)
CASES: list[tuple[str, str | None, Change, str, str, str]] = [
    ("POST /api/v1/keys", None, api_create, "key.create", "admin-key", "key made-by-api"),
    ("PATCH /api/v1/keys/{hash}", "patched", api_update, "key.update", "admin-key", "key patched"),
    ("DELETE /api/v1/keys/{hash}", "deleted", api_delete, "key.delete", "admin-key", "key deleted"),
    ("POST /dashboard/api/keys", None, dashboard_create, "key.create", SESSION_ACTOR, "key made-in-dashboard"),
    ("POST /dashboard/api/keys/update", "disabled", dashboard_update, "key.update", SESSION_ACTOR, "key disabled"),
    ("POST /dashboard/api/keys/revoke", "revoked", dashboard_revoke, "key.revoke", SESSION_ACTOR, "key revoked"),
    ("switchpoint keys create", None, cli_create, "key.create", CLI_ACTOR, "key made-by-cli"),
    ("switchpoint keys revoke", "by-cli", cli_revoke, "key.revoke", CLI_ACTOR, "key by-cli"),
    ("a key added to switchpoint.yaml", None, restart_with([{"name": "test", "key": TEST_KEY},
                                                            {"name": "from-config", "key": CONFIG_KEY}]),
     "key.create", CONFIG_ACTOR, "key from-config"),
    ("a key changed in switchpoint.yaml", None, restart_with([{"name": "test", "key": TEST_KEY, "limit": 4}]),
     "key.update", CONFIG_ACTOR, "key test"),
    ("a key removed from switchpoint.yaml", None, restart_with([]), "key.disable", CONFIG_ACTOR, "key test"),
    ("POST /api/v1/teams", None, api_team_create, "team.create", "admin-key", "team made-by-api"),
    ("PATCH /api/v1/teams/{name}", "team:patched", api_team_update, "team.update", "admin-key", "team patched"),
    ("DELETE /api/v1/teams/{name}", "team:deleted", api_team_delete, "team.delete", "admin-key", "team deleted"),
    ("POST /dashboard/api/teams", None, dashboard_team_create, "team.create", SESSION_ACTOR, "team made-in-dashboard"),
    ("POST /dashboard/api/teams/update", "team:changed", dashboard_team_update, "team.update", SESSION_ACTOR,
     "team changed"),
    ("POST /dashboard/api/teams/delete", "team:gone", dashboard_team_delete, "team.delete", SESSION_ACTOR,
     "team gone"),
    ("a team added to switchpoint.yaml", None, restart_with_team, "team.create", CONFIG_ACTOR, "team from-config"),
]


def first_made(gateway: Gateway, first: str | None) -> str:
    """Make the key (or, for `team:NAME`, the team) a change works on; its hash (or name)."""
    if first is None:
        return ""
    if first.startswith("team:"):
        name = first.removeprefix("team:")
        assert api(gateway, "POST", "/teams", json={"name": name}).status_code == 201
        return name
    return str(made(gateway, first)["data"]["hash"])


@pytest.mark.parametrize(("first", "change", "action", "actor", "target"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_every_change_writes_exactly_one_entry(make_gateway: Callable[..., Gateway], tmp_path: Path,
                                               first: str | None, change: Change, action: str, actor: str,
                                               target: str) -> None:
    gateway = make_gateway()
    key = first_made(gateway, first)
    before = audit(gateway, limit=500)
    change(gateway, tmp_path, make_gateway, key)
    after = audit(gateway, limit=500)
    assert len(after) == len(before) + 1 and after[1:] == before
    entry = after[0]
    assert (entry["action"], entry["actor"]) == (action, actor)
    if action.startswith("team."):
        assert entry["target"] == target  # a team is named by its name
    else:
        assert re.fullmatch(re.escape(target) + r" \(\S{6,}\.\.\.\S{3}\)", entry["target"])  # named by its label
    assert (entry["before"] is None) == action.endswith(".create")
    assert (entry["after"] is None) == action.endswith((".delete", ".revoke"))
    assert entry["at"].endswith("Z")


def test_before_and_after_show_what_changed(gateway: Gateway) -> None:
    key = made(gateway, "limits", limit=1, user_limit=0.1)["data"]["hash"]
    api(gateway, "PATCH", f"/keys/{key}", json={"limit": 2.5, "user_rate_limit": {"requests": 3, "interval": 60}})
    [update, create] = audit(gateway, limit=2)
    assert create["after"]["limit"] == 1 and create["after"]["user_limit"] == 0.1
    assert update["before"]["limit"] == 1 and update["after"]["limit"] == 2.5
    assert update["before"]["user_rate_limit"] is None
    assert update["after"]["user_rate_limit"] == {"requests": 3, "interval": 60.0}


def test_no_secret_is_ever_in_the_log(make_gateway: Callable[..., Gateway], tmp_path: Path) -> None:
    gateway = make_gateway(keys=[{"name": "test", "key": TEST_KEY}, {"name": "from-config", "key": CONFIG_KEY}])
    own = "sk-or-v1-" + "e" * 64
    created = [made(gateway, "plain"), made(gateway, "partner", external={"user": "u-1", "api_key": own})]
    for key in created:
        api(gateway, "PATCH", f"/keys/{key['data']['hash']}", json={"disabled": True})
        api(gateway, "DELETE", f"/keys/{key['data']['hash']}")
    cli_create(gateway, tmp_path, make_gateway)
    restart_with([])(gateway, tmp_path, make_gateway, "")
    raw = api(gateway, "GET", "/audit", params={"limit": 500}).text
    secrets = [TEST_KEY, CONFIG_KEY, own, ADMIN_KEY, *(k["key"] for k in created)]
    hashes = [hash_key(s) for s in secrets]
    assert len(json.loads(raw)["data"]) >= 8
    for secret in secrets + hashes:
        assert secret not in raw
    assert '"hash"' not in raw and "key_hash" not in raw


def test_redaction_reaches_any_depth() -> None:
    digest = "ab" * 32
    value = {"name": "x", "api_key": "sk-or-v1-abc", "nested": [{"token": "t", "note": f"Bearer {digest}"}],
             "text": "the key sk-sp-v1-" + "0" * 40 + " leaked", "label": "sk-sp-v1-abc...xyz"}
    assert redact(value) == {"name": "x", "nested": [{"note": "[redacted]"}], "text": "the key [redacted] leaked",
                             "label": "sk-sp-v1-abc...xyz"}


def test_only_the_management_key_reads_the_log(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.url}/api/v1/audit", timeout=10).status_code == 401
    refused = api(gateway, "GET", "/audit", key=TEST_KEY)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == 403
    assert api(gateway, "GET", "/audit").status_code == 200
    assert httpx.get(f"{gateway.url}/v1/audit", headers={"authorization": f"Bearer {ADMIN_KEY}"},
                     timeout=10).status_code == 200


def test_newest_first_and_paging(gateway: Gateway) -> None:
    for i in range(5):
        made(gateway, f"k{i}")
    names = [e["target"].split()[1] for e in audit(gateway)]
    assert names == ["k4", "k3", "k2", "k1", "k0", "test"]  # the config's key was stored at the first start
    page = api(gateway, "GET", "/audit", params={"limit": 2}).json()
    assert [e["target"].split()[1] for e in page["data"]] == ["k4", "k3"]
    assert [e["target"].split()[1] for e in audit(gateway, limit=2, offset=2)] == ["k2", "k1"]
    following = api(gateway, "GET", "/audit", params={"limit": 2, "before": page["next_before"]}).json()
    assert [e["target"].split()[1] for e in following["data"]] == ["k2", "k1"]
    last = api(gateway, "GET", "/audit", params={"limit": 2, "before": following["next_before"]}).json()
    assert [e["target"].split()[1] for e in last["data"]] == ["k0", "test"]
    end = api(gateway, "GET", "/audit", params={"limit": 2, "before": last["next_before"]}).json()
    assert end == {"data": [], "next_before": None}
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": "-1"}, {"before": "x"}):
        response = api(gateway, "GET", "/audit", params=bad)
        assert response.status_code == 400 and response.json()["error"]["metadata"]["param"] in bad


def test_the_dashboard_serves_the_log(gateway: Gateway) -> None:
    made(gateway, "seen")
    status, _, body = http(gateway, "GET", "/dashboard/api/audit?limit=10", headers={"cookie": login(gateway)})
    assert status == 200
    entry = json.loads(body)["data"][0]
    assert entry["action"] == "key.create" and entry["target"].startswith("key seen ")
    assert http(gateway, "GET", "/dashboard/api/audit")[0] == 401

