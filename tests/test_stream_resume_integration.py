"""Streams that survive their upstream, on the real server (one worker) with the official SDKs.

A deployment cuts its stream after two words (or sends an error event, resets, falls silent);
the group's ``resume`` continues it on a deployment that can (``continues``), which is sent the
text already streamed as its final assistant message and answers the rest of the same script
(``Behaviour.continues``). The client must see one unbroken answer whose text is the whole
script; whatever cannot be continued ends with the error event, as without ``resume``.
"""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.test_upstream_faults_integration import access_log_line
from tests.upstream import Behaviour, FakeUpstream, Seen
from tests.upstream_wires import PROMPT_TOKENS

pytestmark = pytest.mark.integration

SCRIPT = "one two three four five six"
PREFIX = "one two"  # what two words of it are
USER = [{"role": "user", "content": "count"}]


def gateway_config(upstream: FakeUpstream) -> str:
    base, root = upstream.base_url, upstream.root_url
    never = "cooldown: {failures: 1000}"
    return f"""
    deployments:
      - {{name: cut-chat, provider: openai, base_url: "{base}", model: cut-chat, {never}}}
      - {{name: silent-chat, provider: openai, base_url: "{base}", model: silent-chat, idle_timeout: 0.3s,
         {never}}}
      - {{name: cut-msgs, provider: anthropic, base_url: "{root}", model: cut-msgs, {never}}}
      - {{name: plain, provider: openai, base_url: "{base}", model: plain, {never}}}
      - {{name: prefill, provider: anthropic, base_url: "{root}", model: prefill, {never}}}
      - {{name: prefixed, provider: vllm, base_url: "{base}", model: prefixed, continues: prefix, {never}}}
    models:
      - {{name: chat-to-prefill, deployments: [cut-chat, plain, prefill], resume: {{}}}}
      - {{name: silent-to-prefill, deployments: [silent-chat, plain, prefill], resume: {{}}}}
      - {{name: msgs-to-prefix, deployments: [cut-msgs, prefixed], resume: {{}}}}
      - {{name: msgs-to-prefill, deployments: [cut-msgs, prefill], resume: {{}}}}
      - {{name: twice, deployments: [cut-chat, cut-msgs, prefill], resume: {{max_resumes: 1}}}}
      - {{name: only-plain, deployments: [cut-chat, plain], resume: {{}}}}
      - {{name: without-resume, deployments: [cut-chat, prefill]}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(gateway_config(module_upstream), workers=1)


@pytest.fixture
def client(gateway: RunningGateway, sdks: Sdks) -> openai.OpenAI:
    return sdks.openai(gateway)


@pytest.fixture
def claude(gateway: RunningGateway, sdks: Sdks) -> anthropic.Anthropic:
    return sdks.anthropic(gateway)


def requests_for(upstream: FakeUpstream, model: str) -> list[Seen]:
    return [seen for seen in upstream.requests if seen.model == model]


def resumes(gateway: RunningGateway, model: str, came: str, went: str, outcome: str) -> float:
    """``raceway_stream_resumes_total`` for these labels (in whatever order /metrics writes them)."""
    wanted = {"model": model, "from": came, "to": went, "outcome": outcome}
    for family in text_string_to_metric_families(httpx.get(f"{gateway.base_url}/metrics").text):
        for sample in family.samples:
            if sample.name == "raceway_stream_resumes_total" and sample.labels == wanted:
                return sample.value
    return 0.0


def chat_text(
    client: openai.OpenAI, model: str, request_id: str, *, usage: bool = True
) -> tuple[str, list[str]]:
    """The streamed text, and every chunk's id (a usage chunk only when asked for)."""
    stream = client.chat.completions.create(
        model=model,
        messages=USER,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True} if usage else openai.NOT_GIVEN,
        extra_headers={"x-request-id": request_id},
    )
    text, ids = "", []
    for chunk in stream:
        ids.append(chunk.id)
        assert usage or chunk.choices  # the usage the gateway asked for stays the gateway's
        text += "".join(choice.delta.content or "" for choice in chunk.choices)
    return text, ids


BREAKS = {
    "half-event": Behaviour(reply=SCRIPT, cut_after=2),
    "reset": Behaviour(reply=SCRIPT, reset_after=2),
    "error-event": Behaviour(reply=SCRIPT, error_after=2, error={"error": {"message": "overloaded"}}),
}


