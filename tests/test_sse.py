from router.sse import SSEBuffer, error_event, event_json, has_content, is_done


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
    assert error_event({"error": {"message": "m"}}) == b'data: {"error":{"message":"m"}}\n\n'
