"""Each worker's own facts for the status page, in a small JSON file beside its siblings'.

The metric files say what every worker counted; some facts are not counts: which process a
worker is, the config it serves and its last reload, each deployment's breaker as this worker
sees it (cooling down until when), the last error each deployment gave it. Every worker
looks at them every ``INTERVAL`` and writes them to ``worker-<index>.json`` in the instance's
state directory (the supervisor's, removed when it exits), replacing the file whole, when they
changed or when ``HEARTBEAT`` passed since it last did (the file's ``written`` says the worker is
alive: an idle worker writes a file every two seconds, not every half second); the status page
reads every live worker's. A worker without a supervisor (in-process) has no directory: the page
then shows its facts alone.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from router.fleet.breaker import State
from router.providers.upstream_errors import Scrubber
from router.runtime.gateway import Gateway
from router.runtime.reload import ConfigReloader

INTERVAL = 0.5
HEARTBEAT = 2.0  # a worker whose facts did not change rewrites its file this often
STALE_AFTER = 5.0  # a file not rewritten for this long is a worker that is gone
_MESSAGE_LIMIT = 300

STATE_NAMES = {
    State.HEALTHY: "usable",
    State.HALF_OPEN: "half-open",
    State.COOLED_DOWN: "cooling down",
}


def reload_facts(reloader: ConfigReloader | None) -> dict[str, Any] | None:
    """The worker's last config load: applied (when), or rejected (why; the last good config stays)."""
    if reloader is None:
        return None
    return {
        "result": "rejected" if reloader.last_error else "applied",
        "loaded_at": round(reloader.loaded_at, 3),
        "error": reloader.last_error,
    }


class WorkerBoard:
    def __init__(
        self,
        directory: Path | None,
        index: int,
        scrubber: Scrubber,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.index = index
        self._scrubber = scrubber
        self._clock = clock
        self.started = clock()
        self._last_errors: dict[str, dict[str, Any]] = {}
        self._written: dict[str, Any] | None = None  # the facts last written, ``written`` aside
        self._written_at = 0.0

    def note_failure(self, deployment: str, code: str, message: str) -> None:
        """A call to ``deployment`` failed (told by the request journal); kept scrubbed."""
        self._last_errors[deployment] = {
            "at": round(self._clock(), 3),
            "code": code,
            "message": self._scrubber(message)[:_MESSAGE_LIMIT],
        }

    def facts(self, gateway: Gateway, reload: dict[str, Any] | None) -> dict[str, Any]:
        now = self._clock()
        deployments = {}
        for member in gateway.fleet:
            state = member.breaker.state
            wait = member.breaker.seconds_until_available()
            deployments[member.name] = {
                "state": STATE_NAMES[state],
                "until": round(now + wait, 3) if state is State.COOLED_DOWN else None,
                "last_error": self._last_errors.get(member.name),
            }
        return {
            "index": self.index,
            "pid": os.getpid(),
            "started": round(self.started, 3),
            "written": round(now, 3),
            "config_hash": gateway.config.hash,
            "reload": reload,
            "deployments": deployments,
        }

    async def run(self, current: Callable[[], tuple[Gateway, dict[str, Any] | None]]) -> None:
        """Until cancelled: write this worker's facts every ``INTERVAL``; ``current``: its gateway and
        last reload."""
        if self.directory is None:
            await asyncio.Event().wait()  # nothing to share: the page reads this worker directly
        while True:
            facts = self.facts(*current())
            if self.due(facts):
                await asyncio.to_thread(self._write, orjson.dumps(facts))
                self.wrote(facts)
            await asyncio.sleep(INTERVAL)

    def due(self, facts: dict[str, Any]) -> bool:
        """Should ``facts`` be written now: they changed since the last write, or ``HEARTBEAT``
        passed since it?"""
        return _unstamped(facts) != self._written or facts["written"] - self._written_at >= HEARTBEAT

    def wrote(self, facts: dict[str, Any]) -> None:
        """``facts`` are in the file (a write that failed is not: they stay due)."""
        self._written, self._written_at = _unstamped(facts), facts["written"]

    def _write(self, content: bytes) -> None:
        assert self.directory is not None
        target = self.directory / f"worker-{self.index}.json"
        temporary = target.with_name(f".{target.name}.{os.getpid()}")
        temporary.write_bytes(content)
        os.replace(temporary, target)  # readers see the old facts or the new, whole

    def read_all(self, own: dict[str, Any]) -> list[dict[str, Any]]:
        """Every live worker's facts, by index; this worker's from ``own`` (the freshest)."""
        found = {self.index: own}
        if self.directory is not None:
            now = self._clock()
            for path in sorted(self.directory.glob("worker-*.json")):
                try:
                    facts = orjson.loads(path.read_bytes())
                except (OSError, orjson.JSONDecodeError):
                    continue  # replaced or removed as we read it: the next look finds it whole
                if facts.get("index") != self.index and now - facts.get("written", 0.0) < STALE_AFTER:
                    found[facts["index"]] = facts
        return [found[index] for index in sorted(found)]


def _unstamped(facts: dict[str, Any]) -> dict[str, Any]:
    """The facts but the time they were written at."""
    return {name: value for name, value in facts.items() if name != "written"}
