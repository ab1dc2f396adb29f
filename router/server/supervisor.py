"""The multi-worker server: a supervisor process and N hypercorn workers on uvloop.

Each worker listens on its own ``SO_REUSEPORT`` socket, so the kernel spreads new
connections across workers (one shared listening socket lets a burst land on a single
worker). The supervisor reserves the port first (bound, never listening, so it gets
no connections), forwards SIGTERM/SIGINT for a graceful drain, and restarts a worker
that dies (with backoff while it keeps dying young; the others serve meanwhile). It
stops only for a start that fails the same way every time (``StartFailure``).

A worker knows its supervisor by the pid recorded when it was spawned and by a pipe the
supervisor holds open for as long as it lives: if the supervisor is killed, its workers
signal nobody, drain and exit, and the next start removes the directories it left.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from router.server.restarts import Backoff, StartFailure, describe_exit

if TYPE_CHECKING:  # the supervisor runs no event loop: asyncio is its workers' (~20 ms of its start)
    import asyncio

logger = logging.getLogger("raceway.server")

SNAPSHOT_NAME = "active-config.yaml"
# The directories of one gateway instance in the temp dir, named after the supervisor's pid.
_INSTANCE_DIR = re.compile(r"raceway-(?:metrics|state)-(\d+)-")
# How long after graceful_timeout hypercorn waits for the streams the app ended to go out.
_DRAIN_MARGIN = 1.0


@dataclass(frozen=True, kw_only=True)
class ServeOptions:
    config_path: Path
    config_bytes: bytes  # the validated content, snapshotted for the workers to start from
    host: str
    port: int
    workers: int
    graceful_timeout: float


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A bound SO_REUSEPORT socket: a worker listens on it; the supervisor only reserves the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


def _metrics_dir() -> tuple[str, bool]:
    """The multiprocess metrics directory and whether it is ours to delete at exit."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return str(path), False
    return tempfile.mkdtemp(prefix=f"raceway-metrics-{os.getpid()}-"), True


def _clear_leftovers() -> None:
    """Remove the temp directories of instances whose supervisor is gone (killed with SIGKILL,
    it could not remove them itself)."""
    for path in Path(tempfile.gettempdir()).glob("raceway-*-*-*"):
        match = _INSTANCE_DIR.match(path.name)
        if match is None or not path.is_dir():
            continue
        pid = int(match[1])
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            logger.warning("removing %s, left by gateway %d (no longer running)", path, pid)
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # alive, another user's


@dataclass(eq=False)
class _Slot:
    """One worker's place: its process, or when to start it again after it died."""

    process: BaseProcess | None = None
    started: float = 0.0
    restart_at: float | None = None
    backoff: Backoff = field(default_factory=Backoff)


