"""What every stream assembler shares: a bound on the bytes it reads, and never raising.

A stream is the upstream's to shape, so building the answer it amounts to must not hurt
its relay. ``BoundedAssembler.feed`` counts the bytes of each event and hands the event
to the dialect's ``_feed``; a stream past ``max_bytes``, or one the dialect finds
``Malformed`` (an index that makes no sense, events out of their order), or any other
failure while assembling, drops what was built, logs one warning and sets ``dropped``:
the answer is then simply not kept. ``ChoicesAssembler`` is what the OpenAI-shaped streams
(chat, legacy completions) share on top: an envelope, choices by index, a usage chunk.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

import orjson

from router.wire.sse import event_json

logger = logging.getLogger("raceway.answers")

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
MAX_CHOICES = 128  # choices of one assembled answer (a request's ``n`` is far below)


class Malformed(Exception):
    """The stream cannot be assembled (past a bound, or events that make no sense)."""


class BoundedAssembler(ABC):
    """Builds the answer a stream amounts to, event by event; ``feed`` never raises."""

    __slots__ = ("_bytes", "_max_bytes", "dropped")

    #: What the warning calls the answer that is not kept ("a streamed answer").
    noun = "a streamed answer"

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """``max_bytes``: the most event bytes to assemble (an answer larger is not kept)."""
        self._bytes = 0
        self._max_bytes = max_bytes
        self.dropped = False

    def feed(self, event: bytes) -> None:
        if self.dropped:
            return
        try:
            self._bytes += len(event)
            if self._bytes > self._max_bytes:
                raise Malformed(f"the stream passed {self._max_bytes} bytes")
            self._feed(event)
        except Exception as exc:  # the upstream's stream, whatever it holds, must not hurt its relay
            self.dropped = True
            self._forget()
            if isinstance(exc, Malformed):
                logger.warning("%s is not kept: %s", self.noun, exc)
            else:
                logger.warning("%s is not kept: assembling it failed", self.noun, exc_info=exc)

    @abstractmethod
    def _feed(self, event: bytes) -> None:
        """Add one event to the answer; raise ``Malformed`` when it cannot be assembled."""

    @abstractmethod
    def _forget(self) -> None:
        """Let go of what was built (the stream was dropped)."""

    @abstractmethod
    def answer(self) -> bytes | None:
        """The assembled answer, or None when there is none (or the stream was dropped)."""


class ChoicesAssembler(BoundedAssembler):
    """Builds the answer an OpenAI-shaped stream (chat, legacy completions) amounts to: the
    fields every chunk repeats (the envelope) keep their latest value, each chunk's choice adds
    to the choice of its index (``_add``, the dialect's own), the usage chunk gives the usage.
    The answer is the envelope with ``answer_object``, the choices in index order, the usage."""

    __slots__ = ("_choices", "_envelope", "_usage")

    #: Top-level fields that are not part of the envelope every chunk (or the answer) repeats.
    not_envelope = frozenset({"object", "choices", "usage"})
    #: The answer's ``id`` when the stream gave none, and its ``object``.
    assembled_id = "assembled"
    answer_object = "answer"

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(max_bytes=max_bytes)
        self._envelope: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: Any = None

    def _forget(self) -> None:
        self._envelope, self._choices, self._usage = {}, {}, None

    def _feed(self, event: bytes) -> None:
        payload = event_json(event)
        if not isinstance(payload, dict):
            return  # [DONE], comments
        keep_latest(self._envelope, ((k, v) for k, v in payload.items() if k not in self.not_envelope))
        if payload.get("usage"):
            self._usage = payload["usage"]
        for chunk in payload.get("choices") or ():
            if isinstance(chunk, dict):
                self._add(self._choice(chunk.get("index", 0)), chunk)

    def _choice(self, index: Any) -> dict[str, Any]:
        if type(index) is not int or index < 0:
            raise Malformed(f"a choice's index is {str(index)[:40]!r}")
        choice = self._choices.get(index)
        if choice is None:
            if len(self._choices) >= MAX_CHOICES:
                raise Malformed(f"the stream has more than {MAX_CHOICES} choices")
            choice = self._choices[index] = self._new_choice(index)
        return choice

    @abstractmethod
    def _new_choice(self, index: int) -> dict[str, Any]:
        """The choice of ``index`` before its first chunk."""

    @abstractmethod
    def _add(self, choice: dict[str, Any], chunk: dict[str, Any]) -> None:
        """Add one chunk's choice to the choice of its index."""

    def answer(self) -> bytes | None:
        """The assembled answer, or None if the stream carried no choice or was dropped."""
        if self.dropped or not self._choices:
            return None
        completion: dict[str, Any] = {"id": self.assembled_id, "created": 0, "model": ""}
        completion.update(self._envelope)
        completion["object"] = self.answer_object
        completion["choices"] = [self._choices[index] for index in sorted(self._choices)]
        if self._usage is not None:
            completion["usage"] = self._usage
        return orjson.dumps(completion)


def keep_latest(target: dict[str, Any], fields: Iterable[tuple[str, Any]]) -> None:
    """Each field's latest value; a null never hides a value seen before."""
    for name, value in fields:
        if value is not None or name not in target:
            target[name] = value


def add_entries(target: dict[str, Any], pieces: dict[str, Any]) -> None:
    """A chunk's lists (token logprobs) extend ``target``'s, copied when new; any other field
    keeps its latest value, as ``keep_latest``."""
    for name, value in pieces.items():
        before = target.get(name)
        if isinstance(value, list) and isinstance(before, list):
            before.extend(value)
        elif value is not None or name not in target:
            target[name] = list(value) if isinstance(value, list) else value
