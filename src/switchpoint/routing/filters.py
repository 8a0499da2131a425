"""Hard filters: which endpoints may serve a request at all. Each filter has a name (OpenRouter's
`excluded_by` vocabulary where one exists) so an empty result can say what emptied it."""

from __future__ import annotations

from collections.abc import Callable

from ..types import ChatRequest
from .candidate import Candidate
from .preferences import Preferences

Check = Callable[[Candidate], bool]
Filter = tuple[str, Check]

# Request fields that are parameters in the `supported_parameters` sense (openrouter-api.md §13.1).
PARAMETERS = frozenset({
    "temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty",
    "repetition_penalty", "max_tokens", "max_completion_tokens", "logit_bias", "logprobs", "top_logprobs",
    "prediction", "seed", "response_format", "stop", "tools", "tool_choice", "parallel_tool_calls",
    "web_search_options", "verbosity",
})


def requested_parameters(request: ChatRequest) -> frozenset[str]:
    params = request.params
    names = {name for name in PARAMETERS if params.get(name) is not None}
    if request.reasoning:
        names.add("reasoning")
    fmt = params.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        names.add("structured_outputs")
    return frozenset(names)


def request_filters(request: ChatRequest, prefs: Preferences) -> list[Filter]:
    """The filters this request needs, cheapest and most common first. Empty for a plain request."""
    filters: list[Filter] = []
    if prefs.only is not None or prefs.ignore:
        only, ignore = prefs.only, prefs.ignore
        filters.append(("allowed_providers",
                        lambda c: (only is None or c.provider in only) and c.provider not in ignore))
    if request.tools:
        filters.append(("tools", lambda c: "tools" in c.endpoint.supported_parameters))
    max_tokens = request.max_tokens
    if max_tokens is not None:
        filters.append(("max_tokens", lambda c: c.endpoint.max_output_tokens is None
                        or max_tokens <= c.endpoint.max_output_tokens))
    if prefs.max_price is not None:
        cap = prefs.max_price
        filters.append(("max_price", lambda c: (
            (cap.prompt is None or c.prompt_price <= cap.prompt)
            and (cap.completion is None or c.completion_price <= cap.completion)
            and (cap.request is None or float(c.endpoint.price.request) <= cap.request)
            and (cap.image is None or float(c.endpoint.price.image) <= cap.image))))
    if prefs.deny_data_collection:
        filters.append(("data_policy", lambda c: c.endpoint.data_collection == "deny"))
    if prefs.quantizations is not None:
        allowed = prefs.quantizations
        filters.append(("quantization", lambda c: (c.endpoint.quantization or "unknown").lower() in allowed))
    if prefs.require_parameters:
        needed = requested_parameters(request)
        filters.append(("require_parameters", lambda c: needed <= c.endpoint.supported_parameters))
    return filters


def free_filter(c: Candidate) -> bool:
    return c.free


def extended_filter(c: Candidate) -> bool:
    """`:extended`: the endpoints that serve the model's extended context window."""
    return c.endpoint.extended_context


def apply(candidates: tuple[Candidate, ...] | list[Candidate], filters: list[Filter]) -> list[Candidate]:
    if not filters:
        return list(candidates)
    if len(filters) == 1:
        check = filters[0][1]
        return [c for c in candidates if check(c)]
    checks = [check for _, check in filters]
    return [c for c in candidates if all(check(c) for check in checks)]


def first_emptying(candidates: list[Candidate], filters: list[Filter]) -> str | None:
    """The name of the filter that left nothing (filters applied in order), if any did."""
    remaining = candidates
    for name, check in filters:
        remaining = [c for c in remaining if check(c)]
        if not remaining:
            return name
    return None