@pytest.mark.parametrize("broken", list(BREAKS), ids=list(BREAKS))
def test_a_chat_stream_cut_midway_is_continued_by_a_prefill_exactly(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream, broken: str
) -> None:
    threaded_upstream.script("cut-chat", BREAKS[broken])
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    before = resumes(gateway, "chat-to-prefill", "cut-chat", "prefill", "spliced")
    calls = 'raceway_upstream_requests_total{deployment="%s",outcome="%s"}'
    cuts, successes = (
        gateway.metric(calls % ("cut-chat", "stream_cut")),
        gateway.metric(calls % ("prefill", "success")),
    )
    text, ids = chat_text(client, "chat-to-prefill", f"resume-{broken}")
    assert text == SCRIPT
    assert len(set(ids)) == 1  # one answer: the first call's id throughout
    (continued,) = requests_for(threaded_upstream, "prefill")
    assert len(continued.body["messages"]) == 2  # the question, then the answer so far
    assert continued.body["messages"][-1] == {"role": "assistant", "content": PREFIX}
    assert not requests_for(threaded_upstream, "plain")  # continues: none is never asked to continue
    line = access_log_line(gateway, f"resume-{broken}")
    assert line["error"] is None and line["deployment"] == "cut-chat"
    assert line["resumed"] == [{"from": "cut-chat", "to": "prefill", "at_chars": len(PREFIX)}]
    assert line["prompt_tokens"] == PROMPT_TOKENS  # the cut call reported none; the continuation's
    assert resumes(gateway, "chat-to-prefill", "cut-chat", "prefill", "spliced") == before + 1
    # The broken call counts as cut (toward its cooldown), the continuation as a call that succeeded.
    assert gateway.metric(calls % ("cut-chat", "stream_cut")) == cuts + 1
    assert gateway.metric(calls % ("prefill", "success")) == successes + 1


