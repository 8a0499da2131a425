"""The ledger through a real gateway: a row the database refuses does not stop the rows after it (it is
set aside, counted in /metrics, logged and replayable), and a database that takes no rows bounds the
backlog: past it generations get 503 and /readyz says why, until the writes catch up by themselves."""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
from click.testing import CliRunner

from switchpoint.cli.main import cli

from .. import replies
from ..conftest import Gateway
from .conftest import chat


def wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def written_ids(gateway: Gateway) -> set[str]:
    async def ids() -> set[str]:
        from sqlalchemy import select

        from switchpoint.storage.tables import generations

        async with gateway.services.store.engine.connect() as conn:
            return {r[0] for r in await conn.execute(select(generations.c.id))}

    return gateway.loop.run(ids())


def record(gateway: Gateway, row: dict[str, Any]) -> None:
    async def go() -> None:
        gateway.services.ledger.record(row)

    gateway.loop.run(go())


def test_a_refused_row_is_set_aside_and_later_rows_are_written(make_gateway, upstream, tmp_path, caplog):
    gateway = make_gateway()
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    first = chat(gateway)
    assert first.status_code == 200
    wait_for(lambda: first.json()["id"] in written_ids(gateway))
    stored = gateway.call(gateway.services.store.get_generation, first.json()["id"])
    model_row = {str(k): v for k, v in stored.items()}
    # Rows the database refuses: a list where a string belongs (what `"user": ["a"]` produced), a NULL model.
    poison = [{**model_row, "id": "gen-poison-type", "external_user": ["a"]},
              {**model_row, "id": "gen-poison-null", "model": None}]
    with caplog.at_level(logging.ERROR, logger="switchpoint.ledger"):
        for row in poison:
            record(gateway, row)
        later = [chat(gateway) for _ in range(3)]
        assert [r.status_code for r in later] == [200, 200, 200]
        wait_for(lambda: {r.json()["id"] for r in later} <= written_ids(gateway))
    assert "gen-poison-type" not in written_ids(gateway)

    spool = Path(str(tmp_path / "gw0" / "ledger.db") + "-spool")
    letters = [orjson.loads(line) for line in (spool / "dead-letter.jsonl").read_bytes().splitlines()]
    assert sorted(e["row"]["id"] for e in letters) == ["gen-poison-null", "gen-poison-type"]
    assert all(e["error"] for e in letters)
    metrics = httpx.get(f"{gateway.url}/metrics").text
    assert "switchpoint_ledger_dead_letters_total 2.0" in metrics
    logged = [r.getMessage() for r in caplog.records if "refused by the database" in r.getMessage()]
    assert len(logged) == 2 and all("dead-letter.jsonl" in m for m in logged)

    # The operator corrects the rows in the file and replays them.
    for entry in letters:
        entry["row"].update(external_user="a", model=entry["row"]["model"] or "test/gpt")
    (spool / "dead-letter.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in letters))
    config = tmp_path / "gw0" / "switchpoint.yaml"
    result = CliRunner().invoke(cli, ["db", "replay", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "dead letters" in result.output and "2 written" in result.output
    assert {"gen-poison-type", "gen-poison-null"} <= written_ids(gateway)
    assert not (spool / "dead-letter.jsonl").exists()


def test_a_database_that_takes_no_rows_fails_closed_past_the_bound_and_recovers(make_gateway, upstream, tmp_path):
    gateway = make_gateway(ledger={"max_backlog": 3})
    upstream.always("/v1/chat/completions", replies.chat(10, 20))
    upstream.always("/v1/embeddings", replies.embeddings(prompt=50))
    holder = sqlite3.connect(tmp_path / "gw0" / "ledger.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another writer holds the database: the ledger's writes wait and fail
    try:
        served = [chat(gateway) for _ in range(3)]
        assert [r.status_code for r in served] == [200, 200, 200]  # under the bound; the rows are in the spool
        refused = chat(gateway)
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == 503 and error["metadata"]["reason"] == "ledger_unavailable"
        assert "3 rows it could not write yet (limit 3" in error["message"]
        assert refused.headers["retry-after"] == "5"
        embedding = httpx.post(f"{gateway.url}/api/v1/embeddings", json={"model": "test/embed", "input": "x"},
                               headers={"authorization": refused.request.headers["authorization"]})
        assert embedding.status_code == 503
        # every inbound API is refused alike: the Anthropic Messages surface in its own envelope
        message = httpx.post(f"{gateway.url}/v1/messages", json={"model": "test/gpt", "max_tokens": 16,
                                                                   "messages": [{"role": "user", "content": "hi"}]},
                             headers={"x-api-key": refused.request.headers["authorization"].split()[1]})
        assert message.status_code == 529 and message.json()["error"]["type"] == "overloaded_error"
        ready = httpx.get(f"{gateway.url}/readyz")
        assert ready.status_code == 503 and "could not write yet" in ready.json()["error"]["message"]
        assert 'switchpoint_ledger_refusing 1.0' in httpx.get(f"{gateway.url}/metrics").text
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    wait_for(lambda: httpx.get(f"{gateway.url}/readyz").status_code == 200)
    again = chat(gateway)
    assert again.status_code == 200
    ids = {r.json()["id"] for r in [*served, again]}
    wait_for(lambda: ids <= written_ids(gateway))
    assert len(written_ids(gateway)) == 4  # the three rows of the outage and the one after, once each
