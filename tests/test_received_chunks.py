"""An upstream stream cut right after an event: what arrived before the cut is not lost."""

from __future__ import annotations

import asyncio
from unittest import mock

import aiohttp
import pytest
from aiohttp.streams import StreamReader

from router.providers.http import received

EVENT = b'data: {"choices":[{"index":0,"delta":{"content":"one two"}}]}\n\n'


async def cut_after(received: bytes) -> StreamReader:
    """A response body that received ``received`` and then lost its connection, before anyone read."""
    reader = StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
    reader.feed_data(received)
    reader.set_exception(aiohttp.ClientPayloadError("Response payload is not completed"))
    return reader


async def test_aiohttp_alone_raises_the_cut_before_what_it_received() -> None:
    """The premise: iterating aiohttp's reader after a cut loses the buffered event."""
    reader = await cut_after(EVENT)
    with pytest.raises(aiohttp.ClientPayloadError):
        await anext(reader.iter_any())


async def test_what_arrived_before_a_cut_comes_first_then_the_cut() -> None:
    reader = await cut_after(EVENT)
    assert await received(reader) == EVENT
    with pytest.raises(aiohttp.ClientPayloadError):
        await received(reader)


async def test_a_cut_with_nothing_held_is_raised_at_once() -> None:
    reader = await cut_after(b"")
    with pytest.raises(aiohttp.ClientPayloadError):
        await received(reader)


async def test_a_whole_stream_is_read_to_its_end() -> None:
    reader = StreamReader(mock.Mock(), 2**16, loop=asyncio.get_running_loop())
    reader.feed_data(EVENT)
    reader.feed_eof()
    assert [await received(reader), await received(reader)] == [EVENT, b""]
