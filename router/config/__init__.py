"""The config file, as plain data: typed objects (``model``, with the sections ``model_groups``,
``gateway_keys``, ``telemetry``; ``secret``, ``strategies``, ``reserved``), reading and validating
YAML (``load``, ``reader`` and the section readers ``sections``, ``deployments``, ``groups``,
``keys``; ``values``, ``units``). Live edits are the runtime's (``router.runtime.reload``); nothing
here imports beyond ``router.config``.

Code inside ``router`` imports from those modules; the names below are re-exported for
callers outside it (tests, scripts)."""

from router.config.gateway_keys import Budget, GatewayKey
from router.config.load import load_config, parse_config
from router.config.model import CacheSettings, ConfigError, Deployment, GatewayConfig
from router.config.model_groups import GroupCache, ModelGroup
from router.config.secret import Secret

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
