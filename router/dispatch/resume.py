"""A stream that breaks after content continues on another deployment, spliced into the client's.

A group with ``resume`` gives each stream a ``Resumer``. When the stream fails midway (a cut, an
upstream error event, ``idle_timeout``), the resumer asks the splicer of the client's dialect
whether the answer can be continued (text only: a tool call or thinking cannot), picks the group's
deployments that can continue one (``continues`` not ``none``; breaker, context window and limits
as for fallback; never one that broke this stream), one at a time, and opens a continuation: the
original request with the text already sent as a final assistant message
(``router.dialects.continuation``). Its events, translated into the client's dialect like the
first call's, are spliced (``router.dialects.splice``) into the same stream. When nothing can
continue it, the first failure propagates and the stream ends with the error event, as without
``resume``.

Each continuation is an attempt of its own (admission, breaker verdict, usage, cost); the broken
call's attempt counts as cut. Every decision is counted in ``raceway_stream_resumes_total``.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, Callable
from typing import Any

from router.config.model import PREFIX_ON_MESSAGE, Continues
from router.config.model_groups import ModelGroup
from router.dialects.continuation import continued, unsendable
from router.dialects.splice import Splicer, splicer_for
from router.dispatch.attempt import Attempt, Calls
from router.dispatch.completion import Call
from router.dispatch.opened_stream import OpenedStream
from router.dispatch.preparation import ContinuedStream, Conversation
from router.dispatch.rounds import AttemptBudget, Pace, RoundFailed, run_round
from router.errors import UpstreamError
from router.fleet.fleet import Fleet, Member
from router.providers.correlation import Correlation
from router.routing.rules import RoutedRequest
from router.telemetry.labels import StreamOutcome
from router.telemetry.metrics import Metrics
from router.wire.dialect import Dialect
from router.wire.formats import WireFormat

# Where a continuation can go: the wire API each way of continuing speaks.
_WIRES = {Continues.PREFILL: Dialect.MESSAGES, Continues.PREFIX: Dialect.CHAT}


class ResumeOutcome(enum.StrEnum):
    SPLICED = "spliced"
    REFUSED = "refused"  # the answer cannot be continued (a tool call, thinking...)
    EXHAUSTED = "exhausted"  # max_resumes reached, or no deployment could continue it


class Resumer:
    """The continuations of one stream (``OpenedStream.resumer``)."""

    def __init__(
        self,
        group: ModelGroup,
        splicer: Splicer,
        *,
        fleet: Fleet,
        calls: Calls,
        metrics: Metrics,
        conversation: Conversation,
        wire_format: WireFormat,
        tokens: int,
        prompt_tokens: int,
        correlation: Callable[[], Correlation],
        serving: str,
    ) -> None:
        assert group.resume is not None
        self._group = group
        self._max = group.resume.max_resumes
        self._splicer = splicer
        self._fleet = fleet
        self._calls = calls
        self._metrics = metrics
        self._conversation = conversation
        self._wire_format = wire_format
        self._tokens = tokens
        self._prompt_tokens = prompt_tokens
        self._correlation = correlation
        self._serving = serving  # the deployment whose events the client gets now
        self._broken: list[str] = []  # deployments that broke this stream
        self._current: OpenedStream | None = None  # the continuation relayed now
        self._unread: list[bytes] = []  # events the client received, for the splicer to read at a break
        self.resumed: list[dict[str, Any]] = []  # for the access log
        self.cost = 0.0  # of the continuations that ended

    def note(self, event: bytes) -> None:
        if self._current is not None:  # spliced: the splicer follows it as it goes
            self._splicer.note(event)
        else:  # kept, not read: a stream that never breaks costs no parsing
            self._unread.append(event)

    async def resume(self, broken: UpstreamError) -> AsyncGenerator[bytes, None]:
        """The rest of the stream, continued elsewhere; raises ``broken`` when nothing can continue it."""
        failed = self._serving
        self._broken.append(failed)
        await self._end_current(StreamOutcome.CUT)
        for event in self._unread:
            self._splicer.note(event)
        self._unread.clear()
        if self._splicer.refusal() is not None:
            self._count(failed, "", ResumeOutcome.REFUSED)
            raise broken
        candidates = self._candidates()
        if len(self.resumed) >= self._max or not candidates:
            self._count(failed, "", ResumeOutcome.EXHAUSTED)
            raise broken
        prefix = self._splicer.text
        try:
            won = await run_round(
                candidates,
                lambda attempt: self._continue(attempt, prefix),
                Pace(),
                AttemptBudget(len(candidates)),
                begin=self._calls.begin,
                discard=_abandon,
            )
        except (RoundFailed, UpstreamError):
            self._count(failed, "", ResumeOutcome.EXHAUSTED)
            raise broken from None
        continuation = self._current = won.value
        self._serving = continuation.deployment
        self.resumed.append({"from": failed, "to": continuation.deployment, "at_chars": len(prefix)})
        self._count(failed, continuation.deployment, ResumeOutcome.SPLICED)
        self._splicer.begin(unsendable(prefix, won.winner.deployment.continuation))
        return self._spliced(continuation)

    async def end(self, outcome: StreamOutcome) -> None:
        """The client's stream ended: so does the continuation it was relaying."""
        await self._end_current(outcome)

    def _candidates(self) -> list[Member]:
        usable: list[Member] = []
        for name in self._group.deployments:
            member = self._fleet.get(name)
            if member is None or name in self._broken or not member.breaker.available():
                continue
            deployment = member.deployment
            if _WIRES.get(deployment.continuation) is not member.provider.wire:
                continue  # ``none``, or a declaration its wire cannot honour (litellm's chat)
            limit = deployment.max_input_tokens
            if limit is not None and self._prompt_tokens > limit:
                continue
            usable.append(member)
        return _roomy_first(usable, self._tokens)

    async def _continue(self, attempt: Attempt, prefix: str) -> OpenedStream:
        deployment = attempt.member.deployment
        sendable = prefix[: len(prefix) - len(unsendable(prefix, deployment.continuation))]
        call = ContinuedStream(
            self._conversation,
            lambda body: _continued_body(body, deployment.continuation, sendable, deployment.provider),
        )
        return await self._calls.stream(attempt, call, self._wire_format, self._tokens, self._correlation())

    async def _spliced(self, continuation: OpenedStream) -> AsyncGenerator[bytes, None]:
        splice = self._splicer.splice
        async for event in continuation.events():
            for out in splice(event):
                yield out

    async def _end_current(self, outcome: StreamOutcome) -> None:
        current, self._current = self._current, None
        if current is not None:
            await current.end(outcome)
            self.cost += current.cost

    def _count(self, failed: str, to: str, outcome: ResumeOutcome) -> None:
        self._metrics.stream_resumes.labels(self._group.name, failed, to, outcome.value).inc()


