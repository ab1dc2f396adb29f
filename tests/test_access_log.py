"""The access log: a turn of the event loop writes its lines at once; a failing stdout fails no request."""

import asyncio
import io
import logging

import pytest

from router.telemetry.access_log import AccessLog


class Recording(io.BytesIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.refusing = False

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self.refusing:
            raise OSError(32, "Broken pipe")
        self.writes.append(bytes(data))
        return len(data)


async def test_the_lines_of_one_turn_are_written_together_at_its_end() -> None:
    out = Recording()
    log = AccessLog(out)
    log.write(b'{"n":1}')
    log.write(b'{"n":2}')
    assert out.writes == []  # nothing before the turn ends
    await asyncio.sleep(0)
    assert out.writes == [b'{"n":1}\n{"n":2}\n']
    log.write(b'{"n":3}')
    await asyncio.sleep(0)
    assert out.writes == [b'{"n":1}\n{"n":2}\n', b'{"n":3}\n']


def test_without_a_running_loop_a_line_is_written_at_once() -> None:
    out = Recording()
    AccessLog(out).write(b'{"n":1}')
    assert out.writes == [b'{"n":1}\n']


async def test_a_refusing_stdout_loses_its_batch_says_so_once_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    out = Recording()
    log = AccessLog(out)
    out.refusing = True
    with caplog.at_level(logging.ERROR, logger="raceway.access"):
        for n in range(3):
            log.write(b"%d" % n)  # never raises into the request that finished
            await asyncio.sleep(0)
    assert out.writes == [] and len(caplog.records) == 1
    out.refusing = False
    log.write(b"back")
    await asyncio.sleep(0)
    assert out.writes == [b"back\n"]


def test_flush_writes_what_is_queued_and_nothing_twice() -> None:
    out = Recording()
    log = AccessLog(out)
    log._lines.append(b"queued")  # as a turn left it when the loop stopped
    log.flush()
    log.flush()
    assert out.writes == [b"queued\n"]
