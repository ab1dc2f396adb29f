"""Small builders shared by the tests."""

from __future__ import annotations

from router.config.model import Deployment, FakeSettings
from router.config.model_groups import ModelGroup
from router.config.secret import Secret
from router.wire.sse import Batches


def native(name: str, base_url: str, model: str | None = None, **overrides: object) -> Deployment:
    """A native OpenAI-compatible deployment; its upstream model defaults to its name."""
    fields: dict[str, object] = {
        "name": name,
        "provider": "openai",
        "model": model or name,
        "base_url": base_url,
        "api_key": Secret("sk-test-upstream-key"),
        "timeout": 5.0,
        "connect_timeout": 1.0,
    }
    fields.update(overrides)
    return Deployment(**fields)  # type: ignore[arg-type]


def fake(name: str, **settings: object) -> Deployment:
    return Deployment(name=name, provider="fake", model="fake-echo", fake=FakeSettings(**settings))  # type: ignore[arg-type]


def group(name: str, *deployments: str) -> ModelGroup:
    return ModelGroup(name=name, deployments=deployments)


CHAT = {"model": "public", "messages": [{"role": "user", "content": "ping"}]}


async def reads(*batches: list[bytes]) -> Batches:
    """An upstream stream whose reads each bring one of ``batches``."""
    for batch in batches:
        yield batch


async def events_of(batches: Batches) -> list[bytes]:
    """Every event of a stream, its batches (one per upstream read) run together."""
    return [event async for batch in batches for event in batch]
