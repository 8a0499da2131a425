"""Exa's search API (docs.exa.ai/reference/search): the request the web plugin sends, and its results.

`POST {base_url}/search` with the key in `x-api-key` and `{query, type, numResults, contents:
{highlights: {maxCharacters}}, includeDomains?, excludeDomains?}`; the answer lists `results` of
`{title, url, publishedDate, author, highlights[], text?, summary?}`. OpenRouter asks Exa for
highlights (extractive excerpts of each page) with its "auto" search type; so does this client.
Pure translation: the caller sends what `search_request` builds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..config.schema import SearchConfig
from ..types import UpstreamRequest

HIGHLIGHT_SEPARATOR = " [...] "  # what Exa puts between excerpts of one page, as OpenRouter passes them on


@dataclass(frozen=True, slots=True)
class SearchResult:
    url: str
    title: str
    content: str          # the excerpt given to the model
    published: str | None = None


class SearchError(Exception):
    """The search API failed or answered something that is not a result list."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def search_request(config: SearchConfig, query: str, *, max_results: int, mode: str,
                   include_domains: tuple[str, ...] = (), exclude_domains: tuple[str, ...] = ()) -> UpstreamRequest:
    body: dict[str, Any] = {"query": query, "type": mode, "numResults": max_results,
                            "contents": {"highlights": {"maxCharacters": config.max_characters}}}
    if include_domains:
        body["includeDomains"] = list(include_domains)
    if exclude_domains:
        body["excludeDomains"] = list(exclude_domains)
    headers = {"content-type": "application/json", "accept": "application/json"}
    if config.api_key:
        headers["x-api-key"] = config.api_key
    return UpstreamRequest("POST", config.base_url.rstrip("/") + "/search", headers, orjson.dumps(body))


def parse_results(body: bytes, max_results: int, max_characters: int) -> list[SearchResult]:
    """The results with a URL, at most `max_results`, each excerpt cut to `max_characters`."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise SearchError("the search API answered with something that is not JSON") from None
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, list):
        raise SearchError("the search API's answer has no results list")
    out: list[SearchResult] = []
    for item in results:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str) or not item["url"]:
            continue
        out.append(SearchResult(url=item["url"], title=_text(item.get("title")) or item["url"],
                                content=_excerpt(item)[:max_characters], published=_text(item.get("publishedDate"))))
        if len(out) == max_results:
            break
    return out


def _excerpt(item: dict[str, Any]) -> str:
    highlights = item.get("highlights")
    if isinstance(highlights, list):
        parts = [h.strip() for h in highlights if isinstance(h, str) and h.strip()]
        if parts:
            return HIGHLIGHT_SEPARATOR.join(parts)
    for name in ("summary", "text"):
        value = _text(item.get(name))
        if value:
            return value.strip()
    return ""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