def _continued_body(body: dict[str, Any], continues: Continues, prefix: str, provider: str) -> dict[str, Any]:
    return continued(body, continues, prefix, flag_message=provider in PREFIX_ON_MESSAGE)


def _roomy_first(members: list[Member], tokens: int) -> list[Member]:
    roomy = [member for member in members if member.has_capacity(tokens)]
    return roomy + [member for member in members if member not in roomy]


async def _abandon(stream: OpenedStream) -> None:
    await stream.end(StreamOutcome.ABANDONED)


def resumer_for(
    request: RoutedRequest,
    call: Call,
    wire_format: WireFormat,
    opened: OpenedStream,
    fleet: Fleet,
    calls: Calls,
    tokens: int,
    correlation: Callable[[RoutedRequest], Correlation],
) -> Resumer | None:
    """The resumer of a stream of ``request``'s group, if it has ``resume`` and the client's
    dialect a splicer (None: its breaks end with the error event)."""
    splicer = splicer_for(wire_format.dialect)
    if request.group.resume is None or splicer is None or not isinstance(call, Conversation):
        return None
    return Resumer(
        request.group,
        splicer,
        fleet=fleet,
        calls=calls,
        metrics=calls.metrics,
        conversation=call,
        wire_format=wire_format,
        tokens=tokens,
        prompt_tokens=request.prompt_tokens,
        correlation=lambda: correlation(request),
        serving=opened.deployment,
    )
