"""How one request's round is paced in its group: the strategy's pace, made cache-aware.

``fallback`` and the balancing strategies call one deployment at a time; ``race`` starts
``max_parallel`` calls at once; ``hedge`` starts the next when the last has not answered
within its ``hedge_delay`` (a fixed one, or ``auto``: the deployment's recent p95). Until a
deployment has ``HEDGE_MIN_SAMPLES`` of its own, ``auto`` borrows its group's: the median p95
of the other candidates that have enough, else ``HEDGE_PRIOR_FACTOR`` x ``hedge_min_delay``
(200 ms by default), so that a new or restarted worker neither waits a whole second for a
stalled call nor hedges every request.

With affinity, a warm session (one whose pinned deployment takes the turn) changes that: a
race sends it to its pinned deployment alone (the others follow one by one, should it
fail), and a hedge waits for the pinned deployment's own warm latency (its recent p95 of
calls that read the prompt cache; time to first content for streams), and at least the
group's usual delay, before calling a cold one. Every hedge is also within the group's
``hedge_budget`` (``router.dispatch.hedging``), and a key in its budget's ``near`` tier
never hedges. Each second call not started is
counted by reason (``raceway_hedges_skipped_total``) and noted on the request's record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from router.config.model_groups import ModelGroup
from router.config.strategies import Pacing, pacing_of
from router.dispatch.hedging import HedgeAllowance
from router.dispatch.rounds import Pace
from router.fleet.fleet import Member
from router.routing.affinity import Placement
from router.routing.rules import RoutedRequest
from router.telemetry.labels import HedgeSkip
from router.telemetry.metrics import Metrics
from router.telemetry.tracing import current_trace

HEDGE_MIN_SAMPLES = 20  # below this, ``hedge_delay: auto`` borrows the group's figures (``prior``)
HEDGE_PRIOR_FACTOR = 4.0  # with no figures at all, ``auto`` waits this many times ``hedge_min_delay``
WARM_MIN_SAMPLES = 5  # warm calls a deployment must have answered before its warm latency is trusted


def pace_of(
    metrics: Metrics,
    group: ModelGroup,
    request: RoutedRequest,
    placement: Placement | None,
    allowance: HedgeAllowance | None,
    candidates: Sequence[Member] = (),
) -> Pace:
    """``candidates``: the round's members, whose latencies a member without its own stands in for."""
    pacing = pacing_of(group.strategy)
    warm = placement.pinned if placement is not None else None
    if pacing is Pacing.ALL_AT_ONCE:
        if warm is not None:
            sent_alone(metrics, group, request, HedgeSkip.WARM)
            return Pace()
        return Pace(parallel=group.max_parallel or len(group.deployments), all_at_once=True)
    if pacing is not Pacing.STAGGERED:
        return Pace()
    delay = hedge_delay(group, request.stream, candidates)
    if warm is not None:
        delay = warm_first(group, delay, warm, request.stream)

    def may_hedge() -> bool:
        if request.frugal:
            sent_alone(metrics, group, request, HedgeSkip.TIER)
            return False
        if allowance is not None:
            if not allowance.allows():
                sent_alone(metrics, group, request, HedgeSkip.BUDGET)
                return False
            allowance.hedged()
        return True

    return Pace(parallel=group.max_parallel or 2, hedge_delay=delay, may_hedge=may_hedge)


def note_warm_wait(
    metrics: Metrics,
    group: ModelGroup,
    request: RoutedRequest,
    pace: Pace,
    placement: Placement,
    winner: Member,
    waited: float,
    hedges: int,
) -> None:
    """A warm session's hedge round that its pinned deployment won, later than the group's usual
    delay but within its warm latency: the usual rule would have started a hedge it did not need."""
    pinned = placement.pinned
    if pace.hedge_delay is None or pinned is None or hedges or winner is not pinned:
        return
    if hedge_delay(group, request.stream, placement.ordered)(pinned) < waited <= pace.hedge_delay(pinned):
        sent_alone(metrics, group, request, HedgeSkip.WARM)


def sent_alone(metrics: Metrics, group: ModelGroup, request: RoutedRequest, reason: HedgeSkip) -> None:
    metrics.hedges_skipped.labels(group.name, reason).inc()
    request.decided.alone = reason
    current_trace().event("raceway.alone", {"reason": reason.value})


def hedge_delay(
    group: ModelGroup, stream: bool, candidates: Sequence[Member] = ()
) -> Callable[[Member], float]:
    """A fixed delay, or ``auto``: the deployment's recent p95 (or, with too few samples, the
    group's ``prior``), never below the floor."""
    if group.hedge_delay is not None:
        fixed = group.hedge_delay
        return lambda member: fixed

    def auto(member: Member) -> float:
        window = member.stats.window(stream)
        if len(window) < HEDGE_MIN_SAMPLES:
            return max(group.hedge_min_delay, prior(group, stream, member, candidates))
        return max(group.hedge_min_delay, window.percentile(95) or 0.0)

    return auto


def prior(group: ModelGroup, stream: bool, member: Member, candidates: Sequence[Member]) -> float:
    """What to expect of ``member`` before it has figures of its own: the median p95 of the other
    candidates that have enough samples, else a modest multiple of the group's floor."""
    known = [
        other.stats.window(stream).percentile(95) or 0.0
        for other in candidates
        if other is not member and len(other.stats.window(stream)) >= HEDGE_MIN_SAMPLES
    ]
    if known:
        import statistics  # here, not at the top: it loads fractions and decimal, for this median only

        return statistics.median(known)
    return HEDGE_PRIOR_FACTOR * group.hedge_min_delay


def warm_first(
    group: ModelGroup, usual: Callable[[Member], float], pinned: Member, stream: bool
) -> Callable[[Member], float]:
    """``pinned``'s hedge delay for a warm session: at least its usual one, and at least its own
    warm latency once it has enough warm samples; the others keep ``usual``.

    Never shorter than the usual delay: a warm answer is usually quicker, and a p95 of quick
    answers would hedge more often, each hedge onto a cold deployment that pays for the whole
    prompt again. Longer when the deployment's warm answers are slower than the group's usual
    delay: waiting for them is cheaper than a cold second call."""
    window = pinned.stats.warm_window(stream)
    if len(window) < WARM_MIN_SAMPLES:
        return usual
    warm = window.percentile(95) or 0.0
    return lambda member: max(usual(member), warm) if member is pinned else usual(member)
