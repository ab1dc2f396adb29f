"""Session pins of the machine's workers: a fixed-size hash table in a memory-mapped file.

Affinity keeps a session on the deployment that served its last turn. Every worker of an
instance maps the same file (in the instance's state directory, made by ``raceway serve``),
so a turn that lands on another worker finds the pin the previous turn left. A worker
without that directory (one started on its own) maps an anonymous table of its own.

A slot is 32 bytes, aligned: the session key (16), the first 8 bytes of the deployment
name's hash, and the pin's expiry as wall-clock seconds (a float). Up to ``_PROBES`` slots
from the key's home slot are tried; a write takes the key's own slot, else a free or
expired one, else the one that expires first. Two workers writing one slot at the same
instant can leave it torn: a torn key matches nothing, and a key with another write's
deployment sends one turn to a colder deployment. Either costs a cache miss, never a
wrong answer, so the table takes no lock and a lookup or a write is a few microseconds.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SLOTS = 1 << 16  # ~65 k live sessions per machine; past that the oldest pins go first
_SLOT = struct.Struct("<16s8sd")
_PROBES = 8
_EMPTY_KEY = bytes(16)
FILE_NAME = "affinity-pins"


def deployment_tag(name: str) -> bytes:
    return hashlib.blake2b(name.encode(), digest_size=8).digest()


class PinTable:
    """Pins shared by every process that maps the same file."""

    def __init__(
        self, path: Path | None, *, slots: int = SLOTS, clock: Callable[[], float] = time.time
    ) -> None:
        """``path``: the shared file (created at its size if missing); None: this process's own."""
        assert slots & (slots - 1) == 0, "a power of two"
        self._mask = slots - 1
        self._clock = clock
        size = slots * _SLOT.size
        if path is None:
            self._map = mmap.mmap(-1, size)
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < size:
                    os.ftruncate(fd, size)  # sparse; workers racing here set the same size
                self._map = mmap.mmap(fd, size)
            finally:
                os.close(fd)
        self._tags: dict[str, bytes] = {}

    def _tag(self, name: str) -> bytes:
        tag = self._tags.get(name)
        if tag is None:
            tag = self._tags[name] = deployment_tag(name)
        return tag

    def _home(self, key: bytes) -> int:
        return int.from_bytes(key[:8], "little") & self._mask

    async def find(self, key: bytes, deployments: Sequence[str]) -> str | None:
        return self.lookup(key, deployments)

    def lookup(self, key: bytes, deployments: Sequence[str]) -> str | None:
        """The live pin of ``key`` among ``deployments``, if any."""
        now, home, view = self._clock(), self._home(key), self._map
        for probe in range(_PROBES):
            offset = ((home + probe) & self._mask) * _SLOT.size
            if view[offset : offset + 16] != key:
                continue
            _, tag, expires = _SLOT.unpack_from(view, offset)
            if expires <= now:
                return None
            for name in deployments:
                if self._tag(name) == tag:
                    return name
            return None
        return None

    def keep(self, key: bytes, deployment: str, ttl: float) -> None:
        """Pin ``key`` to ``deployment`` for ``ttl`` seconds from now."""
        now, home, view = self._clock(), self._home(key), self._map
        free = oldest = -1
        earliest = float("inf")
        chosen = -1
        for probe in range(_PROBES):
            offset = ((home + probe) & self._mask) * _SLOT.size
            slot_key, _, expires = _SLOT.unpack_from(view, offset)
            if slot_key == key:
                chosen = offset
                break
            if free < 0 and (slot_key == _EMPTY_KEY or expires <= now):
                free = offset
            if expires < earliest:
                oldest, earliest = offset, expires
        if chosen < 0:
            chosen = free if free >= 0 else oldest
        _SLOT.pack_into(view, chosen, key, self._tag(deployment), now + ttl)

    def close(self) -> None:
        self._map.close()
