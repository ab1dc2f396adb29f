"""Live config edits: every worker watches the file, validates a new version whole, and swaps at once.

The watcher reads the file twice a second and acts only on content it has not examined
yet, once that content has stayed the same for a short settle time (an editor that
writes in place, or a file briefly empty, is never caught halfway). A new config is
fully validated before anything changes; an invalid one leaves the last good config
active and is reported. The swap replaces the worker's ``Gateway`` in one assignment:
a request keeps the snapshot it started with, new requests see the new one, and
deployments that did not change keep their state (see ``Gateway.successor``).

With several workers, each one samples the file on its own, so a version that lived
only a moment could reach one worker and not another. To make them converge, a worker
that applies a version from the file also writes it, validated, to a snapshot shared
by the gateway's workers and signals the supervisor, which has every worker adopt the
snapshot. Whatever the file goes through, all workers end on the same config.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from router.background import BackgroundWork
from router.config.load import parse_config
from router.config.model import ConfigError, GatewayConfig
from router.fleet.fleet import Member, drain
from router.runtime.gateway import Gateway
from router.telemetry.metrics import Metrics

logger = logging.getLogger("raceway.reload")

POLL_INTERVAL = 0.5
SETTLE_TIME = 0.15


class ReloadResult(enum.StrEnum):
    """What a look at the config file came to (the ``result`` label of the reload metric)."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    INVALID = "invalid"  # the last good config stays
    UNREADABLE = "unreadable"
    UNSETTLED = "unsettled"  # still being written: looked at again at the next poll


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    result: ReloadResult
    hash: str
    error: str | None = None


class GatewayHolder(Protocol):
    """Where the worker's current gateway lives (a reload replaces it there)."""

    gateway: Gateway


