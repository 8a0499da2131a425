"""Request ids end to end, and the one-JSON-line-per-generation log."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from ..conftest import ADMIN_KEY, TEST_KEY
from ..dashboard.helpers import http
from ..upstream import Reply

CHAT = "/v1/chat/completions"


def client(gateway, key: str = TEST_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/api/v1", api_key=key, max_retries=0, timeout=20)


def test_request_id_is_kept_returned_and_sent_upstream(gateway, upstream) -> None:
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"))
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="test/gpt", messages=[{"role": "user", "content": "hi"}], extra_headers={"x-request-id": "trace-42"})
    assert raw.headers["x-request-id"] == "trace-42"
    assert upstream.hits(CHAT)[0].headers["x-request-id"] == "trace-42"

    upstream.queue(CHAT, Reply.sse("openai/chat_stream_text_usage.sse"))
    with client(gateway).chat.completions.with_streaming_response.create(
            model="test/gpt", messages=[{"role": "user", "content": "hi"}], stream=True) as streamed:
        generated = streamed.headers["x-request-id"]
        list(streamed.iter_lines())
    assert generated.startswith("req-") and upstream.hits(CHAT)[1].headers["x-request-id"] == generated

    for path, headers in (("/api/v1/models", {"x-request-id": "bad id with spaces"}), ("/api/v1/key", {}),
                          ("/dashboard", {}), ("/nowhere", {"x-request-id": "x" * 200})):
        status, response_headers, _ = http(gateway, "GET", path, headers=headers)
        assert response_headers["x-request-id"].startswith("req-"), (path, status)


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_json_line_per_generation_without_content(make_gateway, upstream, tmp_path: Path) -> None:
    log_path = tmp_path / "generations.jsonl"
    gateway = make_gateway(telemetry={"generation_log": str(log_path)})
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"),
                   Reply.file("openai/error_500_server_error.json", status=500))
    client(gateway).chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "secret prompt"}],
                                            extra_headers={"x-request-id": "r-1"})
    with pytest.raises(openai.InternalServerError):
        client(gateway).chat.completions.create(model="test/gpt", messages=[{"role": "user", "content": "again"}])
    gateway.flush()
    gateway.call(lambda: gateway.services.observers[0].drain())
    lines = read_log(log_path)
    assert [line["status"] for line in lines] == ["success", "error"]
    ok = lines[0]
    assert ok["event"] == "generation" and ok["request_id"] == "r-1" and ok["model"] == "test/gpt"
    assert (ok["prompt_tokens"], ok["completion_tokens"], ok["provider"]) == (14, 37, "up")
    assert abs(ok["cost_usd"] - (14 * 0.00000015 + 37 * 0.0000006)) < 1e-12
    assert lines[1]["attempts"][0]["status"] == 500 and lines[1]["request_id"].startswith("req-")
    text = log_path.read_text()
    assert "secret prompt" not in text and "unable to provide" not in text and "prompt\"" not in text


def test_content_is_logged_only_for_keys_that_opt_in(make_gateway, upstream, tmp_path: Path) -> None:
    log_path = tmp_path / "generations.jsonl"
    gateway = make_gateway(telemetry={"generation_log": str(log_path)})
    status, _, body = http(gateway, "POST", "/api/v1/keys", json.dumps({"name": "audited", "log_content": True}).encode(),
                           {"authorization": f"Bearer {ADMIN_KEY}", "content-type": "application/json"})
    assert status == 201
    audited = json.loads(body)["key"]
    upstream.queue(CHAT, Reply.file("openai/chat_text.response.json"), Reply.sse("openai/chat_stream_text_usage.sse"))
    client(gateway, audited).chat.completions.create(model="test/gpt",
                                                     messages=[{"role": "user", "content": "weather?"}])
    stream = client(gateway, audited).chat.completions.create(
        model="test/gpt", messages=[{"role": "user", "content": "capital?"}], stream=True)
    list(stream)
    gateway.flush()
    gateway.call(lambda: gateway.services.observers[0].drain())
    first, second = read_log(log_path)
    assert first["prompt"] == [{"role": "user", "content": "weather?"}]
    assert first["completion"].startswith("I'm unable to provide real-time weather")
    assert second["prompt"][0]["content"] == "capital?" and second["completion"] == "The capital of the UK is London."
