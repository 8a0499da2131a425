"""The `plugins` array of a chat request, checked: every entry is honoured or refused with a 400 naming it.

OpenRouter's plugins (openrouter-api.md §12, docs guides/features/plugins*.mdx) are objects `{id,
enabled?, ...}`. The gateway honours `web` (and the `:online` model variant, its shorthand),
`response-healing` and `file-parser`; `context-compression` is OpenRouter's newer spelling of the
`transforms: ["middle-out"]` setting and is left to the code that handles transforms. Every other id
(moderation, web-fetch, fusion, auto-router, pareto-router, ...) and every option this gateway cannot
honour is a 400 that names the field (`plugins[0].id`, `plugins[1].engine`): nothing is accepted and
silently ignored. `enabled: false` turns a plugin off, as it turns off an account default on OpenRouter.

Pure: no I/O. The protocol layer calls `parse_plugins` while it checks the body; the engine calls it
again on the checked list (a few microseconds, and only for requests that carry plugins)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadRequestError

WEB, HEALING, FILE_PARSER, COMPRESSION = "web", "response-healing", "file-parser", "context-compression"
# OpenRouter's plugin ids this gateway does not run: refused by name rather than ignored.
NOT_SUPPORTED = ("moderation", "web-fetch", "fusion", "auto-router", "auto-beta-router", "pareto-router")
WEB_ENGINES = ("exa",)  # the engines a configured search section can serve
OTHER_WEB_ENGINES = ("native", "firecrawl", "parallel", "perplexity")
EXA_MODES = ("instant", "fast", "auto", "deep-lite", "deep", "deep-reasoning")
MAX_RESULTS = 10  # OpenRouter documents 1-10 results for the web plugin
TEXT_PDF_ENGINES = ("pdf-text", "cloudflare-ai")  # free text extraction ("pdf-text" is the legacy name)
PDF_ENGINES = (*TEXT_PDF_ENGINES, "native")
ONLINE = "online"


@dataclass(frozen=True, slots=True)
class WebOptions:
    """The web plugin as asked: None fields take the configured defaults."""

    max_results: int | None = None
    search_prompt: str | None = None
    engine: str | None = None
    mode: str | None = None
    include_domains: tuple[str, ...] = ()
    exclude_domains: tuple[str, ...] = ()
    where: str = "plugins"  # the field a refusal names


@dataclass(frozen=True, slots=True)
class PluginSet:
    web: WebOptions | None = None
    healing: bool = False
    pdf_engine: str | None = None  # file-parser's pdf.engine; None: native where the model takes files
    file_parser: str | None = None  # the field that set pdf_engine, for refusals

    @property
    def empty(self) -> bool:
        return self.web is None and not self.healing and self.file_parser is None


NONE = PluginSet()


def bad(path: str, message: str) -> BadRequestError:
    return BadRequestError(f"{path}: {message}", metadata={"param": path})


def parse_plugins(entries: list[Any] | None, model_ids: list[str] | tuple[str, ...] = ()) -> PluginSet:
    """The plugins a request asks for (its `plugins` array and a `:online` model), or a 400 naming
    the entry or option that cannot be honoured."""
    web: WebOptions | None = None
    healing = False
    pdf_engine: str | None = None
    file_parser: str | None = None
    for i, entry in enumerate(entries or ()):
        where = f"plugins[{i}]"
        if not isinstance(entry, dict):
            raise bad(where, "must be an object such as {\"id\": \"web\"}")
        plugin_id = entry.get("id")
        if not isinstance(plugin_id, str) or not plugin_id:
            raise bad(f"{where}.id", "required: a plugin id (web, response-healing, file-parser)")
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise bad(f"{where}.enabled", "must be true or false")
        if plugin_id == WEB:
            options = _web(entry, where)
            if enabled:
                web = options
        elif plugin_id == HEALING:
            _only(entry, where, ())
            healing = enabled
        elif plugin_id == FILE_PARSER:
            engine = _file_parser(entry, where)
            if enabled:
                pdf_engine, file_parser = engine, f"{where}.pdf.engine"
        elif plugin_id == COMPRESSION:
            continue  # the transforms setting, handled with transforms
        elif plugin_id in NOT_SUPPORTED:
            raise bad(f"{where}.id", f"the '{plugin_id}' plugin is not supported by this gateway "
                                     "(supported: web, response-healing, file-parser)")
        else:
            raise bad(f"{where}.id", f"unknown plugin '{plugin_id}' (supported: web, response-healing, file-parser)")
    if web is None and any(online_variant(m) for m in model_ids) and not _web_disabled(entries):
        web = WebOptions(where="model")
    if web is None and not healing and file_parser is None:
        return NONE
    return PluginSet(web, healing, pdf_engine, file_parser)


def online_variant(model_id: str) -> bool:
    """`vendor/model:online` (also after another variant, `vendor/model:free:online`): OpenRouter's
    shorthand for the web plugin."""
    return model_id.endswith(":" + ONLINE)


def _web_disabled(entries: list[Any] | None) -> bool:
    return any(isinstance(e, dict) and e.get("id") == WEB and e.get("enabled") is False for e in entries or ())


def _only(entry: dict[str, Any], where: str, allowed: tuple[str, ...]) -> None:
    for name in entry:
        if name not in ("id", "enabled", *allowed):
            raise bad(f"{where}.{name}", f"not an option of the '{entry['id']}' plugin this gateway can honour"
                                         + (f" (options: {', '.join(allowed)})" if allowed else ""))


def _web(entry: dict[str, Any], where: str) -> WebOptions:
    _only(entry, where, ("max_results", "search_prompt", "engine", "mode", "include_domains", "exclude_domains"))
    max_results = entry.get("max_results")
    if max_results is not None and (type(max_results) is not int or not 1 <= max_results <= MAX_RESULTS):
        raise bad(f"{where}.max_results", f"must be an integer from 1 to {MAX_RESULTS}")
    prompt = entry.get("search_prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise bad(f"{where}.search_prompt", "must be a string")
    engine = entry.get("engine")
    if engine is not None:
        if engine in OTHER_WEB_ENGINES:
            raise bad(f"{where}.engine", f"the '{engine}' search engine is not available on this gateway "
                                         f"(available: {', '.join(WEB_ENGINES)}, or leave it out)")
        if engine not in WEB_ENGINES:
            raise bad(f"{where}.engine", f"unknown search engine '{engine}' (available: {', '.join(WEB_ENGINES)})")
    mode = entry.get("mode")
    if mode is not None and mode not in EXA_MODES:
        raise bad(f"{where}.mode", f"must be one of {', '.join(EXA_MODES)} (Exa's search types)")
    return WebOptions(max_results, prompt, engine, mode, _domains(entry, where, "include_domains"),
                      _domains(entry, where, "exclude_domains"), where)


def _domains(entry: dict[str, Any], where: str, name: str) -> tuple[str, ...]:
    value = entry.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(d, str) and d for d in value):
        raise bad(f"{where}.{name}", "must be an array of domains such as [\"example.com\"]")
    return tuple(value)


def _file_parser(entry: dict[str, Any], where: str) -> str | None:
    _only(entry, where, ("pdf",))
    pdf = entry.get("pdf")
    if pdf is None:
        return None
    if not isinstance(pdf, dict):
        raise bad(f"{where}.pdf", "must be an object such as {\"engine\": \"pdf-text\"}")
    for name in pdf:
        if name != "engine":
            raise bad(f"{where}.pdf.{name}", "not an option this gateway can honour (options: engine)")
    engine = pdf.get("engine")
    if engine is None:
        return None
    if engine == "mistral-ocr":
        raise bad(f"{where}.pdf.engine", "the 'mistral-ocr' engine (OCR) is not available on this gateway; "
                                         "use 'pdf-text' (the PDF's text layer) or 'native'")
    if engine not in PDF_ENGINES:
        raise bad(f"{where}.pdf.engine", f"unknown PDF engine '{engine}' (available: {', '.join(PDF_ENGINES)})")
    return str(engine)
