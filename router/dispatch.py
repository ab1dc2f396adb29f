"""Calling a model group's deployments: ordered fallback on retryable failures.

A stream is committed to a deployment only once it has delivered its first content
chunk; until then a failure moves on to the next deployment and nothing has been
sent to the client.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

from router.config import ModelGroup
from router.errors import (
    NoDeploymentAvailable,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from router.providers import Provider, ProviderSet, RequestBody
from router.streaming import event_json, has_content, is_done


@dataclass(slots=True)
class Completion:
    """A finished non-streaming answer."""

    body: bytes
    deployment: str
    attempts: int
    upstream_seconds: float


@dataclass(slots=True)
class OpenedStream:
    """A stream committed to one deployment: ``head`` is held back, ``tail`` still upstream."""

    deployment: str
    attempts: int
    head: list[bytes]
    tail: AsyncGenerator[bytes, None]
    upstream_started: float
    finished: bool = field(default=False)

    async def events(self) -> AsyncGenerator[bytes, None]:
        for event in self.head:
            yield event
        if self.finished:
            return
        async for event in self.tail:
            yield event

    async def aclose(self) -> None:
        await self.tail.aclose()


class Dispatcher:
    """Runs a request against the deployments of a model group."""

    def __init__(self, providers: ProviderSet) -> None:
        self._providers = providers

    def _candidates(self, group: ModelGroup) -> list[Provider]:
        providers = self._providers.by_name
        candidates = [providers[name] for name in group.deployments if name in providers]
        if not candidates:
            raise NoDeploymentAvailable(f"no deployment of model {group.name!r} is available")
        return candidates

    async def complete(
        self, group: ModelGroup, body: RequestBody, call: Callable[[Provider], Awaitable[bytes]]
    ) -> Completion:
        """``call`` is the provider method to use (chat or embeddings)."""
        failures: list[UpstreamError] = []
        for attempt, provider in enumerate(self._candidates(group), start=1):
            started = time.perf_counter()
            try:
                answer = await call(provider)
            except UpstreamError as exc:
                if not exc.retryable:
                    raise
                failures.append(exc)
                continue
            return Completion(answer, provider.deployment.name, attempt, time.perf_counter() - started)
        raise exhausted(group, failures)

    async def chat(self, group: ModelGroup, body: RequestBody) -> Completion:
        return await self.complete(group, body, lambda provider: provider.chat(body))

    async def embeddings(self, group: ModelGroup, body: RequestBody) -> Completion:
        return await self.complete(group, body, lambda provider: provider.embeddings(body))

    async def open_stream(self, group: ModelGroup, body: RequestBody) -> OpenedStream:
        failures: list[UpstreamError] = []
        for attempt, provider in enumerate(self._candidates(group), start=1):
            started = time.perf_counter()
            events = provider.chat_stream(body)
            try:
                head, finished = await _read_until_content(events, provider.deployment.name)
            except UpstreamError as exc:
                await events.aclose()
                if not exc.retryable:
                    raise
                failures.append(exc)
                continue
            except BaseException:
                await events.aclose()
                raise
            return OpenedStream(provider.deployment.name, attempt, head, events, started, finished)
        raise exhausted(group, failures)


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


def exhausted(group: ModelGroup, failures: list[UpstreamError]) -> UpstreamError:
    """The error for a group whose every deployment failed: the most telling class wins."""
    summary = "; ".join(f"{failure.deployment}: {failure.message}" for failure in failures)
    message = f"every deployment of model {group.name!r} failed ({summary})"
    if failures and all(isinstance(f, UpstreamRateLimited) for f in failures):
        waits = [f.retry_after for f in failures if isinstance(f, UpstreamRateLimited) and f.retry_after]
        return UpstreamRateLimited(message, retry_after=min(waits) if waits else None)
    if failures and isinstance(failures[-1], UpstreamTimeout):
        return UpstreamTimeout(message)
    return UpstreamError(message)
