"""The web plugin's prompt side and answer side, as OpenRouter documents them (pure).

- The query is the text of the last user message (OpenRouter: "your prompt is passed to Exa").
- The results go to the model in a system message placed just before that user message, opened by the
  search prompt (the request's `search_prompt`, else OpenRouter's default naming today's date) and
  listing each result with its URL.
- The answer gets one `url_citation` annotation per result, `{url, title, content, start_index,
  end_index}`: the indexes are where the answer cites the result (the markdown link the prompt asks
  for, else the bare URL), and 0, 0 when the answer does not cite it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .exa import SearchResult

DEFAULT_PROMPT = (
    "A web search was conducted on {date}. Incorporate the following web search results into your response.\n\n"
    "IMPORTANT: Cite them using markdown links named using the domain of the source.\n"
    "Example: [nytimes.com](https://nytimes.com/some-page)."
)
TEXT_PARTS = ("text", "input_text")


def last_user_text(messages: list[dict[str, Any]]) -> tuple[int, str] | None:
    """The index of the last user message and its text, or None when no user message has text."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            text = content
        elif isinstance(content, list):
            text = "\n".join(p["text"] for p in content
                             if isinstance(p, dict) and p.get("type") in TEXT_PARTS and isinstance(p.get("text"), str))
        else:
            text = ""
        if text.strip():
            return index, text.strip()
    return None


def search_prompt(prompt: str | None, today: dt.date) -> str:
    return prompt if prompt is not None else DEFAULT_PROMPT.format(date=f"{today:%B} {today.day}, {today.year}")


def results_message(prompt: str, results: list[SearchResult]) -> dict[str, Any]:
    """The system message that carries the results."""
    lines = [prompt, ""]
    for number, result in enumerate(results, 1):
        lines.append(f"[{number}] {result.title}")
        lines.append(f"URL: {result.url}")
        if result.published:
            lines.append(f"Published: {result.published[:10]}")
        if result.content:
            lines.append(result.content)
        lines.append("")
    return {"role": "system", "content": "\n".join(lines).rstrip()}


def inject(messages: list[dict[str, Any]], at: int, message: dict[str, Any]) -> list[dict[str, Any]]:
    """A new message list with `message` just before the message at `at` (the client's list is kept)."""
    return [*messages[:at], message, *messages[at:]]


def url_citations(results: list[SearchResult], answer: str) -> list[dict[str, Any]]:
    out = []
    for result in results:
        start, end = cited_span(answer, result.url)
        out.append({"type": "url_citation", "url_citation": {
            "url": result.url, "title": result.title, "content": result.content,
            "start_index": start, "end_index": end}})
    return out


def cited_span(answer: str, url: str) -> tuple[int, int]:
    """Where `answer` cites `url`: the markdown link `[..](url)`, else the URL itself; (0, 0) if nowhere."""
    if not answer or not url:
        return 0, 0
    link = re.search(r"\[[^\]\n]*\]\(" + re.escape(url) + r"/?\)", answer)
    if link is not None:
        return link.start(), link.end()
    at = answer.find(url)
    return (at, at + len(url)) if at >= 0 else (0, 0)
