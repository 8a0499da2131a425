"""Typed field checks for request bodies: small closures that raise a 400 naming the field.

Every check carries the JSON Schema of what it accepts (`check.schema`): the OpenAPI document
(server/openapi.py) is built from the same checks the gateway runs, so the two cannot drift apart.

Closures over exact `type(x) is ...` tests, not a schema library, because they run on every request.
Values come from orjson, so exact type tests are safe (a JSON `true` is a bool, never an int). A check
takes only the value; the field's path is put together only when a check fails (`Invalid` collects it
on its way up): formatting each member's name as it was visited cost twice as much. Members whose
type alone decides (a plain string, a boolean, a free-form object) are not called at all. A
`null` is taken as "not given" for every optional field, as the OpenAI API does."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..errors import BadRequestError

INT64_MAX = 2**63 - 1  # what SQL BIGINT columns, Redis counters and orjson.dumps all hold


class Check(Protocol):
    schema: dict[str, Any]

    def __call__(self, value: Any) -> None: ...


class Invalid(Exception):  # noqa: N818 - internal signal, becomes a BadRequestError in check_fields
    """A field failed its check; `path` holds its keys and indexes, innermost first."""

    def __init__(self, problem: str, *path: str | int) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = list(path)


def bad(field: str, problem: str) -> BadRequestError:
    return BadRequestError(f"{field}: {problem}", metadata={"param": field})


def field_name(top: str, path: list[str | int]) -> str:
    name = top
    for part in reversed(path):
        name += f"[{part}]" if type(part) is int else f".{part}"
    return name


def check_fields(fields: dict[str, Check], data: dict[str, Any]) -> None:
    """Type every known member of a body (null = not given); unknown members pass through."""
    key = ""
    try:
        for key, value in data.items():
            if value is not None:
                check = fields.get(key)
                if check is not None:
                    check(value)
    except Invalid as err:
        raise bad(field_name(key, err.path), err.problem) from None


def run(check: Check, name: str, value: Any) -> None:
    """Apply one check to a value named `name`, as a 400 on failure."""
    try:
        check(value)
    except Invalid as err:
        raise bad(field_name(name, err.path), err.problem) from None


def _checked(fn: Callable[[Any], None], schema: dict[str, Any], types: tuple[type, ...] | None = None) -> Check:
    """Attach the schema; `types` marks a check that a type test alone decides (arrays of such items
    are checked in one tight loop)."""
    fn.schema = schema  # type: ignore[attr-defined]
    fn.types = types  # type: ignore[attr-defined]
    return fn  # type: ignore[return-value]


def string(*, min_length: int = 0, max_length: int | None = None, description: str | None = None) -> Check:
    def check(value: Any) -> None:
        if type(value) is not str:
            raise Invalid("must be a string")
        if len(value) < min_length:
            raise Invalid("must not be empty" if min_length == 1 else f"must be at least {min_length} characters")
        if max_length is not None and len(value) > max_length:
            raise Invalid(f"must be at most {max_length} characters")

    schema: dict[str, Any] = {"type": "string"}
    if min_length:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    if description:
        schema["description"] = description
    plain = min_length == 0 and max_length is None
    return _checked(check, schema, (str,) if plain else None)


def boolean() -> Check:
    def check(value: Any) -> None:
        if type(value) is not bool:
            raise Invalid("must be true or false")

    return _checked(check, {"type": "boolean"}, (bool,))


def integer(low: int | None = None, high: int | None = None) -> Check:
    """An integer within [low, high], and always within the signed 64-bit range."""
    lo = -INT64_MAX - 1 if low is None else low
    hi = INT64_MAX if high is None else high

    def check(value: Any) -> None:
        if type(value) is not int:
            raise Invalid("must be an integer")
        if value < lo:
            raise Invalid(f"must be at least {lo}")
        if value > hi:
            raise Invalid(f"must be at most {hi}")

    return _checked(check, {"type": "integer", "minimum": lo, "maximum": hi})


def number(low: float | None = None, high: float | None = None) -> Check:
    def check(value: Any) -> None:
        kind = type(value)
        if kind is not float and kind is not int:
            raise Invalid("must be a number")
        if low is not None and value < low:
            raise Invalid(f"must be at least {low:g}")
        if high is not None and value > high:
            raise Invalid(f"must be at most {high:g}")

    schema: dict[str, Any] = {"type": "number"}
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    return _checked(check, schema)


def enum(*values: str) -> Check:
    allowed = frozenset(values)
    quoted = [f"'{v}'" for v in values]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"

    def check(value: Any) -> None:
        if type(value) is not str or value not in allowed:
            raise Invalid(f"must be {listed}")

    return _checked(check, {"type": "string", "enum": list(values)})


def array(item: Check, *, min_items: int = 0, max_items: int | None = None) -> Check:
    types = getattr(item, "types", None)

    def check(value: Any) -> None:
        if type(value) is not list:
            raise Invalid("must be an array")
        if len(value) < min_items:
            raise Invalid("must not be empty" if min_items == 1 else f"must have at least {min_items} items")
        if max_items is not None and len(value) > max_items:
            raise Invalid(f"must have at most {max_items} item{'s' if max_items != 1 else ''}")
        i = 0
        try:
            if types is not None:
                for i, x in enumerate(value):  # noqa: B007 - i names the failing item
                    if type(x) not in types:
                        item(x)
            else:
                for i, x in enumerate(value):  # noqa: B007
                    item(x)
        except Invalid as err:
            err.path.append(i)
            raise

    schema: dict[str, Any] = {"type": "array", "items": item.schema}
    if min_items:
        schema["minItems"] = min_items
    if max_items is not None:
        schema["maxItems"] = max_items
    return _checked(check, schema)


def obj(fields: dict[str, Check] | None = None, *, required: Iterable[str] = (), values: Check | None = None,
        closed: bool = False, after: Callable[[dict[str, Any]], None] | None = None,
        description: str | None = None) -> Check:
    """An object: the named `fields` typed (null = not given), `required` present, other members
    checked by `values` when given, rejected when `closed`, else passed through as sent. `after`
    applies rules between fields once their types are known (raising Invalid with the field's key)."""
    known = fields or {}
    needed = tuple(required)
    allowed = ", ".join(sorted(known))
    # each field's check, and the types that alone decide it (no call needed for those)
    entries = {key: (sub, getattr(sub, "types", None) or ()) for key, sub in known.items()}

    def free(value: Any) -> None:  # any object: members are not looked at
        if type(value) is not dict:
            raise Invalid("must be an object")

    def check(value: Any) -> None:
        if type(value) is not dict:
            raise Invalid("must be an object")
        key = ""
        try:
            for key, member in value.items():
                entry = entries.get(key)
                if entry is None:
                    if values is not None:
                        values(member)
                    elif closed:
                        raise Invalid(f"unknown field (allowed: {allowed})")
                elif member is not None and type(member) not in entry[1]:
                    entry[0](member)
        except Invalid as err:
            err.path.append(key)
            raise
        for key in needed:
            if value.get(key) is None:
                raise Invalid("required", key)
        if after is not None:
            after(value)

    schema: dict[str, Any] = {"type": "object"}
    if known:
        schema["properties"] = {key: sub.schema if key in needed else nullable(sub.schema)
                                for key, sub in known.items()}
    if needed:
        schema["required"] = list(needed)
    if values is not None:
        schema["additionalProperties"] = values.schema
    elif closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    if not known and values is None and not closed and not needed and after is None:
        return _checked(free, schema, (dict,))
    return _checked(check, schema)


def one_of(choices: dict[type, Check], problem: str) -> Check:
    """A value whose JSON type picks its check (e.g. a string, or an array of strings)."""
    def check(value: Any) -> None:
        chosen = choices.get(type(value))
        if chosen is None:
            raise Invalid(problem)
        chosen(value)

    decided = tuple(kind for kind, c in choices.items() if getattr(c, "types", None) == (kind,))
    return _checked(check, {"anyOf": [c.schema for c in dict.fromkeys(choices.values())]}, decided or None)


def custom(fn: Callable[[Any], None], schema: dict[str, Any]) -> Check:
    """A hand-written check (raising Invalid) with the schema it enforces."""
    return _checked(fn, schema)


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}
