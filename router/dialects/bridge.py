"""Translation between the dialects: requests, answers and streams, through chat as the pivot.

Messages -> chat -> Responses is two steps, chat <-> any other one (Gemini's too)
(``router.dialects.translate``); a request translated is then fitted to what the target model
accepts (``TargetLimits``: its output limit, whether it takes reasoning;
``router.dialects.translate.targets``). An upstream's answer (or stream event) to translate must
first have the types the translators read (``router.dialects.shapes``): one that does not is no
answer, ``upstream_invalid_answer``. It knows no deployments: which body a deployment is sent,
and calling it, is the dispatch's (``router.dispatch.preparation``); a deployment here is its name.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from router.dialects.shapes import answer_fault, event_fault
from router.dialects.translate import anthropic, completions_chat, gemini, responses
from router.dialects.translate.targets import (
    ANY_TARGET,
    TargetLimits,
    fit_chat_request,
    fit_gemini_request,
    fit_messages_request,
    fit_responses_request,
)
from router.errors import GatewayError, UpstreamError
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS
from router.wire.sse import Batches, read_event

logger = logging.getLogger("raceway.dialects")

Body = dict[str, Any]


class EventTranslator(Protocol):
    def feed(self, event: bytes) -> list[bytes]: ...


# One step each way between chat and another dialect.
_REQUEST_TO_CHAT: dict[Dialect, Callable[[Body], Body]] = {
    Dialect.MESSAGES: anthropic.messages_request_to_chat,
    Dialect.RESPONSES: responses.responses_request_to_chat,
    Dialect.COMPLETIONS: completions_chat.completions_request_to_chat,
    Dialect.GEMINI: gemini.gemini_request_to_chat,
}
_REQUEST_FROM_CHAT: dict[Dialect, Callable[[Body], Body]] = {
    Dialect.MESSAGES: anthropic.chat_request_to_messages,
    Dialect.RESPONSES: responses.chat_request_to_responses,
    Dialect.GEMINI: gemini.chat_request_to_gemini,
}
# A translated request fitted to its target model, in the wire API it goes in.
_FIT: dict[Dialect, Callable[[Body, TargetLimits], Body]] = {
    Dialect.CHAT: fit_chat_request,
    Dialect.MESSAGES: fit_messages_request,
    Dialect.RESPONSES: fit_responses_request,
    Dialect.GEMINI: fit_gemini_request,
}
_ANSWER_TO_CHAT: dict[Dialect, Callable[[Body], Body]] = {
    Dialect.MESSAGES: anthropic.messages_answer_to_chat,
    Dialect.RESPONSES: responses.responses_answer_to_chat,
    Dialect.GEMINI: gemini.gemini_answer_to_chat,
}
_ANSWER_FROM_CHAT: dict[Dialect, Callable[[Body], Body]] = {
    Dialect.MESSAGES: anthropic.chat_answer_to_messages,
    Dialect.RESPONSES: responses.chat_answer_to_responses,
    Dialect.COMPLETIONS: completions_chat.chat_answer_to_completions,
    Dialect.GEMINI: gemini.chat_answer_to_gemini,
}
_EVENTS_TO_CHAT: dict[Dialect, Callable[[], EventTranslator]] = {
    Dialect.MESSAGES: anthropic.MessagesEventsToChat,
    Dialect.RESPONSES: responses.ResponsesEventsToChat,
    Dialect.GEMINI: gemini.GeminiEventsToChat,
}
_EVENTS_FROM_CHAT: dict[Dialect, Callable[[], EventTranslator]] = {
    Dialect.MESSAGES: anthropic.ChatEventsToMessages,
    Dialect.RESPONSES: responses.ChatEventsToResponses,
    Dialect.COMPLETIONS: completions_chat.ChatEventsToCompletions,
    Dialect.GEMINI: gemini.ChatEventsToGemini,
}


def translate_request(body: Body, source: Dialect, target: Dialect) -> Body:
    """``body`` in ``target``'s dialect; raises ``InvalidRequest`` for what cannot cross."""
    if source is target:
        return body
    chat = body if source is Dialect.CHAT else _REQUEST_TO_CHAT[source](body)
    return chat if target is Dialect.CHAT else _REQUEST_FROM_CHAT[target](chat)


