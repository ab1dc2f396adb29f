"""Where a session's turn goes when its group has ``affinity``: its pin, or a placement every
worker computes alike.

A session pinned to a deployment that can take the turn now (breaker closed, under its
limits, room in its queue) goes there first (``hit``); the group's other deployments follow
in the strategy's order, should it fail. A session without a live pin (``new``), or whose
pinned deployment cannot take it (``moved``), is placed by the strategy, except that the
balancing strategies (``round_robin``, ``weighted``: those that only spread load) place it
by rendezvous hashing of the session key over the usable deployments (by ``weight`` for
``weighted``). Every worker and instance then places a session's first turns on the same
deployment without asking anyone, and when a deployment drops out only its own sessions
move. The deployment that serves the turn becomes the pin (``router.state`` keeps it).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from router.routing.sessions import AffinityResult

if TYPE_CHECKING:
    from router.fleet.fleet import Member

_SCALE = float(1 << 64)


@dataclass(frozen=True, slots=True)
class Placement:
    ordered: list[Member]  # the round's order
    result: AffinityResult  # hit, new or moved, as decided before the call
    pinned: Member | None  # the deployment a hit goes to


def rendezvous(key: bytes, members: Sequence[Member], *, weighted: bool = False) -> Member:
    """The member with the highest rendezvous score for ``key`` (weighted: ``-w / ln(u)``)."""
    best, best_score = members[0], -math.inf
    for member in members:
        digest = hashlib.blake2b(member.name.encode(), digest_size=8, key=key).digest()
        draw = (int.from_bytes(digest, "little") + 1) / (_SCALE + 1)  # in (0, 1)
        score = -member.deployment.weight / math.log(draw) if weighted else draw
        if score > best_score:
            best, best_score = member, score
    return best


def place(
    key: bytes,
    pinned: str | None,
    ordered: list[Member],
    *,
    tokens: int,
    spreads: bool,
    weighted: bool = False,
) -> Placement:
    """The order of a round for session ``key``; ``ordered``: the strategy's order of the usable
    deployments; ``pinned``: the session's live pin, if any; ``spreads``: the strategy only
    balances load, so rendezvous hashing may place a new session instead."""
    if pinned is not None:
        for member in ordered:
            if member.name == pinned and member.has_capacity(tokens):
                return Placement(
                    [member, *(m for m in ordered if m is not member)], AffinityResult.HIT, member
                )
    result = AffinityResult.NEW if pinned is None else AffinityResult.MOVED
    if spreads and ordered:
        roomy = [member for member in ordered if member.has_capacity(tokens)] or ordered
        first = rendezvous(key, roomy, weighted=weighted)
        ordered = [first, *(m for m in ordered if m is not first)]
    return Placement(ordered, result, None)
