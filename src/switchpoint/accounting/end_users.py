"""End users of a key: the id a request names (OpenAI/OpenRouter `user`, the Messages API's
`metadata.user_id`, the Responses API's `user` or `safety_identifier`), as the ledger records it and
as the key's per-end-user limits (`user_limit`, `user_rate_limit`) count it."""

from __future__ import annotations

MAX_END_USER = 256  # the ledger's external_user column


def end_user(*values: object) -> str | None:
    """The first non-empty string among `values`, cut to what the ledger keeps (so the spend counted
    against an end user's limit is the spend the ledger holds for that id); None when there is none."""
    for value in values:
        if isinstance(value, str) and value:
            return value[:MAX_END_USER]
    return None
