"""Cached answers in every dialect: replayed as a stream, and assembled from one.

Messages answers have their own replay and assembler (``router.answers.messages``): exact,
whatever chat could not carry (the stop sequence, server tool blocks, citations). For the
others chat's ``replay`` and ``StreamAssembler`` do the work; a Responses answer crosses to
chat and back with the translators (``router.dialects.bridge``), so whatever it holds that
chat's extensions carry (text, tool calls, reasoning, usage with cache tokens) survives the cache.
Legacy completions, which never cross back to chat, are replayed and assembled in their own
shape (``router.answers.completions``).
"""

from __future__ import annotations

import logging
from typing import Protocol

import orjson

from router.answers.completions import CompletionAssembler, replay_completion
from router.answers.messages import MessageAssembler, replay_message
from router.answers.replay import StreamAssembler, replay
from router.dialects.bridge import EventTranslator, event_translators, feed_all, translate_answer
from router.wire.dialect import Dialect

logger = logging.getLogger("raceway.answers")


def replay_in(dialect: Dialect, answer: bytes, *, include_usage: bool) -> list[bytes]:
    """The events of a stream carrying ``answer``, an answer in ``dialect``."""
    if dialect is Dialect.CHAT:
        return replay(answer, include_usage=include_usage)
    if dialect is Dialect.MESSAGES:
        return replay_message(answer)
    if dialect is Dialect.COMPLETIONS:
        return replay_completion(answer, include_usage=include_usage)
    chat = orjson.dumps(translate_answer(orjson.loads(answer), dialect, Dialect.CHAT))
    steps = event_translators(Dialect.CHAT, dialect)
    return [out for event in replay(chat, include_usage=True) for out in feed_all(steps, event)]


class Assembler(Protocol):
    """Builds the answer a stream amounts to; ``feed`` never raises (``dropped`` then)."""

    @property
    def dropped(self) -> bool: ...

    def feed(self, event: bytes) -> None: ...

    def answer(self) -> bytes | None: ...


def assembler_for(dialect: Dialect, *, max_bytes: int) -> Assembler:
    """The assembler of a stream in ``dialect``, of at most ``max_bytes`` of events."""
    if dialect is Dialect.MESSAGES:
        return MessageAssembler(max_bytes=max_bytes)
    if dialect is Dialect.CHAT:
        return StreamAssembler(max_bytes=max_bytes)
    if dialect is Dialect.COMPLETIONS:
        return CompletionAssembler(max_bytes=max_bytes)
    return _ThroughChat(dialect, max_bytes=max_bytes)


class _ThroughChat:
    """A stream in ``dialect`` translated to chat, assembled as chat, and its answer translated back."""

    __slots__ = ("_chat", "_dialect", "_steps")

    def __init__(self, dialect: Dialect, *, max_bytes: int) -> None:
        self._dialect = dialect
        self._chat = StreamAssembler(max_bytes=max_bytes)
        self._steps: list[EventTranslator] = event_translators(dialect, Dialect.CHAT)

    @property
    def dropped(self) -> bool:
        return self._chat.dropped

    def feed(self, event: bytes) -> None:
        if self._chat.dropped:
            return
        try:
            events = feed_all(self._steps, event)
        except Exception as exc:  # never hurts the stream: its answer is simply not kept
            logger.warning("a streamed answer is not kept: translating it failed", exc_info=exc)
            self._chat.dropped = True
            return
        for translated in events:
            self._chat.feed(translated)

    def answer(self) -> bytes | None:
        chat = self._chat.answer()
        if chat is None:
            return None
        return orjson.dumps(translate_answer(orjson.loads(chat), Dialect.CHAT, self._dialect))
