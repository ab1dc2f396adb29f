"""The mechanics of reading the parsed YAML: shapes, ``${ENV}`` values, and every problem
collected with its key path.

The dataclasses of ``router.config.model`` are the one source of a section's keys and
defaults: a section allows exactly its dataclass's fields, and a key left out keeps the
dataclass's default. A section's reader (``sections``, ``deployments``, ``groups``,
``keys``) only says how each key is parsed (``ConfigReader.build``), which refuses to run
if a section's parsers and its dataclass's fields disagree.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from router.config import values as v
from router.config.secret import Secret

T = TypeVar("T")
Parse = Callable[[Any], Any]

# What a config key looks like (lower-case words joined by underscores): an unknown key of this
# shape is a misspelling, named in its problem; any other (digits, capitals, dashes: a token, a
# secret pasted as a key) is only counted.
_KEY_SHAPED = re.compile(r"[a-z]{1,24}(?:_[a-z]{1,24}){0,5}")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def keys_of(cls: type[Any]) -> frozenset[str]:
    """The fields of a config dataclass: the keys its YAML section may hold."""
    return frozenset(f.name for f in dataclasses.fields(cls))


def required_of(cls: type[Any]) -> frozenset[str]:
    """The fields of a config dataclass that have no default."""
    missing = dataclasses.MISSING
    return frozenset(
        f.name for f in dataclasses.fields(cls) if f.default is missing and f.default_factory is missing
    )


def default_of(cls: type[Any], name: str) -> Any:
    """A field's default, read from the dataclass (the only place it is written)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            return f.default
    raise KeyError(f"{cls.__name__} has no field {name!r}")


class ConfigReader:
    """Walks the parsed YAML, building typed objects and collecting problems."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- generic shapes -------------------------------------------------------

    def mapping(
        self, value: Any, path: str, *, allowed: Collection[str], required: Collection[str] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {v.type_name(value)}")
            return None
        for position, key in enumerate(value, start=1):
            if key in allowed:
                continue
            listed = f"(allowed: {', '.join(sorted(allowed))})"
            if isinstance(key, str) and _KEY_SHAPED.fullmatch(key):
                self.problem(v.join(path, key), f"unknown key{v.suggestion(allowed, key)} {listed}")
            else:  # not repeated: it may be a pasted secret; its place finds it
                self.problem(path, f"key number {position} is not one of its keys {listed}")
        for key in sorted(set(required) - value.keys()):
            self.problem(v.join(path, key), "is required")
        return value

    def listing(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {v.type_name(value)}")
            return []
        return value

    def build(
        self, cls: type[T], data: Mapping[str, Any], path: str, parsers: Mapping[str, Parse], **given: Any
    ) -> T | None:
        """A ``cls`` from ``given`` and the keys of ``data`` that ``parsers`` reads.

        A key that is absent, or invalid (reported), keeps the dataclass's default. None when
        a field without a default is missing: its problem is reported already. ``parsers`` and
        ``given`` together must name every field once, so a field added to a dataclass cannot be
        forgotten here.
        """
        named = parsers.keys() | given.keys()
        if named != keys_of(cls) or parsers.keys() & given.keys():
            raise TypeError(
                f"the reader of {cls.__name__} must name each field once: "
                f"missing {sorted(keys_of(cls) - named)}, unknown {sorted(named - keys_of(cls))}"
            )
        values = {name: value for name, value in given.items() if value is not None}
        for key, parse in parsers.items():
            if key in data:
                try:
                    values[key] = parse(data[key])
                except ValueError as exc:
                    self.problem(v.join(path, key), str(exc))
        if not required_of(cls) <= values.keys():
            return None
        return cls(**values)

    def section(self, cls: type[T], value: Any, path: str, parsers: Mapping[str, Parse]) -> T:
        """A section whose every key is optional: its dataclass's defaults when it is absent or broken."""
        data = self.mapping(value if value is not None else {}, path, allowed=keys_of(cls))
        built = self.build(cls, data or {}, path, parsers)
        assert built is not None, f"{cls.__name__} has a field without a default"
        return built

    def field(self, data: dict[str, Any], key: str, path: str, parse: Callable[[Any], T], default: T) -> T:
        if key not in data:
            return default
        try:
            return parse(data[key])
        except ValueError as exc:
            self.problem(v.join(path, key), str(exc))
            return default

    def text(self, value: Any) -> str:
        """A plain string with ``${ENV}`` references expanded."""
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {v.type_name(value)}")
        return self.expand(value)

    def file_path(self, value: Any) -> Path:
        """A file's path, ``${ENV}`` references and a leading ``~`` expanded."""
        return Path(self.text(value)).expanduser()

    def expand(self, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            raise ValueError(f"environment variable {name} is not set")

        return _ENV_REF.sub(substitute, value)

    def env_secret(self, value: Any) -> Secret:
        """A secret that must be given as an environment reference, never inline."""
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {v.type_name(value)}")
        if not _ENV_REF.fullmatch(value.strip()):
            raise ValueError("secrets must come from the environment: write ${VARIABLE_NAME}")
        secret = self.expand(value.strip())
        if not v.fits_a_header(secret):
            variable = _ENV_REF.fullmatch(value.strip()).group(1)  # type: ignore[union-attr]
            raise ValueError(
                f"the value of ${{{variable}}} holds a line break or another control character, which "
                "no HTTP header can carry (a secret read from a file often ends with a newline)"
            )
        return Secret(secret)

    def gateway_secret(self, value: Any) -> Secret:
        """A key clients present to the gateway: inline or from the environment, 8 characters at least."""
        secret = Secret(self.text(value))
        if len(secret.reveal()) < 8:
            raise ValueError("a gateway key must be at least 8 characters")
        return secret

    def named(
        self, root: dict[str, Any], section: str, build: Callable[[Any, str], T | None]
    ) -> dict[str, T]:
        """A list of named entries as a dict, with duplicates reported."""
        found: dict[str, T] = {}
        first: dict[str, int] = {}  # where each name was given first
        for index, item in enumerate(self.listing(root.get(section), section)):
            path = f"{section}[{index}]"
            entry = build(item, path)
            if entry is None:
                continue
            name: str = entry.name  # type: ignore[attr-defined]
            if name in found:
                self.problem(v.join(path, "name"), f"is already the name of {section}[{first[name]}]")
            first.setdefault(name, index)
            found[name] = entry
        return found

    def headers(self, value: Any) -> dict[str, Secret]:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of header names to values, got {v.type_name(value)}")
        headers: dict[str, Secret] = {}
        for position, (name, raw) in enumerate(value.items(), start=1):
            if not isinstance(name, str) or not isinstance(raw, str):
                raise ValueError("header names and values must be strings")
            if not v.is_header_name(name):
                raise ValueError(
                    f"the name of header number {position} is not a header name "
                    "(letters, digits and !#$%&'*+-.^_`|~)"
                )
            text = self.expand(raw)
            if not v.fits_a_header(text):
                raise ValueError(f"the value of {name!r} holds a line break or another control character")
            headers[name.lower()] = Secret(text)
        return headers

    def redis_url(self, value: Any) -> Secret:
        """A Redis URL; it may hold a password, so it is kept as a secret."""
        url = self.text(value)
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return Secret(url)

    def url(self, value: Any) -> str:
        url = self.text(value).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return url
