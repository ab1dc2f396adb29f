"""How request bodies are checked: parsed once, each documented field held to its ``Kind``,
refused with a clear 400 that names the value (``messages[2].content[0].text``).

What the rest of a request's path may rely on afterwards: every documented field of the
endpoint, when present and not null, has its documented JSON type down to its leaves; the
dialect's required fields are there; and nothing in the body nests deeper than
``MAX_DEPTH``. An integer field written as a whole-number float (``"n": 2.0``, which JSON and
OpenAI's specification count as an integer) is accepted and left in the body as a Python
``int``, so the translators, litellm and Raceway's own readers see integers only. Other
fields pass through unchecked. The tables of each dialect's fields are
in ``validation`` (chat, embeddings) and ``dialect_validation`` (the others).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from router.errors import InvalidRequest

# Fields that would let a client redirect traffic or swap credentials.
FORBIDDEN_FIELDS = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "api_type",
        "organization",
        "headers",
        "extra_headers",
        "custom_llm_provider",
        "deployment_id",
        "azure_ad_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "vertex_credentials",
        "mock_response",
        "litellm_params",
    }
)
# Objects and arrays may nest this deep, counting the body itself (documented in docs/endpoints.md).
MAX_DEPTH = 128


class _WrongValue(Exception):
    """A value of the wrong kind somewhere in the body. Each enclosing level adds its field name
    or index on the way out, so the path is built only when a request is refused."""

    def __init__(self, problem: str, code: str, path: list[str | int] | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.code = code
        self.path: list[str | int] = path or []  # innermost first

    def refusal(self) -> InvalidRequest:
        """The 400 naming the value, e.g. ``messages[2].content[0].text``."""
        outermost, *inner = reversed(self.path)
        param = str(outermost) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in inner)
        return InvalidRequest(f"{param} {self.problem}", param=param, code=self.code)


@dataclass(frozen=True, slots=True)
class Kind:
    """What a field of OpenAI's request body must be: its JSON types and, for an object, the
    kinds of its documented fields; for an array, its items'. Anything else (an unknown field,
    ``metadata``, a JSON schema) is free-form: passed through, only its depth is checked.

    Types are compared exactly (``type(v) in types``): JSON gives exactly these classes, and
    ``true`` is not an integer here (a ``whole`` kind also takes a float without a fraction, and
    the body then holds it as an ``int``). ``null`` counts as absent, as in OpenAI's API.
    """

    what: str
    types: tuple[type, ...]
    fields: Mapping[str, Kind] | None = None  # None: a free-form object
    items: Kind | None = None  # None: a free-form array
    required: tuple[str, ...] = ()
    choices: frozenset[str] = frozenset()
    # Fields required by the value of another (``tag``): a tool message needs its tool_call_id.
    tag: str = "type"
    required_when: Mapping[str, tuple[str, ...]] | None = None
    # Fields whose kind depends on the tag's value, checked only there: a Responses
    # ``function_call`` item's ``arguments`` is a string, a ``tool_search_call``'s an object.
    variants: Mapping[str, Mapping[str, Kind]] | None = None
    whole: bool = False  # an integer: a whole-number float is taken too, as an int

    # Whether ``inspect`` has anything to do once the type is right (not for strings, numbers...).
    nested: bool = field(init=False)

    def __post_init__(self) -> None:
        if self.required_when is not None or self.variants is not None:
            # the tag's value is then a string (or absent): hashable
            assert self.fields is not None and self.tag in self.fields, f"{self.tag} must be a checked field"
        nested = bool(self.choices) or dict in self.types or list in self.types
        object.__setattr__(self, "nested", nested)

    def inspect(self, value: Any, depth: int) -> None:
        """What ``value``, already known to be of one of ``types``, holds; ``depth``: the level it
        sits at (the body is level 1). Callers test the type themselves and call this only when
        ``nested``: most values are strings and numbers, and a call costs more than the test."""
        if self.choices and value not in self.choices:
            raise _WrongValue(f"must be {self.what}", "invalid_value")
        if type(value) is dict:
            if self.fields is None:
                _check_depth(value, depth)
                return
            _check_fields(value, self.fields, depth)
            for name in self.required:
                if value.get(name) is None:
                    raise _WrongValue("is required", "missing_field", [name])
            if self.variants is not None and (variant := self.variants.get(value.get(self.tag, ""))):
                _check_variant(value, variant, depth)
            if self.required_when is not None:
                tag = value.get(self.tag, "")
                for name in self.required_when.get(tag, ()):
                    if value.get(name) is None:
                        raise _WrongValue(f"is required when {self.tag} is {tag!r}", "missing_field", [name])
        elif type(value) is list:
            items = self.items
            if items is None:
                _check_depth(value, depth)
                return
            for index, item in enumerate(value):
                try:
                    if type(item) not in items.types:
                        value[index] = _whole(item, items)
                    if items.nested:
                        items.inspect(item, depth + 1)
                except _WrongValue as wrong:
                    wrong.path.append(index)
                    raise


def _check_fields(value: dict[str, Any], fields: Mapping[str, Kind], depth: int) -> None:
    """The fields present in ``value`` (at level ``depth``): proportional to what the client sent."""
    for name, item in value.items():
        kind = fields.get(name)
        try:
            if kind is not None:
                if item is not None:
                    if type(item) not in kind.types:
                        value[name] = _whole(item, kind)  # a new value for a key: safe while iterating
                    elif kind.nested:
                        kind.inspect(item, depth + 1)
            elif type(item) is dict or type(item) is list:
                _check_depth(item, depth + 1)
        except _WrongValue as wrong:
            wrong.path.append(name)
            raise


def _check_variant(value: dict[str, Any], variant: Mapping[str, Kind], depth: int) -> None:
    """The fields of ``value`` (at level ``depth``) whose kind its tag decides; their depth, as
    free-form fields, is checked already."""
    for name, kind in variant.items():
        item = value.get(name)
        if item is None:
            continue
        try:
            if type(item) not in kind.types:
                value[name] = _whole(item, kind)
            elif kind.nested:
                kind.inspect(item, depth + 1)
        except _WrongValue as wrong:
            wrong.path.append(name)
            raise


# What orjson writes: an integer outside these bounds cannot go upstream (orjson reads a longer
# integer literal as a float already).
_LOWEST_INTEGER = -(2**63)
_HIGHEST_INTEGER = 2**64 - 1


def _whole(item: Any, kind: Kind) -> int:
    """``item``, of none of ``kind``'s types, as the integer it stands for when ``kind`` is an
    integer and ``item`` a float without a fraction (``2.0``); else the refusal."""
    if kind.whole and type(item) is float and item.is_integer():
        number = int(item)
        if _LOWEST_INTEGER <= number <= _HIGHEST_INTEGER:
            return number
        raise _WrongValue("must be an integer of at most 64 bits", "invalid_value")
    raise _WrongValue(f"must be {kind.what}", "invalid_type")


def _check_depth(container: dict[str, Any] | list[Any], depth: int) -> None:
    """Free-form JSON at level ``depth`` may nest objects and arrays down to level ``MAX_DEPTH``.

    orjson reads 1,024 levels but writes only 254, and the body is written again (upstream, into
    the cache key); a limit well below keeps room for the gateway's own wrapping. Only
    containers are visited, level by level, so strings and numbers cost one type check each.
    """
    level: list[Any] = [container]
    while level:
        if depth > MAX_DEPTH:
            raise _WrongValue(
                f"nests arrays and objects deeper than the limit of {MAX_DEPTH} levels", "too_deeply_nested"
            )
        below: list[Any] = []
        for item in level:
            for value in item.values() if type(item) is dict else item:
                if type(value) is dict or type(value) is list:
                    below.append(value)
        level = below
        depth += 1


def object_of(**fields: Kind) -> Kind:
    """An object with documented fields; ``OBJECT`` is a free-form one."""
    return Kind("an object", (dict,), fields)


def array_of(items: Kind, what: str = "an array") -> Kind:
    return Kind(what, (list,), items=items)


class EmbeddingsInput(Kind):
    """A non-empty string, or an array of strings, of token ids or of token arrays: one of them,
    not a mix. At most three levels deep, so no depth check is needed. Token ids written as
    whole-number floats become ints, as in every integer field."""

    def inspect(self, value: Any, depth: int) -> None:
        if type(value) is str:
            valid = value != ""
        else:
            valid = len(value) > 0 and (
                all(type(item) is str for item in value)
                or _token_ids(value)
                or all(type(item) is list and _token_ids(item) for item in value)
            )
        if not valid:
            raise _WrongValue(f"must be {self.what}", "invalid_type")


def _token_ids(values: list[Any]) -> bool:
    """Whether ``values`` are all integers; whole-number floats among them become ints."""
    if all(type(item) is int for item in values):
        return True
    if not all(type(item) is int or (type(item) is float and item.is_integer()) for item in values):
        return False
    try:
        values[:] = [_whole(item, INTEGER) if type(item) is float else item for item in values]
    except _WrongValue:
        return False
    return True


STRING = Kind("a string", (str,))
BOOLEAN = Kind("a boolean", (bool,))
INTEGER = Kind("an integer", (int,), whole=True)
NUMBER = Kind("a number", (int, float))
OBJECT = Kind("an object", (dict,))
STRINGS = array_of(STRING, "an array of strings")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(document, dict):
        raise InvalidRequest("the request body must be a JSON object", code="invalid_json")
    forbidden = FORBIDDEN_FIELDS.intersection(document)
    if forbidden:
        name = sorted(forbidden)[0]
        raise InvalidRequest(
            f"the field {name!r} is not accepted: upstreams and credentials are set by the gateway",
            param=name,
            code="forbidden_field",
        )
    return document


def check_body(body: dict[str, Any], fields: Mapping[str, Kind]) -> None:
    try:
        _check_fields(body, fields, 1)
    except _WrongValue as wrong:
        raise wrong.refusal() from None


def checked_request(raw: bytes, fields: Mapping[str, Kind], *required: str) -> tuple[str, dict[str, Any]]:
    """(model, body) of a request whose body names its model: parsed, its ``required`` fields
    there, each field held to its kind in ``fields``; or ``InvalidRequest``."""
    body = parse_json_object(raw)
    model = model_of(body)
    require(body, *required)
    check_body(body, fields)
    return model, body


def require(body: dict[str, Any], *names: str) -> None:
    """Each of ``names`` present and not null (``'x' is required``, as OpenAI's ``missing_field``)."""
    for name in names:
        if body.get(name) is None:
            raise InvalidRequest(f"{name!r} is required", param=name, code="missing_field")


def model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise InvalidRequest("'model' is required", param="model", code="missing_field")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' must be a non-empty string", param="model", code="invalid_type")
    return model


def check_stream_options(body: dict[str, Any]) -> None:
    """OpenAI's rule, for chat and legacy completions: ``stream_options`` only with ``stream``."""
    if body.get("stream_options") is not None and not body.get("stream"):
        raise InvalidRequest(
            "'stream_options' is only allowed when 'stream' is true",
            param="stream_options",
            code="invalid_value",
        )
