"""The ``keys`` section as frozen objects: the gateway's API keys, their models, limits and budgets.

Parsing it is ``router.config.keys``; recognising a presented key is ``router.runtime.keyring``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from router.config.secret import Secret


@dataclass(frozen=True, kw_only=True)
class Budget:
    """A key's spending limits in USD, and where its requests go as it nears or passes them."""

    daily: float | None = None
    monthly: float | None = None
    near: float = 0.8  # from this fraction of a limit on, requests go to ``downgrade_to``
    downgrade_to: str | None = None  # a cheaper model group
    exceeded_to: str | None = None  # None: over budget, requests get 429 budget_exceeded


@dataclass(frozen=True, kw_only=True)
class GatewayKey:
    name: str
    digest: bytes  # SHA-256 of the key: all the gateway needs to recognise it
    secret: Secret | None = None  # the key itself, when the config has it (inline or from the environment)
    models: frozenset[str] | None = None  # None: every model
    allow_override: bool = False  # may pin a deployment with x-raceway-deployment
    rpm: int | None = None  # for the whole gateway; each worker enforces its share
    tpm: int | None = None
    budget: Budget | None = None

    @classmethod
    def from_secret(cls, name: str, secret: str, **settings: Any) -> GatewayKey:
        return cls(name=name, digest=key_digest(secret), secret=Secret(secret), **settings)

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


def key_digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()
