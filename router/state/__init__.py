"""State shared by every worker and instance: the backend interface (``backend``), the local
backend (``local``) and the Redis one (``redis/``), chosen here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from router.config.model import BackendKind, GatewayConfig
from router.state.backend import StateBackend
from router.state.local import LocalState
from router.telemetry.metrics import Metrics


def open_state(config: GatewayConfig, metrics: Metrics, shared_dir: Path | None = None) -> StateBackend:
    """The backend ``config.state`` asks for (Redis is imported only when it is used);
    ``shared_dir``: a directory every worker of this instance shares (``raceway serve``'s)."""
    if config.state.backend is BackendKind.REDIS:
        from router.state.redis.backend import RedisBackend

        return RedisBackend.open(config, metrics)
    return LocalState(config.state.ledger, shared_dir)
