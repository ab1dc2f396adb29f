"""Work under ``while_connected`` ends with the client's connection and the worker's drain, and
keeps its result when it finished first; a cancellation from outside always propagates."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message

from router.errors import ClientGone
from router.http.connection import while_connected
from router.runtime.drain import Drain
from tests.virtual_time import run


class Connection:
    """An ASGI ``receive`` whose client stays until ``leave``; ``listening`` is set once the
    watcher waits on it. With ``slow_to_cancel``, the watcher's cancellation completes only
    when the test says (``let_cancel``), so a test can act in between."""

    def __init__(self, *, slow_to_cancel: bool = False) -> None:
        self.listening = asyncio.Event()
        self.cancelling = asyncio.Event()
        self.let_cancel = asyncio.Event()
        self._gone = asyncio.Event()
        if not slow_to_cancel:
            self.let_cancel.set()

    def leave(self) -> None:
        self._gone.set()

    async def receive(self) -> Message:
        self.listening.set()
        try:
            await self._gone.wait()
        except asyncio.CancelledError:
            self.cancelling.set()
            await self.let_cancel.wait()
            raise
        return {"type": "http.disconnect"}


async def answer_once_listened(connection: Connection) -> str:
    await connection.listening.wait()
    return "the answer"


def test_work_that_finishes_returns_its_result() -> None:
    async def main() -> str:
        connection = Connection()
        return await while_connected(answer_once_listened(connection), connection.receive, Drain())

    assert run(main()) == "the answer"


def test_the_client_leaving_cancels_the_work_as_client_gone() -> None:
    async def main() -> list[str]:
        connection = Connection()
        seen: list[str] = []

        async def endless() -> str:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("work cancelled")
                raise
            return "never"

        asyncio.get_running_loop().call_soon(connection.leave)
        with pytest.raises(ClientGone):
            await while_connected(endless(), connection.receive, Drain())
        return seen

    assert run(main()) == ["work cancelled"]


@pytest.mark.parametrize(
    ("interruptions", "ending"),
    [
        pytest.param(("cancel",), "cancelled", id="cancelled from outside"),
        pytest.param(("drain", "cancel"), "cancelled", id="drain ended and cancelled from outside"),
        pytest.param(("drain",), "went on", id="drain ended"),
    ],
)
def test_a_result_finished_as_the_request_is_interrupted_is_kept(
    interruptions: tuple[str, ...], ending: str
) -> None:
    """The work returns; while the watcher's cancellation completes, the request's task is
    cancelled from outside (hypercorn at shutdown), or the drain ends, or both. The caller
    still gets the result (a committed stream it must end, an outcome it must record); a
    cancellation from outside still ends the task, counted once, at the caller's next wait."""
    kept: list[str] = []
    cancellations: list[int] = []

    async def request(connection: Connection, drain: Drain) -> str:
        kept.append(await while_connected(answer_once_listened(connection), connection.receive, drain))
        task = asyncio.current_task()
        assert task is not None
        cancellations.append(task.cancelling())
        await asyncio.sleep(0)  # the caller's next wait, where a cancellation lands
        return "went on"

    async def main() -> str:
        connection, drain = Connection(slow_to_cancel=True), Drain()
        requested = asyncio.create_task(request(connection, drain))
        await connection.cancelling.wait()  # the work finished, the watcher is being cancelled
        if "drain" in interruptions:
            drain.end()
        if "cancel" in interruptions:
            requested.cancel()
        connection.let_cancel.set()
        try:
            return await requested
        except asyncio.CancelledError:
            return "cancelled"

    assert run(main()) == ending
    assert kept == ["the answer"]
    assert cancellations == [1 if "cancel" in interruptions else 0]


def test_a_cancellation_from_outside_while_the_work_runs_propagates() -> None:
    async def main() -> None:
        connection = Connection()
        requested = asyncio.create_task(while_connected(asyncio.Event().wait(), connection.receive, Drain()))
        await connection.listening.wait()
        requested.cancel()
        await requested

    with pytest.raises(asyncio.CancelledError):
        run(main())
