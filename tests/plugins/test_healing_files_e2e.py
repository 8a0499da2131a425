"""response-healing and file-parser end to end, and the 400s for plugins that cannot be honoured."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from fpdf import FPDF

from ..conftest import PRICE, TEST_KEY, base_config
from .support import CHAT, answer, sse_chunks, streamed

JSON_FORMAT = {"type": "json_schema", "json_schema": {"name": "Product", "schema": {"type": "object"}}}
HEALING = [{"id": "response-healing"}]
BROKEN = 'Here is the product:\n```json\n{"name": "Bob", "tags": ["a", "b",],\n```'
HEALED = '{"name": "Bob", "tags": ["a", "b"]}'


def post(gateway, body, stream=False):
    with httpx.Client(timeout=20) as http:
        return http.post(f"{gateway.url}/api/v1/chat/completions", json={**body, "stream": stream},
                         headers={"authorization": f"Bearer {TEST_KEY}"})


def ask(**extra):
    return {"model": "test/gpt", "messages": [{"role": "user", "content": "A product, as JSON"}], **extra}


# -- response-healing ------------------------------------------------------------------------------


def test_healing_repairs_a_malformed_json_answer_only(gateway, upstream):
    upstream.queue(CHAT, answer(BROKEN), answer('{"a":  1}'), answer(BROKEN))
    response = post(gateway, ask(response_format=JSON_FORMAT, plugins=HEALING))
    content = response.json()["choices"][0]["message"]["content"]
    assert content == HEALED
    assert json.loads(content) == {"name": "Bob", "tags": ["a", "b"]}
    # valid JSON is left byte for byte; without a JSON response_format nothing is touched
    assert post(gateway, ask(response_format=JSON_FORMAT, plugins=HEALING)).json()[
        "choices"][0]["message"]["content"] == '{"a":  1}'
    assert post(gateway, ask(plugins=HEALING)).json()["choices"][0]["message"]["content"] == BROKEN


@pytest.mark.parametrize("broken, healed", [
    ('{"name": "Alice", "age": 30', '{"name": "Alice", "age": 30}'),
    ('{name: "Eve", age: 40}', '{"name": "Eve", "age": 40}'),
    ('{"name": "David", "age": 35,}', '{"name": "David", "age": 35}'),
])
def test_healing_fixes_the_documented_cases(gateway, upstream, broken, healed):
    upstream.queue(CHAT, answer(broken))
    response = post(gateway, ask(response_format={"type": "json_object"}, plugins=HEALING))
    assert response.json()["choices"][0]["message"]["content"] == healed


def test_healing_a_stream_sends_the_healed_text_before_the_finish(gateway, upstream):
    upstream.queue(CHAT, streamed('Here is the product:\n```json\n{"name": ', '"Bob", "tags": ["a", "b",],', "\n```"))
    response = post(gateway, ask(response_format=JSON_FORMAT, plugins=HEALING), stream=True)
    chunks = [c for c in sse_chunks(response.content) if c["choices"]]
    contents = [c["choices"][0]["delta"]["content"] for c in chunks if c["choices"][0]["delta"].get("content")]
    assert contents == [HEALED]
    finishing = next(i for i, c in enumerate(chunks) if c["choices"][0]["finish_reason"])
    assert chunks[finishing - 1]["choices"][0]["delta"]["content"] == HEALED
    assert gateway.ledger()[-1]["completion_tokens"] > 0


def test_healing_with_the_openai_sdk_parses(gateway, upstream, client):
    upstream.queue(CHAT, answer(BROKEN))
    response = client.chat.completions.create(**ask(response_format=JSON_FORMAT), extra_body={"plugins": HEALING})
    assert json.loads(response.choices[0].message.content) == {"name": "Bob", "tags": ["a", "b"]}


# -- file-parser -----------------------------------------------------------------------------------


def pdf_data(*pages: str) -> str:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.cell(text=text)
    return "data:application/pdf;base64," + base64.b64encode(bytes(pdf.output())).decode()


def file_message(data: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "text", "text": "Summarise this."},
                                         {"type": "file", "file": {"filename": "report.pdf", "file_data": data}}]}]


@pytest.fixture
def files_gateway(make_gateway, upstream, tmp_path):
    """test/gpt takes text only (the catalogue's default); test/vision takes files."""
    models = base_config(upstream, tmp_path)["models"]
    models.append({"id": "test/vision", "input_modalities": ["text", "image", "file"], "context_length": 128000,
                   "endpoints": [{"provider": "up", "model": "gpt-4o", "pricing": PRICE}]})
    return make_gateway(models=models)


def test_pdf_reaches_a_text_model_as_text(files_gateway, upstream):
    upstream.queue(CHAT, answer("ok"))
    response = post(files_gateway, {"model": "test/gpt", "messages": file_message(pdf_data("Quarterly revenue grew 12%.",
                                                                                           "Costs fell."))})
    assert response.status_code == 200
    sent = upstream.hits(CHAT)[-1].json["messages"][0]["content"]
    assert sent[0] == {"type": "text", "text": "Summarise this."}
    assert sent[1] == {"type": "text", "text": '<file name="report.pdf">\n[Page 1]\nQuarterly revenue grew 12%.'
                                               '\n\n[Page 2]\nCosts fell.\n</file>'}


def test_pdf_reaches_a_file_model_as_it_is_unless_pdf_text_is_asked(files_gateway, upstream):
    data = pdf_data("Hello PDF")
    upstream.queue(CHAT, answer("ok"), answer("ok"), answer("ok"))
    post(files_gateway, {"model": "test/vision", "messages": file_message(data)}).raise_for_status()
    assert upstream.hits(CHAT)[-1].json["messages"][0]["content"][1]["file"]["file_data"] == data
    url = "https://example.com/report.pdf"  # not fetched: the model takes it as it is
    post(files_gateway, {"model": "test/vision", "messages": file_message(url)}).raise_for_status()
    assert upstream.hits(CHAT)[-1].json["messages"][0]["content"][1]["file"]["file_data"] == url
    post(files_gateway, {"model": "test/vision", "messages": file_message(data),
                         "plugins": [{"id": "file-parser", "pdf": {"engine": "pdf-text"}}]}).raise_for_status()
    part = upstream.hits(CHAT)[-1].json["messages"][0]["content"][1]
    assert part == {"type": "text", "text": '<file name="report.pdf">\n[Page 1]\nHello PDF\n</file>'}


def test_pdf_refusals_name_the_field(files_gateway, upstream):
    cases = [
        ({"model": "test/gpt", "messages": file_message(pdf_data("x")),
          "plugins": [{"id": "file-parser", "pdf": {"engine": "native"}}]},
         "plugins[0].pdf.engine: 'native' sends the PDF as it is, but test/gpt does not take files; use 'pdf-text'"),
        ({"model": "test/gpt", "messages": file_message("data:application/pdf;base64,bm90IGEgcGRm")},
         "messages[0].content[1].file.file_data: is not a PDF (it does not start with %PDF-)"),
        ({"model": "test/gpt", "messages": file_message("https://example.com/report.pdf")},
         "messages[0].content[1].file.file_data: a PDF given by URL is not fetched by this gateway: send it as a "
         "data:application/pdf;base64,... URL, or use a model that takes files"),
    ]
    for body, message in cases:
        response = post(files_gateway, body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["message"] == message
    assert upstream.hits(CHAT) == []


# -- refusals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("plugins, message", [
    ([{"id": "moderation"}], "plugins[0].id: the 'moderation' plugin is not supported by this gateway "
                             "(supported: web, response-healing, file-parser)"),
    ([{"id": "response-healing"}, {"id": "teleport"}],
     "plugins[1].id: unknown plugin 'teleport' (supported: web, response-healing, file-parser)"),
    ([{"id": "web", "engine": "native"}], "plugins[0].engine: the 'native' search engine is not available on "
                                          "this gateway (available: exa, or leave it out)"),
    ([{"id": "web", "max_results": 50}], "plugins[0].max_results: must be an integer from 1 to 10"),
    ([{"id": "web", "max_uses": 2}], "plugins[0].max_uses: not an option of the 'web' plugin this gateway can "
                                     "honour (options: max_results, search_prompt, engine, mode, include_domains, "
                                     "exclude_domains)"),
    ([{"id": "file-parser", "pdf": {"engine": "mistral-ocr"}}],
     "plugins[0].pdf.engine: the 'mistral-ocr' engine (OCR) is not available on this gateway; use 'pdf-text' "
     "(the PDF's text layer) or 'native'"),
])
def test_plugins_that_cannot_be_honoured_are_refused(gateway, upstream, plugins, message):
    for stream in (False, True):
        response = post(gateway, ask(plugins=plugins), stream)
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith(message)
    assert upstream.hits(CHAT) == []
