import pytest

from router.wire.sse import EventTooLarge, SSEBuffer, data_event, event_json, has_content, is_done


def test_events_split_across_arbitrary_chunks() -> None:
    buffer = SSEBuffer()
    stream = b'data: {"a": 1}\n\ndata: {"b": 2}\r\n\r\n: comment\n\ndata: [DONE]\n\n'
    events: list[bytes] = []
    for start in range(0, len(stream), 7):
        events += buffer.feed(stream[start : start + 7])
    assert events == [b'data: {"a": 1}\n\n', b'data: {"b": 2}\n\n', b": comment\n\n", b"data: [DONE]\n\n"]
    assert buffer.pending == b""


def test_a_cut_stream_leaves_a_pending_fragment() -> None:
    buffer = SSEBuffer()
    assert buffer.feed(b'data: {"a": 1}\n\ndata: {"par') == [b'data: {"a": 1}\n\n']
    assert buffer.pending == b'data: {"par'


def test_content_detection() -> None:
    role_only = {
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
    }
    text = {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    tool = {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0}]}, "finish_reason": None}]}
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    assert not has_content(role_only)
    assert has_content(text) and has_content(tool) and has_content(finish)
    assert not has_content({"choices": [], "usage": {}}) and not has_content(None)


def test_event_helpers() -> None:
    assert is_done(b"data: [DONE]\n\n") and not is_done(b'data: {"x": 1}\n\n')
    assert event_json(b'event: x\ndata: {"x": 1}\n\n') == {"x": 1}
    assert event_json(b": keepalive\n\n") is None
    assert data_event({"error": {"message": "m"}}) == b'data: {"error":{"message":"m"}}\n\n'


def test_a_crlf_split_between_chunks_still_ends_the_event() -> None:
    buffer = SSEBuffer()
    assert buffer.feed(b'data: {"a": 1}\r\n\r') == []
    assert buffer.feed(b"\n") == [b'data: {"a": 1}\n\n']
    assert buffer.pending == b""


def test_an_event_longer_than_max_event_is_refused_while_it_grows() -> None:
    buffer = SSEBuffer(max_event=1024)
    assert buffer.feed(b"data: " + b"x" * 1000) == []
    with pytest.raises(EventTooLarge):
        buffer.feed(b"x" * 100)


def test_a_chunk_holding_an_event_longer_than_max_event_is_refused() -> None:
    buffer = SSEBuffer(max_event=1024)
    assert buffer.feed(b"data: 1\n\n") == [b"data: 1\n\n"]
    with pytest.raises(EventTooLarge):
        buffer.feed(b"data: " + b"x" * 2000 + b"\n\ndata: 2\n\n")


def test_events_up_to_max_event_pass() -> None:
    buffer = SSEBuffer(max_event=1024)
    event = b"data: " + b"x" * 1012 + b"\n\n"  # 1020 bytes with its blank line
    assert buffer.feed(event[:500]) == []
    assert buffer.feed(event[500:] + event) == [event, event]


def test_a_long_line_in_many_chunks_is_one_event() -> None:
    """A 16 MiB line in 16 KiB chunks (what it costs is measured by bench/sse_buffer.py)."""
    buffer = SSEBuffer()
    chunk = b"x" * 16 * 1024
    assert buffer.feed(b"data: ") == []
    for _ in range(1024):
        assert buffer.feed(chunk) == []
    (event,) = buffer.feed(b"\n\n")
    assert event == b"data: " + b"x" * 16 * 1024 * 1024 + b"\n\n"
