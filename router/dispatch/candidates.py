"""Who a round of a model group calls, and in what order: the one place that decides it.

A round of a group (the dispatcher's first round, its retries, a fallback group's, and the
search for a deployment to continue a broken stream, ``router.dispatch.resume``) calls the
group's usable deployments: breaker not open, context window large enough (and, for a
continuation, able to continue). Its strategy orders them (``router.routing.strategies``), those
that could start at once keep that order ahead of saturated ones (limits), and a session of a
group with ``affinity`` is placed by its pin (``router.routing.affinity``).
"""

from __future__ import annotations

from collections.abc import Callable

from router.config.model import GatewayConfig
from router.config.model_groups import ModelGroup
from router.fleet.fleet import Fleet, Member
from router.routing.affinity import Placement, place
from router.routing.rules import RoutedRequest
from router.routing.strategies import RequestTraits, Strategy, kind_of
from router.state.backend import PinStore

Eligible = Callable[[Member], bool]


class Candidates:
    """The rounds' orders over a fleet; ``strategies``: each group's (they may keep state, a turn)."""

    __slots__ = ("_config", "_fleet", "_pins", "strategies")

    def __init__(
        self,
        config: GatewayConfig,
        fleet: Fleet,
        strategies: dict[str, Strategy],
        pins: PinStore | None,
    ) -> None:
        """``pins``: where sessions' pins live (None: no affinity)."""
        self._config = config
        self._fleet = fleet
        self.strategies = strategies
        self._pins = pins

    async def pin_of(self, group: ModelGroup, request: RoutedRequest) -> tuple[bytes | None, str | None]:
        """The session's key in ``group`` (None: no affinity there) and its live pin, if any."""
        session, pins = request.session, self._pins
        if group.affinity is None or session is None or pins is None:
            return None, None
        key = session.key_for(group.name)
        return key, await pins.find(key, group.deployments)

    def ordered(
        self,
        group: ModelGroup,
        request: RoutedRequest,
        tokens: int,
        key: bytes | None,
        pinned: str | None,
        eligible: Eligible | None = None,
    ) -> tuple[list[Member], Placement | None, int]:
        """The order of a round of ``group`` (``tokens``: what each call charges against token
        limits; ``key``: the session's, with affinity; ``pinned``: its pin); the placement, if any;
        how many members were skipped for a short context."""
        candidates, too_long = self._usable(group, request.prompt_tokens, eligible)
        if not candidates:
            return [], None, too_long
        traits = RequestTraits(stream=request.stream, prompt_tokens=request.prompt_tokens)
        ordered = roomy_first(self.strategies[group.name].order(candidates, traits), tokens)
        if key is None:
            return ordered, None, too_long
        kind = kind_of(group.strategy)
        placement = place(key, pinned, ordered, tokens=tokens, spreads=kind.spreads, weighted=kind.weighs)
        return placement.ordered, placement, too_long

    async def continuing(self, request: RoutedRequest, tokens: int, eligible: Eligible) -> list[Member]:
        """Who may continue a broken stream of ``request``, in order: the ``eligible`` members of
        its groups (the routed group's, then its fallbacks'), each group's as a round of it would
        order them; for a pinned request, the pinned deployment alone (if its breaker allows)."""
        if request.pinned is not None:
            member = self._fleet.get(request.pinned)
            usable = member is not None and member.breaker.available() and eligible(member)
            return [member] if usable and member is not None else []
        ordered: list[Member] = []
        for group in self._config.served_by(request.group):
            key, pinned = await self.pin_of(group, request)
            members, _placement, _too_long = self.ordered(group, request, tokens, key, pinned, eligible)
            ordered += [member for member in members if member not in ordered]
        return ordered

    def continued_on(self, request: RoutedRequest, member: Member) -> None:
        """A continuation on ``member`` served the rest of the turn: a session of a group with
        affinity is pinned there, as it is where a turn was served (its next turn finds the
        answer in that deployment's prompt cache)."""
        session, pins = request.session, self._pins
        if session is None or pins is None or request.pinned is not None:
            return
        for group in self._config.served_by(request.group):
            if group.affinity is not None and member.name in group.deployments:
                pins.keep(session.key_for(group.name), member.name, group.affinity.ttl)
                return

    def _usable(
        self, group: ModelGroup, prompt_tokens: int, eligible: Eligible | None
    ) -> tuple[list[Member], int]:
        """Usable (and ``eligible``) members in configured order, and how many were skipped for a
        short context."""
        usable: list[Member] = []
        too_long = 0
        for name in group.deployments:
            member = self._fleet.get(name)
            if member is None or not member.breaker.available():
                continue
            if eligible is not None and not eligible(member):
                continue
            limit = member.deployment.max_input_tokens
            if limit is not None and prompt_tokens > limit:
                too_long += 1
                continue
            usable.append(member)
        return usable, too_long


def roomy_first(ordered: list[Member], tokens: int) -> list[Member]:
    """Deployments that could start at once (``tokens`` as admission will charge them) keep the
    strategy's order, ahead of saturated ones."""
    roomy = [member for member in ordered if member.has_capacity(tokens)]
    if len(roomy) == len(ordered):
        return ordered
    return roomy + [member for member in ordered if member not in roomy]
