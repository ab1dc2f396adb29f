"""Cache hints across wires: ``cache_control`` on chat's counterparts for litellm's Anthropic
family, ``prompt_cache_key`` towards chat and Responses upstreams."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from router.config.model import Adapter, Deployment
from router.dialects.translate.anthropic import messages_request_to_chat
from router.dialects.translate.cache_hints import takes_cache_control, with_cache_control
from router.dialects.translate.targets import ANY_TARGET
from router.dispatch.preparation import Conversation
from router.providers.base import Provider
from router.wire.dialect import Dialect

HINT = {"type": "ephemeral", "ttl": "5m"}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}


def messages_body(**extra: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 10,
        "system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": HINT}],
        "messages": [
            {"role": "user", "content": "plain"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": [IMAGE], "cache_control": HINT},
                    {"type": "text", "text": "look", "cache_control": HINT},
                ],
            },
        ],
        **extra,
    }


def test_cache_control_lands_on_each_block_s_chat_counterpart() -> None:
    body = messages_body(tools=[{"name": "f", "input_schema": {}, "cache_control": HINT}])
    chat = messages_request_to_chat(body)
    hinted = with_cache_control(body, chat)
    system, plain, assistant, tool, user = hinted["messages"]
    assert system["content"] == [{"type": "text", "text": "a\n\nb", "cache_control": HINT}]
    assert plain == chat["messages"][1] and "cache_control" not in assistant
    assert tool["role"] == "tool" and tool["cache_control"] == HINT
    # the tool result's image moved into the user message, ahead of the text that carries the hint
    assert [part.get("cache_control") for part in user["content"]] == [None, HINT]
    assert hinted["tools"][0]["cache_control"] == HINT
    assert "cache_control" not in str(chat)  # the plain translation is left as it was


def test_a_translation_of_another_shape_keeps_no_hints_rather_than_misplace_them() -> None:
    body = messages_body()
    chat = messages_request_to_chat(body)
    chat["messages"] = chat["messages"][:-1]
    assert with_cache_control(body, chat) is chat


def test_only_anthropic_models_behind_litellm_take_cache_control() -> None:
    def deployment(provider: str, model: str, adapter: Adapter = Adapter.NATIVE) -> Deployment:
        return Deployment(name="d", provider=provider, model=model, adapter=adapter)

    assert takes_cache_control(deployment("anthropic", "claude-sonnet-4-5", Adapter.LITELLM))
    assert takes_cache_control(deployment("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0"))
    assert takes_cache_control(deployment("vertex_ai", "claude-sonnet-4-5@20250929"))
    assert not takes_cache_control(deployment("bedrock", "amazon.nova-pro-v1:0"))
    assert not takes_cache_control(deployment("anthropic", "claude-sonnet-4-5"))  # native: untouched body
    assert not takes_cache_control(deployment("openai", "gpt-4o"))


def _provider(provider: str, api: Dialect, adapter: Adapter = Adapter.NATIVE) -> Provider:
    deployment = Deployment(name="d", provider=provider, model="claude-x", api=api, adapter=adapter)
    wire = Dialect.CHAT if adapter is Adapter.LITELLM else api
    return SimpleNamespace(deployment=deployment, wire=wire)  # type: ignore[return-value]


def test_prompt_cache_key_reaches_native_chat_and_responses_upstreams_only() -> None:
    chat_up, responses_up = _provider("openai", Dialect.CHAT), _provider("openai", Dialect.RESPONSES)
    anthropic_up = _provider("anthropic", Dialect.MESSAGES)
    via_litellm = _provider("anthropic", Dialect.MESSAGES, Adapter.LITELLM)
    messages = Conversation(Dialect.MESSAGES, messages_body(), cache_key="abc123")
    assert messages.body_of(chat_up, ANY_TARGET)["prompt_cache_key"] == "abc123"
    assert messages.body_of(responses_up, ANY_TARGET)["prompt_cache_key"] == "abc123"
    assert messages.body_of(anthropic_up, ANY_TARGET) is messages.body
    hinted = messages.body_of(via_litellm, ANY_TARGET)  # litellm refuses parameters its provider lacks
    assert "prompt_cache_key" not in hinted and "cache_control" in str(hinted)
    assert "prompt_cache_key" not in messages.body_for(Dialect.CHAT)  # the translation itself
    responses = Conversation(
        Dialect.RESPONSES, {"model": "m", "input": "hi", "prompt_cache_key": "own"}, "abc"
    )
    assert responses.body_of(chat_up, ANY_TARGET)["prompt_cache_key"] == "own"
    assert "prompt_cache_key" not in responses.body_of(
        _provider("gemini", Dialect.CHAT, Adapter.LITELLM), ANY_TARGET
    )
    chat = Conversation(Dialect.CHAT, {"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert "prompt_cache_key" not in chat.body_of(responses_up, ANY_TARGET)  # no session known, none invented
