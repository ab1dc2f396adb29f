"""The built-in fake answers deterministically, in both modes, with usage."""

import orjson

from router.providers.fake import FakeProvider
from tests.helpers import CHAT, fake


async def test_echoes_the_last_user_message() -> None:
    body = {
        **CHAT,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}],
    }
    answer = orjson.loads(await FakeProvider(fake("f")).complete(body))
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "echo: hi there"}
    assert (
        answer["usage"]["total_tokens"]
        == answer["usage"]["prompt_tokens"] + answer["usage"]["completion_tokens"]
    )


async def test_fixed_reply_streams_word_by_word_with_usage() -> None:
    provider = FakeProvider(fake("f", reply="alpha beta gamma"))
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    batches = [batch async for batch in provider.stream(body)]
    assert len(batches) == 1  # no chunk_delay: it is all ready at once
    events = batches[0]
    chunks = [orjson.loads(event[6:]) for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "alpha beta gamma"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert events[-1] == b"data: [DONE]\n\n"


async def test_a_chunk_delay_sends_each_word_on_its_own() -> None:
    provider = FakeProvider(fake("f", reply="alpha beta gamma", chunk_delay=0.001))
    batches = [batch async for batch in provider.stream({**CHAT, "stream": True})]
    assert [len(batch) for batch in batches] == [2, 1, 3]  # role and alpha; beta; gamma, finish, [DONE]


async def test_embeddings_are_deterministic() -> None:
    provider = FakeProvider(fake("f"))
    first = orjson.loads(await provider.embeddings({"model": "e", "input": ["a", "b"]}))
    second = orjson.loads(await provider.embeddings({"model": "e", "input": "a"}))
    assert first["data"][0]["embedding"] == second["data"][0]["embedding"]
    assert first["data"][0]["embedding"] != first["data"][1]["embedding"]


async def test_a_null_text_part_counts_as_no_text() -> None:
    parts = [{"type": "text", "text": None}, {"type": "text", "text": "hi"}, {"type": "image_url"}]
    body = {**CHAT, "messages": [{"role": "user", "content": parts}]}
    answer = orjson.loads(await FakeProvider(fake("f")).complete(body))
    assert answer["choices"][0]["message"]["content"] == "echo: hi"
