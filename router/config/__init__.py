"""The config file: typed objects (``model``), reading and validating YAML (``load``, ``reader``
and the section readers ``sections``, ``deployments``, ``groups``, ``keys``; ``values``,
``units``), and live edits (``reload``).

Code inside ``router`` imports from those modules; the names below are re-exported for
callers outside it (tests, scripts)."""

from router.config.load import load_config, parse_config
from router.config.model import (
    Budget,
    CacheSettings,
    ConfigError,
    Deployment,
    GatewayConfig,
    GatewayKey,
    GroupCache,
    ModelGroup,
    Secret,
)

__all__ = [
    "Budget",
    "CacheSettings",
    "ConfigError",
    "Deployment",
    "GatewayConfig",
    "GatewayKey",
    "GroupCache",
    "ModelGroup",
    "Secret",
    "load_config",
    "parse_config",
]