class ConfigReloader:
    def __init__(
        self,
        path: Path,
        state: GatewayHolder,
        metrics: Metrics,
        *,
        workers: int,
        interval: float = POLL_INTERVAL,
        settle: float = SETTLE_TIME,
        snapshot: Path | None = None,
        announce: Callable[[], None] | None = None,
    ) -> None:
        """``snapshot``: the file shared by all workers; ``announce``: tells the others to adopt it."""
        self._path = path
        self._state = state
        self._metrics = metrics
        self._workers = workers
        self._interval = interval
        self._settle = settle
        self._snapshot = snapshot
        self._announce = announce
        self._examined: bytes | None = None  # digest of the last content parsed (good or bad)
        self._unreadable = False  # the last look found the file unreadable
        self._lock = asyncio.Lock()
        self._draining = BackgroundWork()  # retired deployments finishing their calls
        self.loaded_at = time.time()
        self.last_error: str | None = None

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self._state.gateway
        return gateway

    def status(self) -> dict[str, Any]:
        config = self.gateway.config
        return {
            "hash": config.hash,
            "loaded_at": round(self.loaded_at, 3),
            "last_error": self.last_error,
            "path": str(self._path),
            "pid": os.getpid(),
            "models": sorted(config.models),
            "deployments": sorted(config.deployments),
        }

    async def watch(self) -> None:
        """Poll the file until cancelled."""
        while True:
            await asyncio.sleep(self._interval)
            await self.check()

    async def check(self, *, force: bool = False) -> ReloadOutcome:
        """Load the file if its content is new (or ``force``), keeping the last good config on error."""
        async with self._lock:
            current = self.gateway.config
            try:
                raw = self._path.read_bytes()
            except OSError as exc:  # mid-rename, or deleted for a moment: try again next time
                return self._rejected(
                    current, f"cannot read {self._path}: {exc.strerror}", ReloadResult.UNREADABLE
                )
            self._unreadable = False
            digest = hashlib.sha256(raw).digest()
            if digest == self._examined and not force:
                return ReloadOutcome(ReloadResult.UNCHANGED, current.hash)
            await asyncio.sleep(self._settle)
            try:
                settled = self._path.read_bytes()
            except OSError as exc:
                return self._rejected(
                    current, f"cannot read {self._path}: {exc.strerror}", ReloadResult.UNREADABLE
                )
            if settled != raw:  # still being written: look again at the next poll
                return ReloadOutcome(ReloadResult.UNSETTLED, current.hash)
            self._examined = digest
            try:
                config = parse_config(raw, os.environ)
            except ConfigError as exc:
                return self._rejected(current, "; ".join(exc.problems), ReloadResult.INVALID)
            if config.hash == current.hash:
                self.last_error = None
                return ReloadOutcome(ReloadResult.UNCHANGED, current.hash)
            self._swap(config)
            self._share(raw)
            return ReloadOutcome(ReloadResult.APPLIED, config.hash)

    async def adopt_snapshot(self) -> ReloadOutcome:
        """Take the config another worker applied (called when the supervisor says so)."""
        async with self._lock:
            current = self.gateway.config
            if self._snapshot is None:
                return ReloadOutcome(ReloadResult.UNCHANGED, current.hash)
            try:
                raw = self._snapshot.read_bytes()
                config = parse_config(raw, os.environ)
            except (OSError, ConfigError) as exc:  # a snapshot is validated before it is written
                logger.error("cannot adopt the shared config snapshot: %s", exc)
                return ReloadOutcome(ReloadResult.UNREADABLE, current.hash, str(exc))
            # Look at the operator's file afresh next time: it may hold a newer valid version.
            self._examined = None
            if config.hash == current.hash:
                return ReloadOutcome(ReloadResult.UNCHANGED, current.hash)
            self._swap(config)
            return ReloadOutcome(ReloadResult.APPLIED, config.hash)

    def _share(self, raw: bytes) -> None:
        if self._snapshot is None:
            return
        temporary = self._snapshot.with_name(f"{self._snapshot.name}.{os.getpid()}")
        temporary.write_bytes(raw)
        os.replace(temporary, self._snapshot)  # atomic: readers see the old or the new, whole
        if self._announce is not None:
            self._announce()

    def _rejected(self, current: GatewayConfig, error: str, result: ReloadResult) -> ReloadOutcome:
        if error != self.last_error:
            logger.error("config %s not loaded, keeping %s: %s", self._path, current.hash, error)
        self.last_error = error
        # A file that stays unreadable counts once, not once per poll.
        repeated = result is ReloadResult.UNREADABLE and self._unreadable
        self._unreadable = result is ReloadResult.UNREADABLE
        if not repeated:
            self._metrics.config_reloads.labels(result).inc()
        return ReloadOutcome(result, current.hash, error)

    def _swap(self, config: GatewayConfig) -> None:
        previous = self.gateway
        gateway, retired = previous.successor(config, self._metrics, workers=self._workers)
        self._state.gateway = gateway  # the atomic step: new requests see the new config
        self._metrics.show_config(config.hash, previous=previous.config.hash)
        self._metrics.config_reloads.labels(ReloadResult.APPLIED).inc()
        self.loaded_at = time.time()
        self.last_error = None
        if (config.server.bind, config.server.workers) != (
            previous.config.server.bind,
            previous.config.server.workers,
        ):
            logger.warning("server.bind and server.workers take effect only after a restart")
        if config.state != previous.config.state:
            logger.warning("state (backend, Redis, spend ledger) takes effect only after a restart")
        if config.telemetry != previous.config.telemetry:
            logger.warning("telemetry (traces) takes effect only after a restart")
        logger.info(
            "config %s active (was %s): %d deployments retired",
            config.hash,
            previous.config.hash,
            len(retired),
        )
        if retired:
            self._retire(retired, config.server.graceful_timeout)

    def _retire(self, retired: list[Member], grace: float) -> None:
        self._draining.soon("drain retired deployments", drain(retired, grace))

    async def close(self) -> None:
        """At shutdown: stop draining old deployments (the session closes with the gateway)."""
        await self._draining.close()
