"""A secret string of the config (API keys, the admin key, Redis's URL): never shown in repr,
logs or errors."""

from __future__ import annotations


class Secret:
    """A secret string that never shows itself in repr, logs or errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
