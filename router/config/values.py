"""Scalar values of the config: each parser returns the value or raises ValueError for the operator.

A message names what was expected, and at most the kind of what was written ("got a string"),
never what was written: a secret pasted into the wrong key must not end up in a terminal or a
CI log. The key's path is the reader's to add (``ConfigReader.problem``).
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from router.config.model import FAKE_PROVIDER, LITELLM_PROVIDERS, NATIVE_PROVIDERS
from router.config.strategies import STRATEGY_NAMES, StrategyName
from router.config.units import parse_duration

T = TypeVar("T")
E = TypeVar("E", bound=enum.StrEnum)


def join(path: str, key: str) -> str:
    return key if path == "(root)" else f"{path}.{key}"


def type_name(value: Any) -> str:
    """What kind of value ``value`` is, without saying what it is."""
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        type(None): "nothing",
    }
    return names.get(type(value), "another kind of value")


def _expected(what: str, value: Any) -> ValueError:
    """The refusal of ``value``: a number of the wrong size is a number, which says enough."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ValueError(f"expected {what}")
    return ValueError(f"expected {what}, got {type_name(value)}")


def suggestion(known: Iterable[str], written: Any) -> str:
    """``"; did you mean NAME?"`` when ``written`` is a near miss of a known name, else ``""``.
    Only the known name is shown: a near miss of a short name is no pasted secret, but it is
    not repeated either."""
    if not isinstance(written, str):
        return ""
    close = difflib.get_close_matches(written, sorted(known), n=1, cutoff=0.75)
    return f"; did you mean {close[0]}?" if close else ""


def optional(parse: Callable[[Any], T]) -> Callable[[Any], T | None]:
    return lambda value: None if value is None else parse(value)


def name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {type_name(value)}")
    return value


# What an HTTP header value carries reliably: visible ASCII, spaces inside but not at the ends.
_HEADER_SAFE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


def deployment_name(value: Any) -> str:
    """A deployment's name: every answer carries it in the ``x-raceway-deployment`` header."""
    text = name(value)
    if not _HEADER_SAFE.fullmatch(text):
        raise ValueError(
            "cannot be sent in the x-raceway-deployment header: use printable ASCII "
            "(letters, digits, punctuation, inner spaces)"
        )
    return text


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110's token
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a tab may stand in a header value


def is_header_name(text: str) -> bool:
    return _HEADER_NAME.fullmatch(text) is not None


def fits_a_header(text: str) -> bool:
    """Can an HTTP client send ``text`` as a header value? (not a line break, NUL, ...)"""
    return _CONTROL.search(text) is None


def name_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a non-empty list of names")
    return tuple(value)


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _expected("true or false", value)
    return value


def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _expected("a positive integer", value)
    return value


def non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _expected("an integer of 0 or more", value)
    return value


def positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _expected("a positive number", value)
    return float(value)


def non_negative_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _expected("a number of 0 or more", value)
    return float(value)


def fraction(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise _expected("a fraction above 0 and at most 1, e.g. 0.8", value)
    return float(value)


def ratio(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _expected("a number from 0 to 1, e.g. 0.1", value)
    return float(value)


def member_of(choices: type[E]) -> Callable[[Any], E]:
    """A value of a closed set, written as its member's value."""

    def parse(value: Any) -> E:
        try:
            return choices(value)
        except ValueError:
            raise _expected(f"one of {', '.join(choices)}{suggestion(choices, value)}", value) from None

    return parse


def sha256_hex(value: Any) -> bytes:
    """A SHA-256 digest written as 64 hex digits (what ``raceway keys create`` prints)."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise ValueError("expected the key's SHA-256 as 64 hex digits")
    return bytes.fromhex(value)


def positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("a duration here must be greater than zero")
    return seconds


def origin_list(value: Any) -> tuple[str, ...]:
    """Browser origins (``scheme://host[:port]``, lower case as browsers send them), or ``*``."""
    origins = name_list(value)
    for index, origin in enumerate(origins):
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin, re.IGNORECASE):
            raise ValueError(f"expected origins like https://app.example.com or *; entry {index} is not one")
    return tuple(origin.lower() for origin in origins)


def hedge_delay(value: Any) -> float | None:
    if value == "auto":
        return None
    return parse_duration(value)


def bind(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", value):
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080")
    return value


def provider(value: Any) -> str:
    known = {FAKE_PROVIDER, *NATIVE_PROVIDERS, *LITELLM_PROVIDERS}
    if value not in known:
        raise ValueError(f"unknown provider{suggestion(known, value)} (known: {', '.join(sorted(known))})")
    return str(value)


def strategy(value: Any) -> str:
    if value not in STRATEGY_NAMES:
        known = [str(name) for name in StrategyName]
        raise ValueError(f"unknown strategy{suggestion(known, value)} (known: {', '.join(known)})")
    return str(value)
