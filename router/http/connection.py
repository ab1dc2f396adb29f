"""Work that lasts only as long as its client's connection and its worker's drain.

``while_connected`` runs the work in the calling task beside a watcher of the client's
connection, both in one ``asyncio.TaskGroup`` (as Starlette's ``StreamingResponse`` runs its
relay and its disconnect listener in one task group): the client leaving cancels the work,
seen as ``ClientGone``; the end of the worker's drain cancels it too, seen as ``DrainEnded``.
When it returns or raises, the watcher is over: nothing outlives the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from starlette.types import Receive

from router.errors import ClientGone
from router.runtime.drain import Drain, DrainEnded

T = TypeVar("T")


async def client_disconnected(receive: Receive) -> None:
    """Returns when the client has closed the connection (the request body is already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _watch(receive: Receive) -> None:
    await client_disconnected(receive)
    raise ClientGone("the client closed the connection")


async def while_connected(work: Coroutine[Any, Any, T], receive: Receive, drain: Drain) -> T:
    """``work``'s result, or ``ClientGone`` if the client leaves first, or ``DrainEnded`` if the
    drain ends first (then the work is cancelled: its upstream calls and streams close).

    Work that finished keeps its result even if the client left or the drain ended in the same
    instant: whoever takes the result (a stream's relay) notices either at once. The work's own
    error propagates as it is. A cancellation from outside always propagates: when it lands
    after the work finished, the result is returned and the cancellation comes again at the
    caller's next wait (a task cannot return and raise at once, and a dropped result would
    leave an upstream stream open)."""
    if drain.over:
        work.close()
        raise DrainEnded
    finished = False
    failure: Exception | None = None
    try:
        with drain.stops():
            async with asyncio.TaskGroup() as group:
                watcher = group.create_task(_watch(receive))
                try:
                    result = await work
                    finished = True
                except Exception as exc:  # raised below as it is, not wrapped in the group's
                    failure = exc
                finally:
                    watcher.cancel()
    except asyncio.CancelledError as cancelled:
        if not finished:
            raise
        # Cancelled from outside while the watcher's cancellation completed: the result is
        # kept (a committed stream its caller must end, an outcome it must record), and the
        # cancellation is delivered again, at the caller's next wait.
        _cancel_again(cancelled)
    except DrainEnded:
        if not finished:
            raise
    except BaseExceptionGroup as group_failed:
        _gone, other = group_failed.split(ClientGone)
        if other is not None:
            raise
        if not finished:
            raise ClientGone("the client closed the connection") from None
    if failure is not None:
        raise failure
    return result


def _cancel_again(cancelled: asyncio.CancelledError) -> None:
    task = asyncio.current_task()
    assert task is not None
    task.uncancel()  # one cancellation, still counted once: whoever asked for it undoes it once
    task.cancel(*cancelled.args)
