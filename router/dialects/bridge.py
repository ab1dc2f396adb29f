"""A request in the client's dialect, called on deployments of any wire API.

When the deployment speaks the client's dialect, the body goes as it came (the provider
rewrites only ``model``) and the answer, or each stream event, comes back untouched. When it
does not, the request, the answer and the stream are translated, through chat as the pivot
(``router.dialects.translate``): Messages -> chat -> Responses is two steps, chat <-> any other
one (Gemini's too). A request is translated once per wire API, however many deployments of it a
race calls, then fitted once per ``TargetLimits`` (what the deployment's model accepts: its output
limit, whether it takes reasoning; ``router.dialects.translate.targets``), which the fleet's
members carry. An answer (or stream event) to translate must first have the types the translators read
(``router.dialects.shapes``): one that does not is no answer, ``upstream_invalid_answer``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import orjson

from router.dialects.shapes import answer_fault, event_fault
from router.dialects.translate import anthropic, completions_chat, gemini, responses
from router.dialects.translate.cache_hints import takes_cache_control, with_cache_control, with_cache_key
from router.dialects.translate.targets import (
    ANY_TARGET,
    TargetLimits,
    fit_chat_request,
    fit_gemini_request,
    fit_messages_request,
    fit_responses_request,
)
from router.errors import GatewayError, UpstreamError
from router.fleet.fleet import Member
from router.providers.correlation import Correlation
from router.routing.rules import estimate_prompt_tokens
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS
from router.wire.sse import read_event

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


class Conversation:
    """``body``, a request in ``dialect``, as each deployment's wire API needs it (``Call``).

    Translated, it keeps its prompt-cache hints where the target has a counterpart
    (``router.dialects.translate.cache_hints``): ``cache_key`` (the session's hash) becomes the
    ``prompt_cache_key`` of a native chat or Responses upstream when the client sent none."""

    __slots__ = ("_bodies", "_fitted", "_hinted", "_keyed", "body", "cache_key", "dialect")

    def __init__(self, dialect: Dialect, body: Body, cache_key: str | None = None) -> None:
        self.dialect = dialect
        self.body = body
        self.cache_key = cache_key
        self._bodies: dict[Dialect, Body] = {dialect: body}
        self._fitted: dict[tuple[Dialect, TargetLimits], Body] = {}
        # chat with cache_control, for litellm's Anthropic family, per target
        self._hinted: dict[TargetLimits, Body] = {}
        # with prompt_cache_key, for native chat / Responses, per wire and target
        self._keyed: dict[tuple[Dialect, TargetLimits], Body] = {}

    def prepare(self, wires: Iterable[Dialect]) -> None:
        """Translate now for every wire API the request may be called in (``InvalidRequest`` for
        what cannot cross), so that a request one of them cannot express is refused before any
        call, whichever deployment a strategy would have picked."""
        for wire in wires:
            self.body_for(wire)

    def body_for(self, wire: Dialect, limits: TargetLimits = ANY_TARGET) -> Body:
        """The body for a deployment of ``wire`` whose model takes ``limits``: the client's own in
        its own dialect (never fitted: it goes as the client wrote it), else translated and fitted."""
        found = self._bodies.get(wire)
        if found is None:
            found = self._bodies[wire] = translate_request(self.body, self.dialect, wire)
        if wire is self.dialect or limits == ANY_TARGET:
            return found
        fitted = self._fitted.get((wire, limits))
        if fitted is None:
            fitted = self._fitted[(wire, limits)] = fit_request(found, wire, limits)
        return fitted

    def body_of(self, member: Member) -> Body:
        """The body ``member`` is sent: its wire's, with the cache hints it has a counterpart for
        (litellm is given no ``prompt_cache_key`` it was not sent: it refuses parameters a
        provider lacks)."""
        wire = member.provider.wire
        if wire is self.dialect:
            return self.body
        deployment = member.deployment
        limits = member.target
        translated = self.body_for(wire, limits)
        if deployment.uses_litellm:
            if wire is Dialect.CHAT and self.dialect is Dialect.MESSAGES and takes_cache_control(deployment):
                hinted = self._hinted.get(limits)
                if hinted is None:
                    hinted = self._hinted[limits] = with_cache_control(self.body, translated)
                return hinted
            return translated
        if wire not in (Dialect.CHAT, Dialect.RESPONSES):
            return translated  # Messages and Gemini have no prompt_cache_key
        keyed = self._keyed.get((wire, limits))
        if keyed is None:
            key = self.body.get("prompt_cache_key")
            keyed = with_cache_key(translated, key if isinstance(key, str) else self.cache_key)
            self._keyed[(wire, limits)] = keyed
        return keyed

    async def complete(self, member: Member, correlation: Correlation) -> bytes:
        provider = member.provider
        wire = provider.wire
        answer = await provider.complete(self.body_of(member), correlation)
        if wire is self.dialect:
            return answer
        try:
            document = orjson.loads(answer)
        except orjson.JSONDecodeError:
            document = None
        if not FORMATS[wire].holds_answer(document):
            raise _not_an_answer(member, wire)
        fault = answer_fault(wire, document)
        if fault is not None:
            raise _not_an_answer(member, wire, fault)
        try:
            return orjson.dumps(translate_answer(document, wire, self.dialect))
        except GatewayError:
            raise
        except Exception as exc:  # the upstream's answer, whatever it holds, is the upstream's fault
            logger.warning("deployment %s: its answer could not be translated", member.name, exc_info=exc)
            raise _not_an_answer(member, wire) from exc

    def stream(self, member: Member, correlation: Correlation) -> AsyncGenerator[bytes, None]:
        return self.stream_of(member, correlation, self.body_of(member))

    def stream_of(self, member: Member, correlation: Correlation, body: Body) -> AsyncGenerator[bytes, None]:
        """``body`` (in ``member``'s wire API) streamed, its events in the client's dialect."""
        provider = member.provider
        wire = provider.wire
        events = provider.stream(body, correlation)
        if wire is self.dialect:
            return events
        return _translated(events, wire, event_translators(wire, self.dialect), member)


class ContinuedStream:
    """A conversation's stream asked of a deployment with its body rewritten first (to continue
    a partial answer: ``router.dialects.continuation``); only ever streamed."""

    __slots__ = ("_conversation", "_rewrite")

    def __init__(self, conversation: Conversation, rewrite: Callable[[Body], Body]) -> None:
        self._conversation = conversation
        self._rewrite = rewrite

    async def complete(self, member: Member, correlation: Correlation) -> bytes:
        raise NotImplementedError("a continuation is only streamed")

    def stream(self, member: Member, correlation: Correlation) -> AsyncGenerator[bytes, None]:
        conversation = self._conversation
        return conversation.stream_of(member, correlation, self._rewrite(conversation.body_of(member)))


async def _translated(
    events: AsyncGenerator[bytes, None], wire: Dialect, steps: list[EventTranslator], member: Member
) -> AsyncGenerator[bytes, None]:
    async with contextlib.aclosing(events):
        async for event in events:
            fault = event_fault(wire, read_event(event)[1])
            if fault is not None:
                raise UpstreamError(
                    f"deployment {member.name} sent a malformed stream event of {FORMATS[wire].described}: "
                    f"{fault}",
                    deployment=member.name,
                    code="upstream_invalid_answer",
                )
            try:
                translated = feed_all(steps, event)
            except Exception as exc:
                logger.warning(
                    "deployment %s: a stream event could not be translated", member.name, exc_info=exc
                )
                raise UpstreamError(
                    f"deployment {member.name} sent a stream event that could not be translated",
                    deployment=member.name,
                    code="upstream_invalid_answer",
                ) from exc
            for out in translated:
                yield out


def _not_an_answer(member: Member, wire: Dialect, fault: str | None = None) -> UpstreamError:
    why = f": {fault}" if fault is not None else ""
    return UpstreamError(
        f"deployment {member.name} answered 200 with something that is not {FORMATS[wire].described}{why}",
        deployment=member.name,
        code="upstream_invalid_answer",
    )


class Embeddings:
    """An embeddings request: every wire API that has them takes OpenAI's shape."""

    __slots__ = ("body",)

    def __init__(self, body: Body) -> None:
        self.body = body

    async def complete(self, member: Member, correlation: Correlation) -> bytes:
        return await member.provider.embeddings(self.body, correlation)

    def stream(self, member: Member, correlation: Correlation) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("embeddings are never streamed")


class CountTokens:
    """Anthropic's ``count_tokens``: asked of a deployment that speaks Messages; for any other,
    estimated here (about four characters a token, as routing estimates prompts)."""

    __slots__ = ("body",)

    def __init__(self, body: Body) -> None:
        self.body = body

    async def complete(self, member: Member, correlation: Correlation) -> bytes:
        provider = member.provider
        if provider.wire is Dialect.MESSAGES and isinstance(provider, TokenCounter):
            return await provider.count_tokens(self.body, correlation)
        body = {**self.body, "max_tokens": 1}  # count_tokens takes none; the translation needs one
        chat = translate_request(body, Dialect.MESSAGES, Dialect.CHAT)
        return orjson.dumps({"input_tokens": estimate_prompt_tokens(chat)})

    def stream(self, member: Member, correlation: Correlation) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("token counts are never streamed")


class GeminiCountTokens:
    """Gemini's ``countTokens``: asked of a deployment that speaks Gemini; for any other,
    estimated here from the request's chat translation (about four characters a token)."""

    __slots__ = ("body",)

    def __init__(self, body: Body) -> None:
        self.body = body

    async def complete(self, member: Member, correlation: Correlation) -> bytes:
        provider = member.provider
        if provider.wire is Dialect.GEMINI and isinstance(provider, TokenCounter):
            return await provider.count_tokens(self.body, correlation)
        # The body is ``contents`` alone, or a whole request under ``generateContentRequest``.
        inner = self.body.get("generateContentRequest", self.body.get("generate_content_request"))
        request = inner if isinstance(inner, dict) else self.body
        chat = translate_request(request, Dialect.GEMINI, Dialect.CHAT)
        return orjson.dumps({"totalTokens": estimate_prompt_tokens(chat)})

    def stream(self, member: Member, correlation: Correlation) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("token counts are never streamed")


@runtime_checkable
class TokenCounter(Protocol):
    async def count_tokens(self, body: Body, correlation: Correlation | None = None) -> bytes: ...
