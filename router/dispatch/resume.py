"""A stream that breaks after content continues on another deployment, spliced into the client's.

A group with ``resume`` gives each stream a ``Resumer``. When the stream fails midway (a cut, an
upstream error event, ``idle_timeout``), the resumer asks the splicer of the client's dialect
whether the answer can be continued (text, and tool calls received whole; not thinking, nor a
tool call cut in its arguments), picks the deployments that can continue it, one at a time, and
opens a continuation: the original request with the answer already sent as a final assistant
message (``router.dialects.continuation``). Its events, translated into the client's dialect like
the first call's, are spliced (``router.dialects.splice``) into the same stream. When nothing can
continue it, the first failure propagates and the stream ends with the error event, as without
``resume``.

The candidates are found as a fallback round would find them (``router.dispatch.candidates``):
the routed group's deployments, then its ``fallbacks``', each group's as its strategy orders
them (breaker, context window, limits, a session's pin), skipping those that cannot continue
(``continues``, or a wire that cannot take the answer's tool calls) and those that broke this
stream. The key's budget is asked again first (``router.routing.budgets.KeyBudget``), counting
what the stream's calls cost so far: a key now over budget is not continued (or is continued in
its ``exceeded_to`` group, as a new request would be served). Continuations count against the
request's ``max_attempts`` and must open before its ``deadline``.

Each continuation is an attempt of its own (admission, breaker verdict, usage, cost, a trace span
linked to the broken call's); the broken call's attempt counts as cut. Every decision is counted
in ``raceway_stream_resumes_total``; a client that asks (``RESUME_COMMENT_HEADER``) gets, after
the stream's last event, one SSE comment a continuation.

The loop itself belongs to the stream's owner (``router.dispatch.opened_stream.OpenedStream``): at
a break it ends the broken leg (its attempt counts as cut) and asks ``Resumer.resume`` for a
``Continuation``; it ends the continuation's leg too, when the next break or the stream's end
comes. The calls the stream took (``Resumer.attempts``) reach the access log through the stream's
``StreamResult``.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

from router.config.model import PREFIX_ON_MESSAGE, Continues
from router.dialects.continuation import Partial, continued, takes_calls, unsendable
from router.dialects.splice import Splicer, splicer_for
from router.dispatch.attempt import Attempt, Calls
from router.dispatch.candidates import Candidates
from router.dispatch.completion import Call
from router.dispatch.legs import Leg
from router.dispatch.opened_stream import Continuation
from router.dispatch.preparation import ContinuedStream, Conversation
from router.dispatch.rounds import AttemptBudget, Pace, RoundFailed, run_round
from router.errors import BudgetExceeded, UpstreamError
from router.fleet.fleet import Member
from router.providers.correlation import Correlation
from router.routing.budgets import KeyBudget
from router.routing.rules import RoutedRequest
from router.telemetry.labels import StreamOutcome
from router.telemetry.metrics import Metrics
from router.telemetry.tracing import AttemptSpan
from router.wire.dialect import Dialect
from router.wire.formats import WireFormat
from router.wire.sse import Batches

# Where a continuation can go: the wire API each way of continuing speaks.
_WIRES = {Continues.PREFILL: Dialect.MESSAGES, Continues.PREFIX: Dialect.CHAT}


class ResumeOutcome(enum.StrEnum):
    SPLICED = "spliced"
    REFUSED = "refused"  # the answer cannot be continued (thinking, a tool call cut midway...)
    # max_resumes or max_attempts reached, the deadline passed, or no deployment could continue it
    EXHAUSTED = "exhausted"


class Resumer:
    """The continuations of one stream (``Committed.resumer``)."""

    def __init__(
        self,
        request: RoutedRequest,
        candidates: Candidates,
        splicer: Splicer,
        first: Leg,
        *,
        attempts: int,
        calls: Calls,
        metrics: Metrics,
        conversation: Conversation,
        wire_format: WireFormat,
        tokens: int,
        correlation: Callable[[], Correlation],
        deadline_at: float,
        budget: KeyBudget | None = None,
        announce: bool = False,
    ) -> None:
        """``first``: the leg that won the stream; ``attempts``: the calls that took;
        ``candidates``: who may continue it, in order; ``deadline_at``: the request's deadline
        (the event loop's time) a continuation must open before; ``budget``: its key's, if it has
        one; ``announce``: end the stream with an SSE comment a continuation."""
        group = request.group
        assert group.resume is not None
        self._request = request
        self._group = group
        self._max = group.resume.max_resumes
        self.keeps_answer = group.resume.cache  # a spliced answer may go into the answer cache
        self._candidates = candidates
        self._key_budget = budget
        self._splicer = splicer
        self._calls = calls
        self._metrics = metrics
        self._conversation = conversation
        self._wire_format = wire_format
        self._tokens = tokens
        self._correlation = correlation
        self._deadline_at = deadline_at
        self._announce = announce
        self._budget = AttemptBudget(group.max_attempts - attempts)
        self._budget.used = attempts
        self._serving = first.deployment  # the deployment whose events the client gets now
        self._span = first.span  # the trace span of the call whose events the client gets now
        self._broken: list[str] = []  # deployments that broke this stream
        self._unread: list[bytes] = []  # events the client received, for the splicer to read at a break
        # Each event the client is sent: kept unread (a stream that never breaks costs no parsing
        # and no call of ours: a list's append), or, once a continuation is relayed, nothing more
        # (the splicer follows each event as it splices it: ``_spliced``).
        self.note: Callable[[bytes], None] = self._unread.append
        self.resumed: list[dict[str, Any]] = []  # for the access log

    @property
    def attempts(self) -> int:
        """The calls the stream took so far, its continuations' included."""
        return self._budget.used

    async def resume(self, broken: UpstreamError, spent: float = 0.0) -> Continuation:
        """The rest of the stream, continued elsewhere; raises ``broken`` when nothing can continue it.

        The broken leg is already ended (by the stream's owner, who ends the continuation too);
        ``spent``: what the stream's calls cost so far (USD)."""
        failed = self._serving
        self._broken.append(failed)
        self.note = self._unread.append
        for event in self._unread:
            self._splicer.note(event)
        self._unread.clear()
        if self._splicer.refusal() is not None:
            self._count(failed, "", ResumeOutcome.REFUSED)
            raise broken
        partial = self._splicer.partial()
        request, candidates = await self._continuing(partial, spent)
        left = self._deadline_at - asyncio.get_running_loop().time()
        if len(self.resumed) >= self._max or not candidates or not self._budget.has_room() or left <= 0:
            self._count(failed, "", ResumeOutcome.EXHAUSTED)
            raise broken
        broken_span = self._span
        try:
            async with asyncio.timeout(left):
                won = await run_round(
                    candidates,
                    lambda attempt: self._continue(attempt, partial, broken_span),
                    Pace(),
                    self._budget,
                    begin=self._calls.begin,
                    discard=_abandon,
                )
        except (RoundFailed, UpstreamError, TimeoutError):
            self._count(failed, "", ResumeOutcome.EXHAUSTED)
            raise broken from None
        leg = won.value
        self._candidates.continued_on(request, won.winner)
        self._serving, self._span, self.note = leg.deployment, leg.span, _noted_as_spliced
        self.resumed.append({"from": failed, "to": leg.deployment, "at_chars": len(partial.text)})
        self._count(failed, leg.deployment, ResumeOutcome.SPLICED)
        self._splicer.begin(unsendable(partial, won.winner.deployment.continuation))
        return Continuation(leg, self._spliced(leg))

    async def _continuing(self, partial: Partial, spent: float) -> tuple[RoutedRequest, list[Member]]:
        """The request as its key's budget routes it now, and who may continue ``partial``, in
        order (none when the budget says so)."""
        request = self._request
        if self._key_budget is not None:
            try:
                request = self._key_budget.steered(request, spent)
            except BudgetExceeded:
                return request, []
        broken = self._broken

        def eligible(member: Member) -> bool:
            if member.name in broken:
                return False
            continues = member.deployment.continuation
            if _WIRES.get(continues) is not member.provider.wire:
                return False  # ``none``, or a declaration its wire cannot honour (litellm's chat)
            flagged = member.deployment.provider in PREFIX_ON_MESSAGE
            return not partial.calls or takes_calls(continues, flag_message=flagged)

        return request, await self._candidates.continuing(request, self._tokens, eligible)

    async def _continue(self, attempt: Attempt, partial: Partial, broken: AttemptSpan) -> Leg:
        deployment = attempt.member.deployment
        attempt.span.resumes(broken, len(partial.text))
        skip = unsendable(partial, deployment.continuation)
        sendable = Partial(partial.text[: len(partial.text) - len(skip)], partial.calls)
        flagged = deployment.provider in PREFIX_ON_MESSAGE
        call = ContinuedStream(
            self._conversation,
            lambda body: continued(body, deployment.continuation, sendable, flag_message=flagged),
        )
        return await self._calls.stream(attempt, call, self._wire_format, self._tokens, self._correlation())

    async def _spliced(self, leg: Leg) -> Batches:
        """``leg``'s events in the client's terms, each noted by the splicer as it is made: the
        next is spliced from the state the one before left."""
        splicer = self._splicer
        async with aclosing(leg.batches()) as batches:
            async for batch in batches:
                spliced: list[bytes] = []
                for event in batch:
                    for out in splicer.splice(event):
                        splicer.note(out)
                        spliced.append(out)
                if spliced:
                    yield spliced
        if self._announce and self.resumed:  # the last continuation ended the stream: say what was continued
            yield [_announcement(hop) for hop in self.resumed]

    def _count(self, failed: str, to: str, outcome: ResumeOutcome) -> None:
        self._metrics.stream_resumes.labels(self._group.name, failed, to, outcome.value).inc()


def _noted_as_spliced(event: bytes) -> None:
    """A continuation's events are noted by the splicer as they are made (``Resumer._spliced``)."""


def _announcement(hop: dict[str, Any]) -> bytes:
    return f": raceway resumed from {hop['from']} to {hop['to']}\n\n".encode()


async def _abandon(stream: Leg) -> None:
    await stream.end(StreamOutcome.ABANDONED)


def resumer_for(
    request: RoutedRequest,
    call: Call,
    wire_format: WireFormat,
    first: Leg,
    *,
    attempts: int,
    candidates: Candidates,
    calls: Calls,
    tokens: int,
    correlation: Callable[[RoutedRequest], Correlation],
    deadline_at: float,
    budget: KeyBudget | None = None,
) -> Resumer | None:
    """The resumer of a stream of ``request``'s group whose ``first`` leg won (after ``attempts``
    calls), if the group has ``resume`` and the client's dialect a splicer (None: its breaks end
    with the error event)."""
    splicer = splicer_for(wire_format.dialect)
    if request.group.resume is None or splicer is None or not isinstance(call, Conversation):
        return None
    return Resumer(
        request,
        candidates,
        splicer,
        first,
        attempts=attempts,
        calls=calls,
        metrics=calls.metrics,
        conversation=call,
        wire_format=wire_format,
        tokens=tokens,
        correlation=lambda: correlation(request),
        deadline_at=deadline_at,
        budget=budget,
        announce=request.resume_comment,
    )
