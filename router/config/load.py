"""Loading a config: YAML text to a validated ``GatewayConfig``, or ``ConfigError`` with every problem."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from router.config.model import ConfigError, GatewayConfig
from router.config.reader import ConfigReader
from router.config.sections import read_config


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate a config file; raises ``ConfigError`` listing every problem."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    return parse_config(raw, os.environ if env is None else env)


def parse_config(raw: bytes, env: Mapping[str, str]) -> GatewayConfig:
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"(yaml) {where}{problem}"]) from exc
    if document is None:
        raise ConfigError(["(root): the config is empty"])
    reader = ConfigReader(env)
    config = read_config(reader, document, hashlib.sha256(raw).hexdigest()[:16])
    if reader.problems or config is None:
        raise ConfigError(reader.problems)
    return config