def fit_request(translated: Body, wire: Dialect, limits: TargetLimits) -> Body:
    """A request translated into ``wire`` fitted to ``limits`` (itself when nothing is known)."""
    fit = _FIT.get(wire)
    return translated if fit is None or limits == ANY_TARGET else fit(translated, limits)


def translate_answer(document: Body, source: Dialect, target: Dialect) -> Body:
    if source is target:
        return document
    chat = document if source is Dialect.CHAT else _ANSWER_TO_CHAT[source](document)
    return chat if target is Dialect.CHAT else _ANSWER_FROM_CHAT[target](chat)


def event_translators(source: Dialect, target: Dialect) -> list[EventTranslator]:
    """The steps a stream's events take from ``source`` to ``target`` (none when they are one)."""
    if source is target:
        return []
    steps = [] if source is Dialect.CHAT else [_EVENTS_TO_CHAT[source]()]
    if target is not Dialect.CHAT:
        steps.append(_EVENTS_FROM_CHAT[target]())
    return steps


def feed_all(steps: list[EventTranslator], event: bytes) -> list[bytes]:
    events = [event]
    for step in steps:
        events = [out for event in events for out in step.feed(event)]
    return events


def translated_answer(answer: bytes, wire: Dialect, dialect: Dialect, deployment: str) -> bytes:
    """``deployment``'s answer, in its ``wire`` API, as ``dialect``'s (itself when they are one);
    raises ``upstream_invalid_answer`` for one that is not an answer of ``wire``."""
    if wire is dialect:
        return answer
    try:
        document = orjson.loads(answer)
    except orjson.JSONDecodeError:
        document = None
    if not FORMATS[wire].holds_answer(document):
        raise _not_an_answer(deployment, wire)
    fault = answer_fault(wire, document)
    if fault is not None:
        raise _not_an_answer(deployment, wire, fault)
    try:
        return orjson.dumps(translate_answer(document, wire, dialect))
    except GatewayError:
        raise
    except Exception as exc:  # the upstream's answer, whatever it holds, is the upstream's fault
        logger.warning("deployment %s: its answer could not be translated", deployment, exc_info=exc)
        raise _not_an_answer(deployment, wire) from exc


def translated_stream(batches: Batches, wire: Dialect, dialect: Dialect, deployment: str) -> Batches:
    """``deployment``'s stream, in its ``wire`` API, as ``dialect``'s events (itself when they are one)."""
    if wire is dialect:
        return batches
    return _translated(batches, wire, event_translators(wire, dialect), deployment)


async def _translated(
    batches: Batches, wire: Dialect, steps: list[EventTranslator], deployment: str
) -> Batches:
    """Each batch translated event by event; what an event before a faulty one became is handed
    on before the fault is raised."""
    async with contextlib.aclosing(batches):
        async for batch in batches:
            translated: list[bytes] = []
            try:
                for event in batch:
                    translated += _translated_event(event, wire, steps, deployment)
            except UpstreamError:
                if translated:
                    yield translated
                raise
            if translated:
                yield translated


def _translated_event(
    event: bytes, wire: Dialect, steps: list[EventTranslator], deployment: str
) -> list[bytes]:
    fault = event_fault(wire, read_event(event)[1])
    if fault is not None:
        raise UpstreamError(
            f"deployment {deployment} sent a malformed stream event of {FORMATS[wire].described}: {fault}",
            deployment=deployment,
            code="upstream_invalid_answer",
        )
    try:
        return feed_all(steps, event)
    except Exception as exc:
        logger.warning("deployment %s: a stream event could not be translated", deployment, exc_info=exc)
        raise UpstreamError(
            f"deployment {deployment} sent a stream event that could not be translated",
            deployment=deployment,
            code="upstream_invalid_answer",
        ) from exc


def _not_an_answer(deployment: str, wire: Dialect, fault: str | None = None) -> UpstreamError:
    why = f": {fault}" if fault is not None else ""
    return UpstreamError(
        f"deployment {deployment} answered 200 with something that is not {FORMATS[wire].described}{why}",
        deployment=deployment,
        code="upstream_invalid_answer",
    )
