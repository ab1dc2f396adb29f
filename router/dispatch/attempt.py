"""One upstream call: admission (rate limit, concurrency gate), then the call, then its bookkeeping.

Every call goes through ``CallTracker``, which keeps the deployment's in-flight count,
circuit breaker, latency statistics, token budget and metrics true whatever happens to
the call: success, failure, cancellation as a race loser, or a stream cut midway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from router.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected, UpstreamTimeout
from router.fleet.breaker import State
from router.fleet.fleet import Member
from router.fleet.limits import Saturated
from router.spend.pricing import cost_usd
from router.sse import carries_usage, event_json, has_content, is_done
from router.telemetry.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_of(payload: Any) -> Usage | None:
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


@dataclass(slots=True)
class Completion:
    """A finished non-streaming answer."""

    body: bytes
    deployment: str
    attempts: int
    upstream_seconds: float
    usage: Usage | None = None
    cost: float = 0.0


@dataclass(slots=True)
class OpenedStream:
    """A stream committed to one deployment: ``head`` is held back, ``tail`` still upstream."""

    deployment: str
    head: list[bytes]
    tail: AsyncGenerator[bytes, None]
    upstream_started: float
    finished: bool = False
    attempts: int = 1
    usage: Usage | None = None
    cost: float = 0.0
    # The gateway asked for usage the client did not: keep the usage-only chunk to ourselves.
    hide_usage: bool = False
    # Sees every event that passes, e.g. to assemble the whole answer.
    on_event: Callable[[bytes], None] | None = field(default=None, repr=False)
    # Told once how the stream ended: "success", "stream_cut" (with the error) or "cancelled".
    on_close: Callable[[str, UpstreamError | None], None] | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    @classmethod
    def replay(cls, deployment: str, events: list[bytes]) -> OpenedStream:
        """A stream whose every event is already known (an answer from the cache)."""
        return cls(deployment, events, _no_more_events(), time.perf_counter(), finished=True)

    async def events(self) -> AsyncGenerator[bytes, None]:
        for event in self.head:
            if self._passes(event):
                yield event
        if self.finished:
            self._settle("success")
            return
        try:
            async for event in self.tail:
                if self._passes(event):
                    yield event
        except UpstreamError as exc:
            self._settle("stream_cut", exc)
            raise
        self._settle("success")

    def _passes(self, event: bytes) -> bool:
        """Note what the event says; False for a usage chunk the client did not ask for."""
        if self.on_event is not None:
            self.on_event(event)
        if not carries_usage(event):
            return True
        payload = event_json(event)
        self.usage = usage_of(payload) or self.usage
        return not (self.hide_usage and isinstance(payload, dict) and not payload.get("choices"))

    async def aclose(self) -> None:
        """Close the upstream side; a stream not read to its end counts as cancelled."""
        await self.tail.aclose()
        self._settle("cancelled")

    def _settle(self, outcome: str, error: UpstreamError | None = None) -> None:
        if not self._closed:
            self._closed = True
            if self.on_close is not None:
                self.on_close(outcome, error)


async def _no_more_events() -> AsyncGenerator[bytes, None]:
    return
    yield


async def open_stream(member: Member, body: dict[str, Any]) -> OpenedStream:
    """Start a stream and read it up to its first content chunk (within ``first_chunk_timeout``)."""
    events = member.provider.chat_stream(body)
    started = time.perf_counter()
    deployment = member.deployment
    try:
        async with asyncio.timeout(deployment.first_chunk_timeout):
            head, finished = await _read_until_content(events, deployment.name)
    except TimeoutError as exc:
        await events.aclose()
        raise UpstreamTimeout(
            f"deployment {deployment.name} sent no content within {deployment.first_chunk_timeout:g}s",
            deployment=deployment.name,
        ) from exc
    except BaseException:
        await events.aclose()
        raise
    return OpenedStream(deployment.name, head, events, started, finished)


async def _read_until_content(
    events: AsyncGenerator[bytes, None], deployment: str
) -> tuple[list[bytes], bool]:
    """Events up to and including the first content chunk; True when the stream already ended."""
    head: list[bytes] = []
    async for event in events:
        head.append(event)
        if is_done(event):
            return head, True
        payload = event_json(event)
        if isinstance(payload, dict) and "error" in payload:
            raise UpstreamError(f"deployment {deployment} sent an error event", deployment=deployment)
        if has_content(payload):
            return head, False
    raise UpstreamError(f"deployment {deployment} ended the stream before any content", deployment=deployment)


def outcome_label(error: UpstreamError) -> str:
    if isinstance(error, Saturated):
        return "rejected"
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UpstreamRateLimited):
        return "rate_limited"
    if isinstance(error, UpstreamRejected):
        return "request_error"
    if error.code == "upstream_connect_error":
        return "connect_error"
    return "error"


class CallTracker:
    def __init__(self, metrics: Metrics, on_cooldown: Callable[[Member], None] | None = None) -> None:
        """``on_cooldown``: told when a deployment's breaker opens (to share the cooldown)."""
        self._metrics = metrics
        self._on_cooldown = on_cooldown

    async def complete(
        self, member: Member, call: Callable[[Member], Awaitable[bytes]], tokens: int
    ) -> Completion:
        """A non-streaming call; ``attempts`` is filled in by the dispatcher."""
        await self._admit(member, tokens)
        started = self._started(member)
        try:
            answer = await call(member)
        except BaseException as exc:
            self._failed(member, exc, tokens)
            raise
        elapsed = time.perf_counter() - started
        usage = usage_of(_loads(answer))
        self._succeeded(member, elapsed, stream=False)
        self._finish(member, tokens, usage)
        self._metrics.upstream_requests.labels(member.name, "success").inc()
        self._metrics.upstream_duration.labels(member.name).observe(elapsed)
        cost = cost_usd(member.price, usage.prompt_tokens, usage.completion_tokens) if usage else 0.0
        return Completion(answer, member.name, 0, elapsed, usage, cost)

    async def stream(self, member: Member, body: dict[str, Any], tokens: int) -> OpenedStream:
        """A stream, committed once it delivers content; bookkeeping ends when it closes."""
        await self._admit(member, tokens)
        started = self._started(member)
        try:
            opened = await open_stream(member, body)
        except BaseException as exc:
            self._failed(member, exc, tokens)
            raise
        self._succeeded(member, time.perf_counter() - started, stream=True)
        self._metrics.upstream_first_chunk.labels(member.name).observe(time.perf_counter() - started)

        def closed(outcome: str, error: UpstreamError | None) -> None:
            if error is not None:
                member.breaker.record_failure()
                self.publish_state(member)
            usage = opened.usage
            if usage is not None:
                opened.cost = cost_usd(member.price, usage.prompt_tokens, usage.completion_tokens)
            self._finish(member, tokens, usage)
            self._metrics.upstream_requests.labels(member.name, outcome).inc()
            self._metrics.upstream_duration.labels(member.name).observe(time.perf_counter() - started)

        opened.on_close = closed
        return opened

    # -- the steps --------------------------------------------------------------------

    async def _admit(self, member: Member, tokens: int) -> None:
        """Rate limit, then a concurrency slot; a refusal is a retryable ``Saturated``."""
        metrics, name = self._metrics, member.name
        try:
            await member.rate.admit(tokens, owner=f"deployment {name}")
            if member.gate.has_capacity():
                await member.gate.enter()
                return
            queued = time.perf_counter()
            metrics.queue_depth.labels(name).inc()
            try:
                await member.gate.enter()
            finally:
                metrics.queue_depth.labels(name).dec()
                metrics.queue_wait.labels(name).observe(time.perf_counter() - queued)
        except Saturated as exc:
            exc.deployment = name
            member.breaker.release()
            metrics.rejected.labels(name, exc.reason).inc()
            raise
        except BaseException:
            member.breaker.release()
            raise

    def _started(self, member: Member) -> float:
        member.stats.in_flight += 1
        self._metrics.inflight.labels(member.name).inc()
        return time.perf_counter()

    def _succeeded(self, member: Member, elapsed: float, *, stream: bool) -> None:
        member.stats.observe(elapsed, stream=stream)
        member.breaker.record_success()
        self.publish_state(member)

    def _failed(self, member: Member, exc: BaseException, tokens: int) -> None:
        self._finish(member, tokens, None)
        if isinstance(exc, UpstreamError):
            if exc.retryable:
                member.breaker.record_failure(
                    exc.retry_after if isinstance(exc, UpstreamRateLimited) else None
                )
            else:
                member.breaker.release()
            self._metrics.upstream_requests.labels(member.name, outcome_label(exc)).inc()
            self.publish_state(member)
        else:  # cancelled (a race loser, a client gone) or a bug: no verdict on the deployment
            member.breaker.release()
            if isinstance(exc, asyncio.CancelledError):
                self._metrics.upstream_requests.labels(member.name, "cancelled").inc()

    def _finish(self, member: Member, tokens: int, usage: Usage | None) -> None:
        member.stats.in_flight -= 1
        self._metrics.inflight.labels(member.name).dec()
        member.gate.leave()
        if usage is not None:
            member.rate.settle(tokens, usage.total)

    def publish_state(self, member: Member) -> None:
        state = int(member.breaker.state)
        if state != member.published_state:  # a gauge write only when the state moves
            member.published_state = state
            self._metrics.deployment_state.labels(member.name).set(state)
            if state == State.COOLED_DOWN and self._on_cooldown is not None:
                self._on_cooldown(member)


def _loads(answer: bytes) -> Any:
    try:
        return orjson.loads(answer)
    except orjson.JSONDecodeError:
        return None