def test_a_prefill_is_sent_without_the_trailing_whitespace_anthropic_refuses_and_nothing_is_lost(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    script = "one two\n three four"  # two words: "one two\n", which Anthropic would refuse as a prefill
    threaded_upstream.script("cut-chat", Behaviour(reply=script, cut_after=2))
    threaded_upstream.script("prefill", Behaviour(reply=script, continues=True))
    text, _ids = chat_text(client, "chat-to-prefill", "resume-whitespace")
    assert text == script  # its "\n" again, then the rest: the repeated newline is dropped, nothing else
    (continued,) = requests_for(threaded_upstream, "prefill")
    assert continued.body["messages"][-1] == {"role": "assistant", "content": "one two"}


def test_a_stream_that_falls_silent_is_continued_after_its_idle_timeout(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("silent-chat", Behaviour(reply=SCRIPT, chunk_delay=3.0))  # silent after "one"
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    text, _ids = chat_text(client, "silent-to-prefill", "resume-silent", usage=False)
    assert text == SCRIPT
    (continued,) = requests_for(threaded_upstream, "prefill")
    assert continued.body["messages"][-1] == {"role": "assistant", "content": "one"}


@pytest.mark.parametrize("target", ["prefixed", "prefill"])
def test_a_messages_stream_continued_elsewhere_is_one_message_with_both_calls_usage(
    gateway: RunningGateway, claude: anthropic.Anthropic, threaded_upstream: FakeUpstream, target: str
) -> None:
    """Continued by a chat server's prefix (translated back into Messages) or by a prefill."""
    threaded_upstream.script("cut-msgs", Behaviour(reply=SCRIPT, cut_after=2))
    threaded_upstream.script(target, Behaviour(reply=SCRIPT, continues=True))
    deltas: list[str] = []
    model = "msgs-to-prefix" if target == "prefixed" else "msgs-to-prefill"
    with claude.messages.stream(model=model, max_tokens=100, messages=USER) as events:  # type: ignore[arg-type]
        for event in events:
            if event.type == "content_block_start":
                assert event.index == 0  # the continuation's text block is the same block
            if event.type == "text":
                deltas.append(event.text)
        message = events.get_final_message()
    assert "".join(deltas) == SCRIPT
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == SCRIPT  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.id.startswith("msg_up_")  # the first call's id, as it began
    assert message.usage.input_tokens == 2 * PROMPT_TOKENS  # both calls' input
    (continued,) = requests_for(threaded_upstream, target)
    assert continued.body["messages"][-1] == {"role": "assistant", "content": PREFIX}
    flags = {"continue_final_message": True, "add_generation_prompt": False}
    assert {key: continued.body.get(key) for key in flags} == (
        flags if target == "prefixed" else dict.fromkeys(flags)
    )


def test_a_responses_stream_continued_elsewhere_is_one_response_numbered_without_a_gap(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("cut-chat", Behaviour(reply=SCRIPT, cut_after=2))
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    numbers, deltas, items = [], [], set()
    opened_as = ""
    with client.responses.stream(model="chat-to-prefill", input="count") as events:
        for event in events:
            numbers.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
                items.add((event.item_id, event.output_index, event.content_index))
            if event.type == "response.created":
                opened_as = event.response.id
            if event.type == "response.output_item.added":
                assert event.item.type == "message"  # one message item: the continuation's went into it
        response = events.get_final_response()
    assert numbers == list(range(len(numbers)))
    assert "".join(deltas) == SCRIPT and len(items) == 1
    assert response.output_text == SCRIPT and response.status == "completed"
    assert response.id == opened_as  # the response the client saw created, not the continuation's
    assert [item.id for item in response.output] == [next(iter(items))[0]]
    (continued,) = requests_for(threaded_upstream, "prefill")
    assert continued.body["messages"][-1] == {"role": "assistant", "content": PREFIX}


def test_a_gemini_stream_continued_elsewhere_reads_as_one_answer(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("cut-chat", Behaviour(reply=SCRIPT, cut_after=2))
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    options = types.HttpOptions(base_url=gateway.base_url)
    with genai.Client(api_key="unused", http_options=options) as google:
        chunks = list(google.models.generate_content_stream(model="chat-to-prefill", contents="count"))
    assert "".join(chunk.text or "" for chunk in chunks) == SCRIPT
    assert len({chunk.response_id for chunk in chunks}) == 1
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    (continued,) = requests_for(threaded_upstream, "prefill")
    assert continued.body["messages"][-1] == {"role": "assistant", "content": PREFIX}


def test_past_max_resumes_the_stream_ends_with_the_error_event(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("cut-chat", Behaviour(reply=SCRIPT, cut_after=2))
    threaded_upstream.script("cut-msgs", Behaviour(reply=SCRIPT, continues=True, cut_after=1))
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    before = resumes(gateway, "twice", "cut-msgs", "", "exhausted")
    text = ""
    with pytest.raises(openai.APIError) as raised:
        stream = client.chat.completions.create(model="twice", messages=USER, stream=True)  # type: ignore[arg-type]
        for chunk in stream:
            text += "".join(choice.delta.content or "" for choice in chunk.choices)
    assert text == "one two three"  # the first call's two words, the continuation's one
    assert "cut-msgs" in raised.value.message
    assert not requests_for(threaded_upstream, "prefill")
    assert resumes(gateway, "twice", "cut-msgs", "", "exhausted") == before + 1


def test_a_break_inside_a_tool_call_ends_with_the_error_event_and_nothing_spliced(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    whole = '{"city": "Paris", "unit": "c"}'
    call = Behaviour(reply="", tool_calls=(("get_weather", whole),), cut_after=1)
    threaded_upstream.script("cut-chat", call)
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    before = resumes(gateway, "chat-to-prefill", "cut-chat", "", "refused")
    arguments = ""
    with pytest.raises(openai.APIError):
        stream = client.chat.completions.create(model="chat-to-prefill", messages=USER, stream=True)  # type: ignore[arg-type]
        for chunk in stream:
            for choice in chunk.choices:
                assert not choice.delta.content
                for tool in choice.delta.tool_calls or []:
                    arguments += (tool.function.arguments if tool.function else None) or ""
    assert whole.startswith(arguments) and arguments != whole  # the call's start, never the rest
    assert not requests_for(threaded_upstream, "prefill")
    assert resumes(gateway, "chat-to-prefill", "cut-chat", "", "refused") == before + 1


def test_a_group_whose_only_other_deployment_cannot_continue_ends_with_the_error_event(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("cut-chat", Behaviour(reply=SCRIPT, cut_after=2))
    for model in ("only-plain", "without-resume"):
        with pytest.raises(openai.APIError):
            for _chunk in client.chat.completions.create(model=model, messages=USER, stream=True):  # type: ignore[arg-type]
                pass
    assert not requests_for(threaded_upstream, "plain")
    assert not requests_for(threaded_upstream, "prefill")  # without resume: never continued
