"""An in-process dispatcher wired to a scripted upstream, with a fake clock for breakers and stats.

With the in-memory upstream (``tests/memory_upstream.py``) the whole dispatch runs on virtual
time (``tests/virtual_time.py``): delays, timeouts, hedges and the backoffs between retry
rounds (each one recorded in ``Harness.sleeps``) take no real time. With the socket upstream
(``tests/upstream.py``) it runs on the real loop, for tests of the real socket path."""

from __future__ import annotations

import asyncio
import random
import textwrap
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from router.config.gateway_keys import GatewayKey
from router.config.load import parse_config
from router.config.model import GatewayConfig
from router.dispatch.completion import EMBEDDINGS, Completion
from router.dispatch.dispatcher import Dispatcher
from router.dispatch.opened_stream import OpenedStream
from router.dispatch.preparation import Conversation, Embeddings
from router.errors import UpstreamError
from router.fleet.fleet import Fleet
from router.routing.rules import route
from router.state.local import LocalState
from router.telemetry.labels import StreamOutcome
from router.telemetry.metrics import Metrics
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS
from tests.memory_upstream import MemoryUpstream
from tests.upstream import ScriptedUpstream

CHAT_FORMAT = FORMATS[Dialect.CHAT]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    config: GatewayConfig
    fleet: Fleet
    dispatcher: Dispatcher
    registry: CollectorRegistry
    clock: FakeClock
    sleeps: list[float] = field(default_factory=list)

    def body(self, model: str, **extra: Any) -> dict[str, Any]:
        return {"model": model, "messages": [{"role": "user", "content": "ping"}], **extra}

    async def chat(
        self,
        model: str,
        *,
        key: GatewayKey | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Completion:
        body = self.body(model, **extra)
        routed = route(self.config, model, body, key, headers or {})
        return await self.dispatcher.complete(routed, body, Conversation(Dialect.CHAT, body), CHAT_FORMAT)

    async def embeddings(self, body: dict[str, Any]) -> Completion:
        routed = route(self.config, body["model"], body, None, {})
        return await self.dispatcher.complete(routed, body, Embeddings(body), EMBEDDINGS)

    async def open_stream(self, body: dict[str, Any]) -> OpenedStream:
        routed = route(self.config, body["model"], body, None, {})
        return OpenedStream(
            await self.dispatcher.open_stream(routed, body, Conversation(Dialect.CHAT, body), CHAT_FORMAT)
        )

    async def stream(self, model: str, **extra: Any) -> tuple[OpenedStream, str]:
        """The opened stream and the whole text it delivers."""
        opened = await self.open_stream(self.body(model, stream=True, **extra))
        return opened, await stream_text(opened)

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    async def close(self) -> None:
        await self.fleet.close()


async def stream_text(opened: OpenedStream) -> str:
    """Read ``opened`` to its end and end it, as the SSE relay does; the text it carried."""
    import orjson

    text = ""
    outcome = StreamOutcome.ABANDONED
    try:
        async for batch in opened.batches():
            for event in batch:
                if event.startswith(b"data: {"):
                    for choice in orjson.loads(event[6:]).get("choices", []):
                        text += (choice.get("delta") or {}).get("content") or ""
        outcome = StreamOutcome.COMPLETE
    except UpstreamError:
        outcome = StreamOutcome.CUT
        raise
    finally:
        await opened.end(outcome)
    return text


def build_harness(upstream: ScriptedUpstream, yaml_text: str, *, seed: int = 7) -> Harness:
    """``yaml_text`` may use ``{base}`` for the upstream's base URL."""
    raw = textwrap.dedent(yaml_text).replace("{base}", upstream.base_url).encode()
    config = parse_config(raw, {})
    clock = FakeClock()
    registry = CollectorRegistry()
    factory = upstream.provider_factory() if isinstance(upstream, MemoryUpstream) else None
    fleet = Fleet.build(config, clock, state=LocalState(config.state.ledger), factory=factory)
    harness = Harness(config, fleet, None, registry, clock)  # type: ignore[arg-type]

    async def recorded_sleep(seconds: float) -> None:
        harness.sleeps.append(seconds)
        await asyncio.sleep(seconds)

    harness.dispatcher = Dispatcher(
        config, fleet, Metrics(registry), rng=random.Random(seed), sleep=recorded_sleep
    )
    return harness
