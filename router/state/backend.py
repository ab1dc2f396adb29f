"""The state-backend interface: what the workers and instances of a gateway may share.

A gateway always holds one backend (never None), chosen once by ``router.state.open_state``:

- ``LocalState`` (``state.backend: local``, the default): every worker enforces its share of
  each rate limit, keeps its own cooldowns, answer cache and flights, writes spend to
  the machine's SQLite ledger and session pins to a table every worker of the instance maps;
- ``RedisBackend`` (``state.backend: redis``): limits, cooldowns, the answer cache, flights,
  session pins and spend are shared through Redis by every worker of every instance, with the local
  behaviour as the fallback whenever Redis fails.

No module outside ``router.state`` branches on the backend, imports Redis code or catches
its errors: an operation either works, degrades to the local behaviour inside the backend,
or (spend only) raises ``StoreUnavailable``, which the caller treats as "keep it, retry".
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from router.answers.cache import CachedAnswer
    from router.answers.flights import Flight
    from router.config.model import GatewayConfig
    from router.limits import Limiter
    from router.spend.ledger import Spent, Tally


class StoreUnavailable(Exception):
    """The spend store cannot be used right now; the tallies are kept for the next attempt."""


class AnswerStore(Protocol):
    """Answers and flights beyond this worker (the worker's own cache is ``ResponseCache``)."""

    async def get(self, key: bytes) -> CachedAnswer | None:
        """A stored answer, or None (also when the store cannot be reached)."""
        ...

    def keep(self, key: bytes, answer: CachedAnswer, ttl: float) -> None:
        """Store ``answer`` in the background; one that cannot be stored is simply not shared."""
        ...

    async def lead(self, flight: Flight, lease: float) -> Flight | CachedAnswer:
        """Lead ``flight`` for every instance (returned), or the answer of the instance that led it.

        Raises the leading instance's error if its call failed."""
        ...


class PinStore(Protocol):
    """Which deployment each session's turns go to (affinity), for every worker that serves them."""

    async def find(self, key: bytes, deployments: Sequence[str]) -> str | None:
        """The live pin of session ``key``, if it names one of ``deployments``."""
        ...

    def keep(self, key: bytes, deployment: str, ttl: float) -> None:
        """Pin ``key`` to ``deployment`` for ``ttl`` seconds (off the request's path)."""
        ...


class SpendStore(Protocol):
    """Where spend is kept: writes tallies and reads back every key's totals."""

    where: str

    async def exchange(self, tallies: Mapping[tuple[str, str], Tally], day: str) -> dict[str, Spent]:
        """Add ``tallies``, then read every key's totals of ``day`` and its month; ``StoreUnavailable``."""
        ...

    async def totals(self, day: str) -> dict[str, Spent] | None:
        """Read-only totals for a report (None: nothing recorded yet); ``StoreUnavailable``."""
        ...

    async def close(self) -> None: ...


Loop = Callable[[], Coroutine[Any, Any, None]]


class StateBackend(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def answers(self) -> AnswerStore: ...

    @property
    def spend(self) -> SpendStore: ...

    @property
    def pins(self) -> PinStore: ...

    def rate_limit(
        self, scope: str, name: str, rpm: int | None, tpm: int | None, *, share: int, wait: float = 0.0
    ) -> Limiter:
        """The ``rpm``/``tpm`` of a deployment or key (``scope``); ``share``: the workers splitting it."""
        ...

    def announce_cooldown(self, deployment: str, seconds: float) -> None:
        """``deployment``'s breaker opened here for ``seconds``: let the other workers and instances know."""
        ...

    def background(
        self, deployments: Callable[[], Sequence[str]], on_cooldown: Callable[[str, float], None]
    ) -> dict[str, Loop]:
        """Loops the worker must keep running (under supervision) while it serves, by name.

        ``deployments`` names the deployments served now; ``on_cooldown(name, seconds)`` is told
        of each cooldown announced elsewhere (the fleet applies it to its breaker)."""
        ...

    def adopt(self, config: GatewayConfig) -> None:
        """A new config took effect: use its settings (cache bounds)."""
        ...

    async def close(self) -> None: ...
