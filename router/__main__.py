"""The command line: ``raceway serve``, ``raceway check-config`` and ``raceway keys``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from router.config.load import parse_config
from router.config.model import ConfigError, GatewayConfig

DEFAULT_CONFIG = Path("config/gateway.yaml")


def _load(path: Path) -> GatewayConfig | None:
    config, _ = _load_with_bytes(path)
    return config


def _load_with_bytes(path: Path) -> tuple[GatewayConfig | None, bytes]:
    """The validated config and the exact bytes it came from (None on error, problems printed)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return None, b""
    try:
        return parse_config(raw, os.environ), raw
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return None, raw


def check_config(args: argparse.Namespace) -> int:
    config = _load(args.file)
    if config is None:
        return 1
    print(
        f"{args.file}: ok ({len(config.deployments)} deployments, {len(config.models)} models, "
        f"{len(config.keys)} keys, hash {config.hash})"
    )
    return 0


def serve(args: argparse.Namespace) -> int:
    from router.config.units import split_bind
    from router.server.supervisor import ServeOptions, serve

    config, raw = _load_with_bytes(args.config)
    if config is None:
        return 1
    host, port = split_bind(args.bind or config.server.bind)
    workers = args.workers or config.server.workers or os.cpu_count() or 1
    options = ServeOptions(
        config_path=args.config.resolve(),
        config_bytes=raw,
        host=host,
        port=port,
        workers=workers,
        graceful_timeout=config.server.graceful_timeout,
    )
    return serve(options)


def _keys(args: argparse.Namespace) -> int:
    code: int = args.keys_run(args)  # the subcommand of ``raceway keys``
    return code


def _bind(value: str) -> str:
    from router.config.units import split_bind

    try:
        split_bind(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected HOST:PORT") from exc
    return value


def version() -> str:
    """The installed distribution's version (from its metadata, so it is the one in pyproject)."""
    from importlib import metadata  # read for ``--version`` only, not on every start

    try:
        return metadata.version("raceway")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """``--version``: prints the version, looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        print(f"{parser.prog} {version()}")
        parser.exit()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="raceway", description="An OpenAI-compatible LLM routing gateway.")
    root.add_argument("--version", action=_Version)
    commands = root.add_subparsers(dest="command", required=True)

    serve_command = commands.add_parser("serve", help="start the gateway")
    serve_command.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG, help="config file (YAML)")
    serve_command.add_argument("--bind", type=_bind, help="HOST:PORT (default: server.bind from the config)")
    serve_command.add_argument(
        "--workers", type=int, help="worker processes (default: server.workers, else CPU count)"
    )
    serve_command.set_defaults(run=serve)

    check_command = commands.add_parser("check-config", help="validate a config file and list every problem")
    check_command.add_argument("file", type=Path)
    check_command.set_defaults(run=check_config)

    from router.cli import keys as keys_cli

    keys_command = commands.add_parser("keys", help="create gateway keys and show their spend")
    keys_cli.add_commands(keys_command, load=_load)
    keys_command.set_defaults(run=_keys)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
