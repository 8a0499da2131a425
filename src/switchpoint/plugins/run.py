"""Plugins around one generation: what runs before the attempts and what runs on the answer.

The engine asks `Plugins.start` for a `PluginRun` once the request is planned (None when the request
needs no plugin: the common case costs one check of its plugins, its model ids and its messages'
file parts). Then:

- `prepare()`: the web search (its results injected into the messages) and the PDFs parsed to text,
  before any attempt; the search's count is kept for its price;
- `request_for(model)`: the request an endpoint of that model gets (PDFs as text for a model whose
  input modalities lack `file`, or when the plugin asks for the text engine);
- `finish(completion)` / `StreamEdit`: `url_citation` annotations and healed JSON on the answer.

Routing and providers never see plugins: they get an ordinary request and their answers are edited here."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ..config import Config
from ..config.catalogue import Model
from ..errors import BadRequestError, ProviderError, RequestTimeoutError, UpstreamError
from ..net.transport import Transport
from ..types import ChatRequest, Completion, Delta
from . import exa, files, healing, web
from .spec import TEXT_PDF_ENGINES, PluginSet, WebOptions, online_variant, parse_plugins

T = TypeVar("T")
P = TypeVar("P")
C = TypeVar("C")
SEARCH_NOT_CONFIGURED = "web search is not configured on this gateway (no `search:` section)"


@dataclass(slots=True)
class WebSearch:
    """What the web search did for this generation: billed per result and per search."""

    engine: str
    results: list[exa.SearchResult]
    searches: int = 1


class Plugins:
    """Built once per gateway: the search settings and the upstream client the search goes through."""

    def __init__(self, config: Config, transport: Transport,
                 today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date()) -> None:
        self.search = config.search
        self.transport = transport
        self.today = today

    def start(self, request: ChatRequest, models: list[Model]) -> PluginRun | None:
        """The plugins this request runs (None when none). Raises a 400 for what cannot be honoured:
        web search without a `search:` section, `native` PDFs for a model that takes no files.

        A request without plugins, `:online` or file parts costs 0.4 us here with one message, 13 us with
        a 40-message conversation (the scan for file parts: ~0.3 us a message), measured in process on
        the shared 2-core Sapphire Rapids while other work ran on it (parse_chat of those 40 messages:
        42 us on a quiet machine)."""
        has_files = _has_files(request.messages)
        if not (request.plugins or has_files or online_variant(request.model)
                or (request.models and any(online_variant(m) for m in request.models))):
            return None
        plugins = parse_plugins(request.plugins, [request.model, *request.models])
        pdfs = files.pdf_parts(request.messages) if has_files else []
        healing_on = plugins.healing and healing.wants_json(request.params)
        if plugins.web is None and not healing_on and not pdfs:
            return None
        if pdfs and plugins.pdf_engine == "native":
            for model in models:
                if "file" not in model.input_modalities:
                    raise BadRequestError(f"{plugins.file_parser}: 'native' sends the PDF as it is, but "
                                          f"{model.id} does not take files; use 'pdf-text'",
                                          metadata={"param": plugins.file_parser, "model": model.id})
        if plugins.web is not None and self.search is None:
            raise BadRequestError(f"{plugins.web.where}: {SEARCH_NOT_CONFIGURED}",
                                  metadata={"param": "plugins" if plugins.web.where != "model" else "model"})
        if pdfs and plugins.pdf_engine not in TEXT_PDF_ENGINES and all("file" in m.input_modalities for m in models):
            pdfs = []  # every model takes the PDFs as they are: nothing to parse
            if plugins.web is None and not healing_on:
                return None
        return PluginRun(self, request, plugins, healing_on, pdfs)


def _has_files(messages: list[dict[str, Any]]) -> bool:
    for message in messages:
        content = message.get("content") if type(message) is dict else None
        if type(content) is list:
            for part in content:
                if type(part) is dict and part.get("type") == "file":
                    return True
    return False


@dataclass(slots=True)
class PluginRun:
    plugins: Plugins
    request: ChatRequest  # after prepare(): with the search results injected
    spec: PluginSet
    healing: bool
    pdfs: list[files.FilePart]
    search: WebSearch | None = None
    added_bytes: int = 0  # what prepare() added to the prompt (the results message), for prompt bounds
    _texts: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    _as_text: ChatRequest | None = None

    async def prepare(self) -> None:
        """Search and parse before the first attempt. A search failure is a 502 (or 408 on timeout):
        the request asked for web results and would be answered without them otherwise."""
        if self.spec.web is not None:
            await self._search(self.spec.web)
        if self.pdfs and self.spec.pdf_engine != "native":
            parsed = await asyncio.to_thread(lambda: [files.pdf_text(p) for p in self.pdfs])
            self._texts = {(p.message, p.part): files.text_part(p, text) for p, text in zip(self.pdfs, parsed, strict=True)}

    async def _search(self, options: WebOptions) -> None:
        config = self.plugins.search
        assert config is not None
        found = web.last_user_text(self.request.messages)
        if found is None:
            raise BadRequestError(f"{options.where}: web search needs a user message with text to search for",
                                  metadata={"param": "messages"})
        at, query = found
        limit = options.max_results or config.max_results
        upstream = exa.search_request(config, query[:2000], max_results=limit, mode=options.mode or config.mode,
                                      include_domains=options.include_domains,
                                      exclude_domains=options.exclude_domains)
        try:
            response = await self.plugins.transport.send(upstream, first_byte_timeout=config.timeout)
            try:
                body = await response.read()
            finally:
                response.release()
        except UpstreamError as err:
            if err.kind == "timeout":
                raise RequestTimeoutError(f"web search: {err.message}") from None
            raise ProviderError(f"web search failed: {err.message}", metadata={"provider_name": config.engine}) from None
        if response.status >= 400:
            raise ProviderError(f"web search failed: the search API answered {response.status}",
                                metadata={"provider_name": config.engine, "upstream_status": response.status})
        try:
            results = exa.parse_results(body, limit, config.max_characters)
        except exa.SearchError as err:
            raise ProviderError(f"web search failed: {err}", metadata={"provider_name": config.engine}) from None
        self.search = WebSearch(config.engine, results)
        prompt = web.search_prompt(options.search_prompt, self.plugins.today())
        note = web.results_message(prompt, results)
        self.added_bytes = len(note["content"].encode())
        messages = web.inject(self.request.messages, at, note)
        self.request = replace(self.request, messages=messages, native=None)

    def request_for(self, model: Model) -> ChatRequest:
        """The request an endpoint of `model` gets: the PDFs as text unless it takes them as they are."""
        if not self._texts:
            return self.request
        if self.spec.pdf_engine not in TEXT_PDF_ENGINES and "file" in model.input_modalities:
            return self.request
        if self._as_text is None:
            self._as_text = replace(self.request, messages=files.replace_parts(self.request.messages, self._texts),
                                    native=None)
        return self._as_text

    def adapt(self, once: Callable[[ChatRequest, P, C, float], Awaitable[T]]) -> Callable[[ChatRequest, P, C, float], Awaitable[T]]:
        """An attempt function that sends each endpoint the request for its model (`request_for`)."""
        if not self._texts:
            return once

        async def attempt(request: ChatRequest, provider: P, cand: C, timeout: float) -> T:
            return await once(self.request_for(cand.model), provider, cand, timeout)  # type: ignore[attr-defined]

        return attempt

    def finish(self, completion: Completion) -> None:
        """Annotate and heal a whole answer in place."""
        for choice in completion.choices:
            if self.healing and choice.content:
                choice.content = healing.heal(choice.content)
            if self.search is not None:
                notes = web.url_citations(self.search.results, choice.content or "")
                extra = dict(choice.extra or {})
                extra["annotations"] = [*(extra.get("annotations") or ()), *notes]
                choice.extra = extra

    def stream_edit(self) -> StreamEdit | None:
        if self.search is None and not self.healing:
            return None
        return StreamEdit(self.search.results if self.search is not None else None, self.healing)


@dataclass(slots=True)
class StreamEdit:
    """Edits a stream's delta batches: with healing, each choice's text is held back and sent healed
    just before its finishing delta; with web results, a delta carrying the `url_citation`
    annotations goes just before the finishing delta (the indexes need the whole text)."""

    results: list[exa.SearchResult] | None
    healing: bool
    texts: dict[int, list[str]] = field(default_factory=dict)

    def batch(self, deltas: list[Delta]) -> list[Delta]:
        out: list[Delta] = []
        for delta in deltas:
            if delta.content:
                self.texts.setdefault(delta.index, []).append(delta.content)
                if self.healing:
                    if delta.finish_reason is None and not _has_other(delta):
                        continue
                    delta = replace(delta, content=None)
            if delta.finish_reason is not None:
                out.extend(self._closing(delta.index))
            out.append(delta)
        return out

    def close(self) -> list[Delta]:
        """A stream that ended without finishing its choices: the held text still goes out."""
        out: list[Delta] = []
        for index in list(self.texts):
            if self.healing:
                out.append(Delta(index=index, content="".join(self.texts.pop(index))))
        return out

    def _closing(self, index: int) -> list[Delta]:
        text = "".join(self.texts.pop(index, ()))
        out: list[Delta] = []
        if self.healing:
            text = healing.heal(text) if text else text
            if text:
                out.append(Delta(index=index, content=text))
        if self.results is not None:
            out.append(Delta(index=index, extra={"annotations": web.url_citations(self.results, text)}))
        return out


def _has_other(delta: Delta) -> bool:
    return bool(delta.role or delta.reasoning or delta.refusal or delta.tool_calls or delta.extra
                or delta.logprobs is not None)
