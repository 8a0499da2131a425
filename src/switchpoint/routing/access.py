"""Access policies in planning (pure): which of the requested models a key (and its team) may use,
and the filters that keep only the endpoints its policies allow. The policies are data made when the
key was loaded (config/access.py); nothing here looks anything up.

A model the key may not use is refused (403) before any upstream call, with
`metadata.excluded_by: ["key_policy"]`; so is a model whose every endpoint a policy's `providers` or
`max_price` excludes, naming that constraint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..config.access import AccessPolicy
from ..config.catalogue import Endpoint, Model
from ..errors import ForbiddenError
from .filters import Check, Filter

KEY_POLICY = "key_policy"  # the `excluded_by` name of every policy refusal
ResolvedModels = list[tuple[Model, str | None]]


def permitted(model_id: str, policies: Sequence[AccessPolicy]) -> bool:
    return all(policy.allows_model(model_id) for policy in policies)


def require_permitted(model_id: str, policies: Sequence[AccessPolicy]) -> None:
    """A 403 unless every policy allows `model_id` (a router such as `switchpoint/auto`, which must be
    allowed by name or glob before the models it picks are checked in turn)."""
    refusing = next((p for p in policies if not p.allows_model(model_id)), None)
    if refusing is not None:
        raise model_refused(model_id, refusing, "models")


def allowed_models(models: ResolvedModels, policies: Sequence[AccessPolicy]) -> ResolvedModels:
    """The requested models the policies allow, in order; a 403 naming the first when none is."""
    if not policies:
        return models
    allowed = [(m, v) for m, v in models if permitted(m.id, policies)]
    if allowed:
        return allowed
    model, variant = models[0]
    refusing = next(p for p in policies if not p.allows_model(model.id))
    raise model_refused(_name(model, variant), refusing, "models")


def policy_filters(policies: Sequence[AccessPolicy]) -> list[Filter]:
    """One filter per constraint of each policy that restricts endpoints (providers, max_price)."""
    filters: list[Filter] = []
    for policy in policies:
        if policy.providers is not None:
            filters.append((f"{KEY_POLICY}:providers:{policy.owner}", _provider_check(policy)))
        if policy.max_price is not None:
            filters.append((f"{KEY_POLICY}:max_price:{policy.owner}", _price_check(policy)))
    return filters


def _provider_check(policy: AccessPolicy) -> Check:
    return lambda c: policy.allows_provider(c.provider)


def _price_check(policy: AccessPolicy) -> Check:
    return lambda c: policy.allows_price(c.endpoint.price.prompt, c.endpoint.price.completion)


def is_policy_filter(name: str | None) -> bool:
    return name is not None and name.startswith(KEY_POLICY + ":")


def filter_refusal(name: str, model_name: str, policies: Sequence[AccessPolicy]) -> ForbiddenError:
    """The 403 for a policy filter (`key_policy:<constraint>:<owner>`) that left no endpoint."""
    _, constraint, owner = name.split(":", 2)
    policy = next(p for p in policies if p.owner == owner)
    return model_refused(model_name, policy, constraint)


def model_refused(model_name: str, policy: AccessPolicy, constraint: str) -> ForbiddenError:
    whose = "Key" if policy.owner == "key" else f"Key of {policy.owner}"
    detail = {
        "models": "",
        "providers": f": none of its endpoints is on an allowed provider ({', '.join(policy.providers or ())})",
        "max_price": f": none of its endpoints is within the max_price {policy.max_price.as_dict() if policy.max_price else {}}"
                     " (USD per million tokens)",
    }[constraint]
    metadata: dict[str, Any] = {"model": model_name, "excluded_by": [KEY_POLICY], "constraint": constraint,
                                "policy": "key" if policy.owner == "key" else "team"}
    return ForbiddenError(f"{whose} is not allowed to use model {model_name}{detail}.", metadata=metadata)


def _name(model: Model, variant: str | None) -> str:
    return model.id if variant is None else f"{model.id}:{variant}"


def endpoint_allowed(endpoint: Endpoint, policies: Sequence[AccessPolicy]) -> bool:
    """Whether every policy lets a request use this endpoint (its provider and its price)."""
    return all(p.allows_provider(endpoint.provider) and p.allows_price(endpoint.price.prompt, endpoint.price.completion)
               for p in policies)


def visible(model: Model, policies: Sequence[AccessPolicy]) -> bool:
    """Whether a key with these policies may use the model at all: the model is allowed and at least
    one of its endpoints is (what the model listings show it)."""
    if not policies:
        return True
    return permitted(model.id, policies) and any(endpoint_allowed(e, policies) for e in model.endpoints)
