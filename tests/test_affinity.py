"""Affinity's parts: the session key of each dialect, placement by pin or rendezvous hashing,
the pin table every worker maps, and the hedge budget on virtual time."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pytest

from router.config.model_groups import HedgeBudget
from router.dispatch.hedging import HedgeAllowance
from router.limits import ConcurrencyGate
from router.routing.affinity import place, rendezvous
from router.routing.sessions import AffinityResult, SessionSource, session_of
from router.state.pins import PinTable
from router.wire.dialect import Dialect
from tests.test_strategies import Clock, member, names

HEADER = "x-session-id"


# -- session keys -----------------------------------------------------------------------


def test_the_configured_header_comes_first_then_the_agents_own() -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "prompt_cache_key": "pck"}
    both = {HEADER: "mine", "x-claude-code-session-id": "claude"}
    assert session_of(Dialect.MESSAGES, both, body, HEADER).source is SessionSource.HEADER  # type: ignore[union-attr]
    claude = session_of(Dialect.MESSAGES, {"x-claude-code-session-id": "claude"}, body, HEADER)
    codex = session_of(Dialect.RESPONSES, {"session-id": "codex", "thread-id": "codex"}, body, HEADER)
    assert claude is not None and claude.source is SessionSource.AGENT
    assert codex is not None and codex.source is SessionSource.AGENT


def test_the_body_names_a_session_when_no_header_does() -> None:
    responses = session_of(Dialect.RESPONSES, {}, {"input": "hi", "prompt_cache_key": "k"}, HEADER)
    chat = session_of(Dialect.CHAT, {}, {"messages": [], "prompt_cache_key": "k"}, HEADER)
    messages = session_of(
        Dialect.MESSAGES, {}, {"messages": [], "metadata": {"user_id": '{"session_id": "s"}'}}, HEADER
    )
    assert responses is not None and responses.source is SessionSource.PROMPT_CACHE_KEY
    assert chat is not None and chat.identity == responses.identity  # one key, whichever endpoint
    assert messages is not None and messages.source is SessionSource.USER


@pytest.mark.parametrize(
    ("dialect", "turn"),
    [
        (
            Dialect.MESSAGES,
            lambda n: {
                "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
                "tools": [{"name": "t", "input_schema": {}}],
                "messages": [{"role": "user", "content": "task"}]
                + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "more"}] * n,
            },
        ),
        (
            Dialect.CHAT,
            lambda n: {
                "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "task"}]
                + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "more"}] * n
            },
        ),
        (
            Dialect.RESPONSES,
            lambda n: {
                "instructions": "sys",
                "input": [{"role": "user", "content": "task"}] + [{"role": "user", "content": "more"}] * n,
            },
        ),
    ],
)
def test_a_conversation_without_a_key_is_known_by_its_prefix_on_every_turn(dialect, turn) -> None:  # type: ignore[no-untyped-def]
    first, later = session_of(dialect, {}, turn(0), HEADER), session_of(dialect, {}, turn(3), HEADER)
    assert first is not None and later is not None
    assert first.source is SessionSource.PREFIX and first.identity == later.identity
    other = turn(0)
    other["instructions" if dialect is Dialect.RESPONSES else "messages"] = (
        "other" if dialect is Dialect.RESPONSES else [{"role": "user", "content": "another task"}]
    )
    assert session_of(dialect, {}, other, HEADER).identity != first.identity  # type: ignore[union-attr]


def test_keys_are_hashed_and_differ_by_group() -> None:
    session = session_of(Dialect.CHAT, {HEADER: "secret-session"}, {}, HEADER)
    assert session is not None
    assert "secret" not in session.hex and len(session.hex) == 32
    assert session.key_for("a") != session.key_for("b") and len(session.key_for("a")) == 16
    assert session_of(Dialect.CHAT, {}, {"messages": []}, HEADER) is None  # nothing names it


# -- placement --------------------------------------------------------------------------


def test_rendezvous_spreads_sessions_and_only_moves_those_of_a_lost_deployment() -> None:
    members = [member(name) for name in ("a", "b", "c")]
    keys = [i.to_bytes(16, "little") for i in range(3000)]
    home = {key: rendezvous(key, members).name for key in keys}
    spread = Counter(home.values())
    assert all(800 < count < 1200 for count in spread.values()), spread
    without_b = [m for m in members if m.name != "b"]
    for key in keys:
        now = rendezvous(key, without_b).name
        assert now == home[key] or home[key] == "b"


def test_weighted_rendezvous_follows_the_weights() -> None:
    members = [member("heavy", weight=3), member("light", weight=1)]
    spread = Counter(rendezvous(i.to_bytes(16, "little"), members, weighted=True).name for i in range(4000))
    assert 2.5 < spread["heavy"] / spread["light"] < 3.5


def test_a_pinned_session_goes_to_its_deployment_first_while_it_has_room() -> None:
    members = [member(name) for name in ("a", "b", "c")]
    placed = place(b"k" * 16, "b", members, tokens=10, spreads=True)
    assert placed.result is AffinityResult.HIT and names(placed.ordered) == ["b", "a", "c"]
    members[1].gate = ConcurrencyGate(1)
    members[1].gate.active = 1  # its one slot is taken
    moved = place(b"k" * 16, "b", members, tokens=10, spreads=True)
    assert moved.result is AffinityResult.MOVED and moved.ordered[0].name != "b"


def test_a_new_session_is_placed_by_rendezvous_for_balancing_strategies_only() -> None:
    members = [member(name) for name in ("a", "b", "c")]
    key = b"s" * 16
    spread = place(key, None, members, tokens=1, spreads=True)
    assert spread.result is AffinityResult.NEW and spread.ordered[0] is rendezvous(key, members)
    kept = place(key, None, list(reversed(members)), tokens=1, spreads=False)
    assert names(kept.ordered) == ["c", "b", "a"]  # latency, cost, race...: the strategy's own pick


# -- the pin table ----------------------------------------------------------------------


def _pin_from_another_process(path: str) -> None:
    PinTable(Path(path)).keep(b"p" * 16, "d2", 60.0)


def test_a_pin_written_by_one_process_is_read_by_another(tmp_path: Path) -> None:
    path = tmp_path / "pins"
    table = PinTable(path)
    process = multiprocessing.get_context("spawn").Process(
        target=_pin_from_another_process, args=(str(path),)
    )
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert table.lookup(b"p" * 16, ["d1", "d2", "d3"]) == "d2"
    assert table.lookup(b"p" * 16, ["d1", "d3"]) is None  # a deployment the group no longer has
    table.close()


def test_pins_expire_and_a_full_neighbourhood_gives_up_its_oldest() -> None:
    clock = Clock()
    table = PinTable(None, slots=8, clock=clock)
    keys = [bytes([i]) + bytes(15) for i in range(8)]  # the same home slot... and its 7 neighbours
    for offset, key in enumerate(keys):
        clock.now = 1000.0 + offset
        table.keep(key, "d1", 60.0)
    assert all(table.lookup(key, ["d1"]) == "d1" for key in keys)
    table.keep(b"\x09" + bytes(15), "d2", 60.0)  # no free slot: the first pinned goes
    assert table.lookup(keys[0], ["d1"]) is None and table.lookup(b"\x09" + bytes(15), ["d2"]) == "d2"
    clock.now += 61.0
    assert table.lookup(keys[7], ["d1"]) is None


# -- the hedge budget -------------------------------------------------------------------


def test_the_hedge_budget_allows_a_share_of_the_last_minute_s_requests() -> None:
    clock = Clock()
    allowance = HedgeAllowance(HedgeBudget(share=0.1, minimum=2), clock)
    hedges = 0
    for _ in range(100):
        allowance.request()
        if allowance.allows():
            allowance.hedged()
            hedges += 1
    assert hedges == 10  # the first two under the minimum, then one in ten
    assert allowance.share == pytest.approx(0.1)
    assert not allowance.allows()  # ten of a hundred: the eleventh waits for more requests
    clock.now += 61.0  # a minute later the window is empty again: the minimum holds
    assert allowance.allows()


def test_a_budget_of_nothing_allows_only_the_minimum() -> None:
    allowance = HedgeAllowance(HedgeBudget(share=0.0, minimum=0), Clock())
    allowance.request()
    assert not allowance.allows()
