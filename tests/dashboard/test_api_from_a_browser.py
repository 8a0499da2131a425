"""A web page on another origin calls the API with fetch, as a browser app calls OpenRouter: the
preflight, the chat, a stream read to its end, and the headers CORS exposes."""

from __future__ import annotations

from typing import Any

from ..conftest import TEST_KEY
from ..upstream import Reply, Upstream

CALL = """async ([url, key]) => {
  const headers = {"Authorization": `Bearer ${key}`, "Content-Type": "application/json", "X-Title": "page"};
  const body = {model: "test/gpt", messages: [{role: "user", content: "hi"}]};
  const plain = await fetch(url, {method: "POST", headers, body: JSON.stringify(body)});
  const json = await plain.json();
  const streamed = await fetch(url, {method: "POST", headers, body: JSON.stringify({...body, stream: true})});
  const text = await streamed.text();
  return {status: plain.status, generation: plain.headers.get("x-generation-id"), id: json.id,
          content: json.choices[0].message.content, events: text.split("\\n\\n").filter(e => e.startsWith("data:")).length,
          done: text.includes("data: [DONE]")};
}"""


def test_a_page_on_another_origin_calls_the_api(browser_page: tuple[Any, list[str]], make_gateway: Any,
                                                upstream: Upstream) -> None:
    upstream.queue("/v1/chat/completions", Reply.file("openai/chat_text.response.json"),
                   Reply.sse("openai/chat_stream_text_usage.sse"))
    gateway = make_gateway()
    page, _ = browser_page
    page.goto(f"http://localhost:{gateway.port}/healthz")  # origin http://localhost:port; the API is on 127.0.0.1
    result = page.evaluate(CALL, [f"http://127.0.0.1:{gateway.port}/api/v1/chat/completions", TEST_KEY])
    assert result["status"] == 200 and result["generation"] == result["id"] and result["content"]
    assert result["events"] >= 3 and result["done"]

    closed = make_gateway(server={"cors_origins": []})
    page.goto(f"http://localhost:{closed.port}/healthz")
    error = page.evaluate("""async (url) => { try { await fetch(url, {method: "POST",
        headers: {"Authorization": "Bearer x", "Content-Type": "application/json"}, body: "{}"}); return "";
        } catch (e) { return String(e); } }""", f"http://127.0.0.1:{closed.port}/api/v1/chat/completions")
    assert "Failed to fetch" in error
