"""A request made ready for the deployments that may serve it: its body for each one's wire API,
and the calls the dispatch makes of a ``Provider`` (``Call``).

When the provider speaks the client's dialect, the body goes as it came (the provider rewrites
only ``model``) and the answer, or each stream event, comes back untouched. When it does not,
the request is translated (``router.dialects.bridge``) once per wire API, however many
deployments of it a race calls, then fitted once per ``TargetLimits`` (what the deployment's
model accepts, which the fleet's members carry), and the answer or stream is translated back.
Before any call, the request is translated for every wire API the groups that may serve it
(``GatewayConfig.served_by``) or its pinned deployment speak (``prepared``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import orjson

from router.config.model import GatewayConfig
from router.dialects.bridge import fit_request, translate_request, translated_answer, translated_stream
from router.dialects.translate.cache_hints import takes_cache_control, with_cache_control, with_cache_key
from router.dialects.translate.targets import ANY_TARGET, TargetLimits
from router.dispatch.completion import Call
from router.providers.base import Provider
from router.providers.correlation import Correlation
from router.routing.rules import RoutedRequest, estimate_prompt_tokens
from router.wire.dialect import Dialect
from router.wire.sse import Batches

Body = dict[str, Any]


def prepared(call: Call, config: GatewayConfig, routed: RoutedRequest) -> Call:
    """``call``, its request translated for every wire API it may meet (the group's deployments,
    its fallbacks', or the pinned one): one that cannot cross is refused before any call."""
    if isinstance(call, Conversation):
        if routed.session is not None:
            call.cache_key = routed.session.hex
        groups = config.served_by(routed.group)
        names = [routed.pinned] if routed.pinned is not None else [n for g in groups for n in g.deployments]
        call.prepare({config.deployments[name].api for name in names if name in config.deployments})
    return call


class Conversation:
    """``body``, a request in ``dialect``, as each provider's wire API needs it (``Call``).

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

    def body_of(self, provider: Provider, limits: TargetLimits) -> Body:
        """The body ``provider`` is sent (its model taking ``limits``): its wire's, with the cache
        hints it has a counterpart for (litellm is given no ``prompt_cache_key`` it was not sent:
        it refuses parameters a provider lacks)."""
        wire = provider.wire
        if wire is self.dialect:
            return self.body
        deployment = provider.deployment
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

    async def complete(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> bytes:
        answer = await provider.complete(self.body_of(provider, limits), correlation)
        return translated_answer(answer, provider.wire, self.dialect, provider.deployment.name)

    def stream(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> Batches:
        return self.stream_of(provider, correlation, self.body_of(provider, limits))

    def stream_of(self, provider: Provider, correlation: Correlation, body: Body) -> Batches:
        """``body`` (in ``provider``'s wire API) streamed, its events in the client's dialect."""
        events = provider.stream(body, correlation)
        return translated_stream(events, provider.wire, self.dialect, provider.deployment.name)


class ContinuedStream:
    """A conversation's stream asked of a deployment with its body rewritten first (to continue
    a partial answer: ``router.dialects.continuation``); only ever streamed."""

    __slots__ = ("_conversation", "_rewrite")

    def __init__(self, conversation: Conversation, rewrite: Callable[[Body], Body]) -> None:
        self._conversation = conversation
        self._rewrite = rewrite

    async def complete(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> bytes:
        raise NotImplementedError("a continuation is only streamed")

    def stream(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> Batches:
        conversation = self._conversation
        body = self._rewrite(conversation.body_of(provider, limits))
        return conversation.stream_of(provider, correlation, body)


class Embeddings:
    """An embeddings request: every wire API that has them takes OpenAI's shape."""

    __slots__ = ("body",)

    def __init__(self, body: Body) -> None:
        self.body = body

    async def complete(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> bytes:
        return await provider.embeddings(self.body, correlation)

    def stream(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> Batches:
        raise NotImplementedError("embeddings are never streamed")


class CountTokens:
    """Anthropic's ``count_tokens``: asked of a deployment that speaks Messages; for any other,
    estimated here (about four characters a token, as routing estimates prompts)."""

    __slots__ = ("body",)

    def __init__(self, body: Body) -> None:
        self.body = body

    async def complete(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> bytes:
        if provider.wire is Dialect.MESSAGES and isinstance(provider, TokenCounter):
            return await provider.count_tokens(self.body, correlation)
        body = {**self.body, "max_tokens": 1}  # count_tokens takes none; the translation needs one
        chat = translate_request(body, Dialect.MESSAGES, Dialect.CHAT)
        return orjson.dumps({"input_tokens": estimate_prompt_tokens(chat)})

    def stream(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> Batches:
        raise NotImplementedError("token counts are never streamed")


class GeminiCountTokens:
    """Gemini's ``countTokens``: asked of a deployment that speaks Gemini; for any other,
    estimated here from the request's chat translation (about four characters a token)."""

    __slots__ = ("body",)

    def __init__(self, body: Body) -> None:
        self.body = body

    async def complete(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> bytes:
        if provider.wire is Dialect.GEMINI and isinstance(provider, TokenCounter):
            return await provider.count_tokens(self.body, correlation)
        # The body is ``contents`` alone, or a whole request under ``generateContentRequest``.
        inner = self.body.get("generateContentRequest", self.body.get("generate_content_request"))
        request = inner if isinstance(inner, dict) else self.body
        chat = translate_request(request, Dialect.GEMINI, Dialect.CHAT)
        return orjson.dumps({"totalTokens": estimate_prompt_tokens(chat)})

    def stream(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> Batches:
        raise NotImplementedError("token counts are never streamed")


@runtime_checkable
class TokenCounter(Protocol):
    async def count_tokens(self, body: Body, correlation: Correlation | None = None) -> bytes: ...
