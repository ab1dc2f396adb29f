"""Cached answers in every dialect: replayed as a stream, and assembled from one.

Chat's ``replay`` and ``StreamAssembler`` do the work; another dialect's answer crosses to
chat and back with the translators (``router.dialects.bridge``), so whatever a dialect's
answer holds that chat's extensions carry (text, tool calls, thinking with its signatures,
usage with cache tokens) survives the cache. Legacy completions, which never cross back to
chat, are replayed and assembled in their own shape (``router.answers.completions``).
"""

from __future__ import annotations

import logging

import orjson

from router.answers.completions import CompletionAssembler, replay_completion
from router.answers.replay import StreamAssembler, replay
from router.config.model import Dialect
from router.dialects.bridge import EventTranslator, event_translators, feed_all, translate_answer

logger = logging.getLogger("raceway.answers")


def replay_in(dialect: Dialect, answer: bytes, *, include_usage: bool) -> list[bytes]:
    """The events of a stream carrying ``answer``, an answer in ``dialect``."""
    if dialect is Dialect.CHAT:
        return replay(answer, include_usage=include_usage)
    if dialect is Dialect.COMPLETIONS:
        return replay_completion(answer, include_usage=include_usage)
    chat = orjson.dumps(translate_answer(orjson.loads(answer), dialect, Dialect.CHAT))
    steps = event_translators(Dialect.CHAT, dialect)
    return [out for event in replay(chat, include_usage=True) for out in feed_all(steps, event)]


class DialectAssembler:
    """Builds the answer a stream in ``dialect`` amounts to (see ``StreamAssembler``)."""

    __slots__ = ("_assembler", "_dialect", "_steps")

    def __init__(self, dialect: Dialect, *, max_bytes: int) -> None:
        self._dialect = dialect
        self._assembler: StreamAssembler | CompletionAssembler
        self._steps: list[EventTranslator] = []
        if dialect is Dialect.COMPLETIONS:
            self._assembler = CompletionAssembler(max_bytes=max_bytes)
        else:
            self._assembler = StreamAssembler(max_bytes=max_bytes)
            self._steps = event_translators(dialect, Dialect.CHAT)

    @property
    def dropped(self) -> bool:
        return self._assembler.dropped

    def feed(self, event: bytes) -> None:
        if not self._steps:
            self._assembler.feed(event)
            return
        if self._assembler.dropped:
            return
        try:
            events = feed_all(self._steps, event)
        except Exception as exc:  # never hurts the stream: its answer is simply not kept
            logger.warning("a streamed answer is not kept: translating it failed", exc_info=exc)
            self._assembler.dropped = True
            return
        for translated in events:
            self._assembler.feed(translated)

    def answer(self) -> bytes | None:
        """The answer in ``dialect``, or None (see the assemblers)."""
        answer = self._assembler.answer()
        if answer is None or self._dialect in (Dialect.CHAT, Dialect.COMPLETIONS):
            return answer
        return orjson.dumps(translate_answer(orjson.loads(answer), Dialect.CHAT, self._dialect))
