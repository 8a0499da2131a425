"""The file-parser plugin: PDF `file` parts turned into text for models that do not take files.

OpenRouter (guides/overview/multimodal/pdfs.mdx): a PDF goes to a model that takes files as it is; for
a model that does not, the PDF is parsed and the text sent instead, with or without the plugin. The
plugin's `pdf.engine` picks how: `native` (never parsed), the free text engine (`pdf-text`, the
legacy name, and `cloudflare-ai`, its successor: both read the PDF's text layer here, with pypdf), or
`mistral-ocr` (refused: no OCR here). Left out, a model's input modalities in the catalogue decide:
native where they include `file`, else the text.

Only PDFs sent as data (a `data:application/pdf;base64,...` URL or bare base64) are parsed: the gateway
does not fetch URLs on a client's behalf (a request could otherwise make it reach internal addresses),
so a PDF given by URL for a model that cannot take it is a 400.

Parsing is pure CPU (pypdf is pure Python); the engine runs it in a thread so the event loop keeps
serving other requests."""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import dataclass
from typing import Any

from .spec import bad

PDF_MAGIC = b"%PDF-"
MAX_PAGES = 2000


@dataclass(frozen=True, slots=True)
class FilePart:
    """A PDF `file` part: where it is in the messages (message index, part index) and its data."""

    message: int
    part: int
    filename: str
    data: str  # file_data as sent

    @property
    def path(self) -> str:
        return f"messages[{self.message}].content[{self.part}].file.file_data"


def pdf_parts(messages: list[dict[str, Any]]) -> list[FilePart]:
    """The PDF file parts of the messages (those named or typed as PDFs, or whose data is a PDF)."""
    out = []
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "file" or not isinstance(part.get("file"), dict):
                continue
            file = part["file"]
            data = file.get("file_data")
            if isinstance(data, str) and _is_pdf(data, file.get("filename")):
                out.append(FilePart(i, j, str(file.get("filename") or "document.pdf"), data))
    return out


def _is_pdf(data: str, filename: Any) -> bool:
    if data.startswith("data:"):
        return data[5:].split(";", 1)[0].split(",", 1)[0].lower() == "application/pdf"
    if isinstance(filename, str) and filename.lower().endswith(".pdf"):
        return True
    return data.startswith("JVBERi0")  # base64 of "%PDF-"


def pdf_bytes(part: FilePart) -> bytes:
    data = part.data
    if data.startswith(("http://", "https://")):
        raise bad(part.path, "a PDF given by URL is not fetched by this gateway: send it as a "
                             "data:application/pdf;base64,... URL, or use a model that takes files")
    if data.startswith("data:"):
        head, sep, data = data.partition(",")
        if not sep or not head.endswith(";base64"):
            raise bad(part.path, "must be a base64 data URL (data:application/pdf;base64,...)")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad(part.path, "is not valid base64") from None
    if not raw.startswith(PDF_MAGIC):
        raise bad(part.path, "is not a PDF (it does not start with %PDF-)")
    return raw


def pdf_text(part: FilePart) -> str:
    """The text layer of the PDF, page by page; a 400 naming the part when it cannot be read."""
    raw = pdf_bytes(part)
    import pypdf  # noqa: PLC0415 - loaded at the first PDF: ~60 ms and several MB a worker otherwise
    from pypdf.errors import PdfReadError  # noqa: PLC0415

    try:
        reader = pypdf.PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise bad(part.path, "is an encrypted PDF; send it unencrypted")
        if len(reader.pages) > MAX_PAGES:
            raise bad(part.path, f"has more than {MAX_PAGES} pages")
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise bad(part.path, f"is not a readable PDF ({type(exc).__name__})") from None
    return "\n\n".join(f"[Page {n}]\n{text.strip()}" for n, text in enumerate(pages, 1) if text.strip())


def text_part(part: FilePart, text: str) -> dict[str, Any]:
    body = text or "(the PDF has no text layer)"
    return {"type": "text", "text": f"<file name=\"{part.filename}\">\n{body}\n</file>"}


def replace_parts(messages: list[dict[str, Any]], texts: dict[tuple[int, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy of the messages with the parts at the given (message, part) positions replaced."""
    out = list(messages)
    for i in {m for m, _ in texts}:
        message = dict(out[i])
        message["content"] = [texts.get((i, j), part) for j, part in enumerate(message["content"])]
        out[i] = message
    return out