def serve(options: ServeOptions) -> int:
    """Run the supervisor until SIGTERM/SIGINT; returns the process exit code."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(name)s: %(message)s"
    )
    try:
        reservation = reuseport_socket(options.host, options.port)
    except OSError as exc:
        print(f"raceway: cannot bind {options.host}:{options.port}: {exc.strerror}", file=sys.stderr)
        return 1
    port = reservation.getsockname()[1]
    _clear_leftovers()
    metrics_dir, owns_metrics_dir = _metrics_dir()
    state_dir = tempfile.mkdtemp(prefix=f"raceway-state-{os.getpid()}-")
    # Workers start from this validated copy, so one restarted while the operator's file
    # holds a broken edit still comes up, on the last good config (see router.runtime.reload).
    (Path(state_dir) / SNAPSHOT_NAME).write_bytes(options.config_bytes)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    context = multiprocessing.get_context("spawn")
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    def forward_reload(signum: int, frame: FrameType | None) -> None:
        for slot in slots:
            if slot.process is not None and slot.process.exitcode is None and slot.process.pid is not None:
                os.kill(slot.process.pid, signal.SIGHUP)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, forward_reload)

    def start(index: int) -> None:
        process = context.Process(
            target=run_worker,
            args=(str(options.config_path), options.host, port, index, options.workers, state_dir),
            name=f"raceway-worker-{index}",
        )
        process.start()
        slots[index].process, slots[index].started, slots[index].restart_at = process, time.monotonic(), None

    slots = [_Slot() for _ in range(options.workers)]
    for index in range(options.workers):
        start(index)
    print(
        f"raceway: serving on http://{options.host}:{port} with {options.workers} worker(s)",
        flush=True,
    )
    exit_code = 0
    try:
        while not stopping:
            sentinels = [slot.process.sentinel for slot in slots if slot.process is not None]
            soonest = min((slot.restart_at for slot in slots if slot.restart_at is not None), default=None)
            pause = 0.5 if soonest is None else min(0.5, max(0.0, soonest - time.monotonic()))
            wait(sentinels, timeout=pause)
            now = time.monotonic()
            for index, slot in enumerate(slots):
                process = slot.process
                if process is None or process.exitcode is None or stopping:
                    continue
                exitcode = process.exitcode
                _forget_worker(process, metrics_dir)
                process.close()
                slot.process = None
                failure = StartFailure.of(exitcode)
                if failure is not None:
                    logger.error("worker %d cannot start: %s; stopping", index, failure.reason)
                    print(f"raceway: worker {index} cannot start: {failure.reason}", file=sys.stderr)
                    stopping, exit_code = True, 1
                    break
                uptime = now - slot.started
                delay = slot.backoff.delay(uptime)
                logger.warning(
                    "worker %d %s after %.1fs; starting it again in %.1fs",
                    index,
                    describe_exit(exitcode),
                    uptime,
                    delay,
                )
                slot.restart_at = now + delay
            for index, slot in enumerate(slots):
                if not stopping and slot.restart_at is not None and slot.restart_at <= time.monotonic():
                    start(index)
    finally:
        live = [slot.process for slot in slots if slot.process is not None]
        _stop_workers(live, options.graceful_timeout + 5)
        reservation.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if owns_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        shutil.rmtree(state_dir, ignore_errors=True)
    return exit_code


def _forget_worker(process: BaseProcess, metrics_dir: str) -> None:
    from prometheus_client import multiprocess

    if process.pid is not None:
        multiprocess.mark_process_dead(process.pid, metrics_dir)  # type: ignore[no-untyped-call]


def _stop_workers(processes: list[BaseProcess], timeout: float) -> None:
    """SIGTERM every worker, wait for their drain, then kill what is left."""
    for process in processes:
        if process.exitcode is None and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            logger.error("worker %s did not stop in time; killing it", process.name)
            process.kill()
            process.join()


class SupervisorLink:
    """A worker's tie to its supervisor: the pid recorded when it was spawned, and the read end
    of a pipe the supervisor holds open for as long as it lives (multiprocessing's parent
    sentinel), which turns readable the moment it dies, however it dies.

    Once the supervisor is gone its pid is free, and ``os.getppid()`` names whoever adopted
    the worker (a shell, a container's PID 1): the worker signals it only while it is alive.
    """

    def __init__(self) -> None:
        parent = multiprocessing.parent_process()
        assert parent is not None and parent.pid is not None, "a worker is spawned by its supervisor"
        self._parent = parent
        self.pid: int = parent.pid

    def alive(self) -> bool:
        return self._parent.is_alive()

    def announce(self) -> None:
        """Ask the supervisor to have every worker adopt the config snapshot (with SIGHUP)."""
        if self.alive():
            os.kill(self.pid, signal.SIGHUP)
        else:
            logger.warning(
                "the supervisor (pid %d) is gone: no other worker is told of the new config", self.pid
            )

    def when_gone(self, loop: asyncio.AbstractEventLoop, then: Callable[[], None]) -> None:
        """Call ``then`` once, on ``loop``, as soon as the supervisor has died."""
        sentinel = self._parent.sentinel

        def gone() -> None:
            loop.remove_reader(sentinel)
            then()

        loop.add_reader(sentinel, gone)


def run_worker(config_path: str, host: str, port: int, index: int, workers: int, state_dir: str) -> None:
    """Entry point of one worker process. A start that cannot succeed exits with its ``StartFailure``."""
    import asyncio

    import uvloop
    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config as HypercornConfig

    from router.config.load import load_config
    from router.config.model import ConfigError
    from router.http.app import create_app
    from router.runtime import collector
    from router.runtime.reload import ConfigReloader
    from router.runtime.worker import Supervision

    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s worker-{index} %(levelname)s %(name)s: %(message)s"
    )
    # The supervisor handles SIGINT for the whole group; the worker drains on SIGTERM and
    # reloads its config on SIGHUP (ignored until the app is ready to).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    supervisor = SupervisorLink()
    snapshot = Path(state_dir) / SNAPSHOT_NAME
    try:
        config = load_config(snapshot)
    except (OSError, ConfigError) as exc:
        logger.error("worker %d cannot load the config snapshot %s: %s", index, snapshot, exc)
        sys.exit(StartFailure.CONFIG)
    try:
        sock = reuseport_socket(host, port)
    except OSError as exc:
        logger.error("worker %d cannot bind %s:%d: %s", index, host, port, exc.strerror)
        sys.exit(StartFailure.BIND)

    hypercorn_config = HypercornConfig()
    hypercorn_config.bind = [f"fd://{sock.fileno()}"]
    hypercorn_config.backlog = config.server.backlog
    # The app ends the streams still running at graceful_timeout, with an error event; the
    # margin lets those last events out before hypercorn cancels whatever is left.
    hypercorn_config.graceful_timeout = config.server.graceful_timeout + _DRAIN_MARGIN
    hypercorn_config.keep_alive_timeout = config.server.keep_alive_timeout
    hypercorn_config.accesslog = None
    hypercorn_config.errorlog = logging.getLogger("hypercorn.error")
    hypercorn_config.include_server_header = False

    supervision = Supervision(snapshot, announce=supervisor.announce, started=collector.settle)
    app = create_app(
        config, workers=workers, worker=index, config_path=Path(config_path), supervision=supervision
    )

    async def main() -> None:
        stop = asyncio.Event()

        def drain() -> None:
            """Stop accepting; /ready answers 503 while in-flight requests finish."""
            app.drain(config.server.graceful_timeout)
            stop.set()

        def orphaned() -> None:
            logger.warning("the supervisor (pid %d) is gone: draining, then exiting", supervisor.pid)
            drain()

        async def adopt_and_check(reloader: ConfigReloader) -> None:
            try:
                await reloader.adopt_snapshot()
                await reloader.check()
            except Exception:  # a reload that failed leaves the config as it was; the worker serves on
                logger.exception("worker %d could not adopt the shared config", index)

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, drain)
        supervisor.when_gone(loop, orphaned)
        failure: Exception | None = None
        pending: set[asyncio.Task[None]] = set()
        async with asyncio.TaskGroup() as reloads:  # the reloads a SIGHUP starts

            def reload() -> None:
                reloader = app.worker.reloader if app.started else None
                if reloader is not None:
                    task = reloads.create_task(adopt_and_check(reloader))
                    pending.add(task)
                    task.add_done_callback(pending.discard)

            loop.add_signal_handler(signal.SIGHUP, reload)
            try:
                await hypercorn_serve(app, hypercorn_config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]
            except Exception as exc:  # raised below as it is, not wrapped in the group's
                failure = exc
            finally:  # the server has stopped and the app closed what a reload would change
                loop.remove_signal_handler(signal.SIGHUP)
                for task in pending:
                    task.cancel()
        if failure is not None:
            raise failure

    try:
        uvloop.run(main())
    except Exception:
        if app.started:
            raise  # it served: a crash, restarted like any other death
        logger.exception("worker %d cannot start", index)
        sys.exit(StartFailure.STARTUP)
