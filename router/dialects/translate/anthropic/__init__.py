"""Translation between Anthropic Messages (``/v1/messages``) and OpenAI Chat Completions, the pivot.

Requests (``messages_request_to_chat`` ->, ``chat_request_to_messages`` <-). Way: ``<->`` both,
``->``/``<-`` one way only, ``~`` approximated, ``drop`` dropped, ``400`` refused (InvalidRequest).

| Messages                                   | chat                                        | way  | note |
|--------------------------------------------|---------------------------------------------|------|------|
| `system` (string or text blocks)           | first `system` message                      | <->  | 1    |
| `system`                                   | `system`/`developer` messages, anywhere     | <- ~ | 2    |
| alternating user/assistant turns           | consecutive same-role messages              | <- ~ | 3    |
| `text` block                               | `text` part (a string stays a string)       | <->  | 4    |
| `image` block, `base64` / `url` source     | `image_url`, `data:` URL / http(s) URL      | <->  |      |
| `document`, `text` source                  | `text` part                                 | -> ~ |      |
| `document`, `base64` source                | `file` part with `file_data` data URL       | <->  | 5    |
| `tool_use` block (assistant)               | `tool_calls[]`, arguments = JSON of `input` | <->  | 6    |
| `tool_result` block (user)                 | `role: tool` message per result             | <->  | 7    |
| `thinking` / `redacted_thinking` (history) | `thinking_blocks` + `reasoning_content`     | <->  | 8    |
| `server_tool_use`, `*_tool_result` blocks  | -                                           | drop | 9    |
| other block / part types                   | -                                           | 400  |      |
| `max_tokens`                               | `max_completion_tokens` / `max_tokens`      | <->  | 10   |
| `stop_sequences`                           | `stop` (string or list)                     | <->  |      |
| `temperature`, `top_p`                     | `temperature`, `top_p`                      | <->  | 11   |
| `top_k`                                    | -                                           | drop |      |
| `tools` (custom)                           | function `tools`                            | <->  | 12   |
| server `tools` (web_search, bash, ...)     | -                                           | drop | 12   |
| `tool_choice` auto / any / tool / none     | auto / required / function / none           | <->  | 13   |
| `tool_choice.disable_parallel_tool_use`    | `parallel_tool_calls: false`                | <->  |      |
| `thinking` enabled, `budget_tokens`        | `reasoning_effort`                          | <-> ~| 14   |
| `thinking` adaptive / disabled             | `reasoning_effort: medium` / none           | -> ~ |      |
| `output_config.effort`                     | `reasoning_effort` (xhigh, max -> high)     | -> ~ |      |
| `output_config.format` json_schema         | `response_format` json_schema               | <->  | 15   |
| `metadata.user_id`                         | `user`                                      | <->  |      |
| `stream`                                   | `stream` + `stream_options.include_usage`   | <->  |      |
| `context_management`, `service_tier`, ...  | -                                           | drop | 16   |
| -                                          | `n` > 1, `logprobs`, audio output           | 400  | 17   |
| -                                          | role `function` (legacy)                    | 400  |      |
| -                                          | `seed`, penalties, `logit_bias`, ...        | drop | 18   |

1. Text blocks joined by a blank line; `cache_control` dropped.
2. Mid-conversation system/developer messages move into `system` (Anthropic has one).
3. Merged: Anthropic requires alternation. A user turn's tool results go first in it. A chat
   message with nothing to say (empty content, no calls) is skipped: Anthropic refuses empty turns.
4. `cache_control` and `citations` dropped.
5. `url`, `file` and `content` document sources are refused; chat files need `file_data`.
6. Chat arguments that are not a JSON object: 400 naming `messages[i].tool_calls[j]...`.
7. Tool messages come right after the assistant's calls, the turn's other blocks follow in a
   user message. Text blocks joined; `is_error: true` prefixes the content with `"Error: "`
   (chat has no flag; not recovered on the way back); images in a result move to that
   following user message (chat tool messages hold text only).
8. Chat `reasoning_content` without `thinking_blocks` is dropped towards Anthropic, which
   refuses unsigned thinking in history.
9. They belong to server tools, which a chat upstream cannot run.
10. Chat without either: 4096 (Anthropic requires it).
11. Chat temperature above 1 is clamped to 1; both dropped towards Anthropic when thinking is
    on (Anthropic refuses them with thinking).
12. Server tools have a `type` other than `custom`; a tool choice naming one falls back to
    auto. Chat `strict` dropped; chat non-function tools refused.
13. `tool` <-> `{type: function, function: {name}}`. Chat `allowed_tools` choices are refused.
14. Budget -> effort: low (<= 2048), medium (<= 16384), high. Effort -> budget: low 1024,
    medium 8192, high 24576, and `max_tokens` raised by the budget when not above it;
    `minimal` / `none` -> no thinking. Effort dropped (a hint) where Anthropic would refuse
    thinking: with a forced tool choice, or when the last assistant turn has tool calls
    without its signed thinking blocks (a chat client that does not keep them).
15. Also the beta top-level `output_format`. Chat `json_object` is refused (no schema).
16. Also `container`, `mcp_servers`, `cache_control` anywhere: hints.
17. The client expects what Anthropic cannot give (n choices, logprobs, audio).
18. Also `store`, `metadata`, `prompt_cache_key`, `stream_options`: no counterpart.

Answers (``messages_answer_to_chat``, ``chat_answer_to_messages``) and streams
(``MessagesEventsToChat``, ``ChatEventsToMessages``):

| Messages                                   | chat                                        | way  | note |
|--------------------------------------------|---------------------------------------------|------|------|
| `id` `msg_X`                               | `chatcmpl-msg_X`                            | <->  | 19   |
| `text` blocks                              | `content` (joined; None when none)          | <->  | 4    |
| `text` block                               | `refusal`                                   | <- ~ |      |
| `thinking` / `redacted_thinking` blocks    | `reasoning_content` + `thinking_blocks`     | <->  | 20   |
| `tool_use` blocks                          | `tool_calls`                                | <->  | 21   |
| `server_tool_use`, `*_tool_result` blocks  | -                                           | drop |      |
| `stop_reason`                              | `finish_reason`                             | <->  | 22   |
| `usage.input_tokens` (without cache)       | `prompt_tokens` (input + cache r + cache w) | <->  |      |
| `cache_read_input_tokens`                  | `prompt_tokens_details.cached_tokens`       | <->  |      |
| `cache_creation_input_tokens`              | `cache_creation_input_tokens`               | <->  |      |
| `output_tokens`                            | `completion_tokens`                         | <->  |      |
| `output_tokens_details.thinking_tokens`    | `completion_tokens_details.reasoning_tokens` | <->  |      |
| stream `signature_delta`                   | delta `thinking_blocks` with the signature  | <->  | 23   |
| stream `error` event                       | `{"error": {...}}` event                    | <->  | 24   |
| `ping`, `citations_delta`, unknown events  | -                                           | drop |      |

19. Back: `chatcmpl-` stripped, `msg_` added when missing.
20. Chat reasoning without `thinking_blocks` (DeepSeek, vLLM) -> one thinking block with an
    empty signature.
21. Stream: `index` = position among the tool calls. Chat arguments that are not JSON in a
    whole answer: UpstreamError (502). A chat stream interleaving the argument pieces of
    several calls cannot be told as Anthropic blocks (one block is open at a time): pieces for
    a call whose block is already closed are dropped.
22. end_turn, stop_sequence, pause_turn -> stop; max_tokens, model_context_window_exceeded ->
    length; tool_use <-> tool_calls; refusal <-> content_filter. Back: stop -> end_turn with
    `stop_sequence` null (chat does not say which sequence).
23. `[{type: thinking, thinking, signature, index}]`, with the block's whole thinking (its
    pieces came as `reasoning_content`), so the accumulated block is the one the signature
    signs, as in a whole answer: a client sends it back, and the cache keeps it. The `index`
    (position among the thinking blocks) is ours, so the openai SDK's accumulator can merge
    several blocks. Back, such a block's text is not counted twice.
24. Nothing is emitted after it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from router.dialects.translate.events import DONE, data_event, named_event, read_event
from router.errors import InvalidRequest, UpstreamError

DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires ``max_tokens``; chat does not. 4096 fits every current Claude model."""

THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
LOW_BUDGET_LIMIT = 2048
MEDIUM_BUDGET_LIMIT = 16384

STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
SERVER_BLOCK_TYPES = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
    }
)
TOOL_ERROR_PREFIX = "Error: "


# --- small readers: defensive access to client JSON -------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one (bodies are validated, but be safe)."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    """A token count; anything else counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _text_of(content: Any) -> str:
    """The text of a string content or of a list of text blocks/parts, joined."""
    if isinstance(content, str):
        return content
    return "".join(
        str(part.get("text", "")) for part in _list(content) if isinstance(part, dict) and "text" in part
    )


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# --- Messages request -> chat ------------------------------------------------------------------


def messages_request_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages request as the chat request an OpenAI-style upstream understands."""
    chat: dict[str, Any] = {"model": body.get("model")}
    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, message in enumerate(_list(body.get("messages"))):
        messages.extend(_turn_to_chat(_dict(message), f"messages[{i}]"))
    chat["messages"] = messages
    if "max_tokens" in body:
        chat["max_tokens"] = body["max_tokens"]
    stops = body.get("stop_sequences")
    if isinstance(stops, list) and stops:
        chat["stop"] = stops
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            chat[name] = body[name]
    _tools_to_chat(body, chat)
    effort = _thinking_to_effort(body.get("thinking"), _dict(body.get("output_config")))
    if effort is not None:
        chat["reasoning_effort"] = effort
    schema_format = _dict(_dict(body.get("output_config")).get("format")) or _dict(body.get("output_format"))
    if schema_format.get("type") == "json_schema":
        chat["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema_format.get("schema", {}), "strict": True},
        }
    user_id = _dict(body.get("metadata")).get("user_id")
    if isinstance(user_id, str) and user_id:
        chat["user"] = user_id
    if "stream" in body:
        chat["stream"] = body["stream"]
        if body["stream"] is True:
            chat["stream_options"] = {"include_usage": True}
    return chat


def _system_text(system: Any) -> str:
    """``system`` as one string: text blocks joined by a blank line (their cache hints dropped)."""
    if isinstance(system, str):
        return system
    texts = [str(b.get("text", "")) for b in _list(system) if isinstance(b, dict) and b.get("type") == "text"]
    return "\n\n".join(text for text in texts if text)


def _turn_to_chat(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """One Messages turn as chat messages: an assistant turn is one message; a user turn's
    tool results become ``tool`` messages first (chat wants them right after the calls), then
    its other blocks one user message."""
    role = message.get("role")
    content = message.get("content")
    if role == "assistant":
        return [_assistant_to_chat(content, where)]
    if role != "user":
        raise InvalidRequest(f"{where}.role must be 'user' or 'assistant'", param=f"{where}.role")
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    chat_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(_list(content)):
        block = _dict(block)
        if block.get("type") == "tool_result":
            tool_message, images = _tool_result_to_chat(block, f"{where}.content[{j}]")
            chat_messages.append(tool_message)
            parts.extend(images)
        elif block.get("type") not in SERVER_BLOCK_TYPES:
            parts.append(_user_block_to_part(block, f"{where}.content[{j}]"))
    if parts:
        chat_messages.append({"role": "user", "content": parts})
    return chat_messages


def _user_block_to_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    """A user content block as a chat content part."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": str(block.get("text", ""))}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _source_url(_dict(block.get("source")), where)}}
    if kind == "document":
        return _document_to_part(block, where)
    raise InvalidRequest(f"{where}: content blocks of type {kind!r} cannot be translated", param=where)


def _source_url(source: dict[str, Any], where: str) -> str:
    """An image source as chat's URL: base64 data as a ``data:`` URL, a URL as it is."""
    if source.get("type") == "base64":
        return f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    raise InvalidRequest(f"{where}.source: only base64 and url sources can be translated", param=where)


def _document_to_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    """A document: plain text as a text part, a base64 file (PDF) as chat's ``file`` part."""
    source = _dict(block.get("source"))
    if source.get("type") == "text":
        return {"type": "text", "text": str(source.get("data", ""))}
    if source.get("type") == "base64":
        media_type = source.get("media_type", "application/pdf")
        file: dict[str, Any] = {"file_data": f"data:{media_type};base64,{source.get('data', '')}"}
        if isinstance(block.get("title"), str):
            file["filename"] = block["title"]
        return {"type": "file", "file": file}
    raise InvalidRequest(
        f"{where}.source: only text and base64 documents can be translated", param=f"{where}.source"
    )


def _tool_result_to_chat(block: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A tool result as a ``tool`` message, and its images (chat tool messages hold text only;
    they go to the user message that follows)."""
    content = block.get("content")
    text = _text_of(content)
    images = [
        {
            "type": "image_url",
            "image_url": {"url": _source_url(_dict(b.get("source")), f"{where}.content[{k}]")},
        }
        for k, b in enumerate(_list(content))
        if isinstance(b, dict) and b.get("type") == "image"
    ]
    if block.get("is_error") is True:
        text = TOOL_ERROR_PREFIX + text
    message = {"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text}
    return message, images


def _thinking_block(block: dict[str, Any]) -> dict[str, Any] | None:
    """A thinking or redacted thinking block, reduced to what both dialects carry (they share
    its shape); None for any other block."""
    if block.get("type") == "thinking":
        thinking = str(block.get("thinking", ""))
        return {"type": "thinking", "thinking": thinking, "signature": str(block.get("signature", ""))}
    if block.get("type") == "redacted_thinking":
        return {"type": "redacted_thinking", "data": str(block.get("data", ""))}
    return None


def _assistant_to_chat(content: Any, where: str | None) -> dict[str, Any]:
    """An assistant turn (or a whole answer's content) as one chat message: text, tool calls,
    and thinking with its signatures. Unknown blocks are refused in a request (``where`` names
    the turn) and dropped from an answer (``where`` None)."""
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    thinking_blocks: list[dict[str, Any]] = []
    for j, block in enumerate(_list(content)):
        block = _dict(block)
        kind = block.get("type")
        thinking = _thinking_block(block)
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            tool_calls.append(_tool_use_to_call(block))
        elif thinking is not None:
            thinking_blocks.append(thinking)
        elif where is not None and kind not in SERVER_BLOCK_TYPES:
            raise InvalidRequest(
                f"{where}.content[{j}]: assistant blocks of type {kind!r} cannot be translated",
                param=f"{where}.content[{j}].type",
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking_blocks:
        message["thinking_blocks"] = thinking_blocks
        reasoning = "".join(b["thinking"] for b in thinking_blocks if b["type"] == "thinking")
        if reasoning:
            message["reasoning_content"] = reasoning
    return message


def _tool_use_to_call(block: dict[str, Any]) -> dict[str, Any]:
    """A ``tool_use`` block as a chat tool call, its input as compact JSON."""
    arguments = block.get("input")
    return {
        "id": str(block.get("id", "")),
        "type": "function",
        "function": {"name": str(block.get("name", "")), "arguments": _json_text(arguments or {})},
    }


def _tools_to_chat(body: dict[str, Any], chat: dict[str, Any]) -> None:
    """Custom tools as function tools; server tools (Anthropic runs them) have no chat
    counterpart and are dropped, and a choice that forced one falls back to auto."""
    tools: list[dict[str, Any]] = []
    for tool in _list(body.get("tools")):
        tool = _dict(tool)
        if tool.get("type") not in (None, "custom"):
            continue
        function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("input_schema", {})}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        tools.append({"type": "function", "function": function})
    if not tools:
        return
    chat["tools"] = tools
    choice = _dict(body.get("tool_choice"))
    kind = choice.get("type")
    names = {tool["function"]["name"] for tool in tools}
    if kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "none":
        chat["tool_choice"] = "none"
    elif kind == "tool" and choice.get("name") in names:
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif kind is not None:
        chat["tool_choice"] = "auto"
    if choice.get("disable_parallel_tool_use") is True:
        chat["parallel_tool_calls"] = False


def _thinking_to_effort(thinking: Any, output_config: dict[str, Any]) -> str | None:
    """A thinking budget as chat's coarse effort; adaptive thinking counts as medium."""
    thinking = _dict(thinking)
    kind = thinking.get("type")
    if kind == "enabled":
        budget = _int(thinking.get("budget_tokens"))
        if budget <= LOW_BUDGET_LIMIT:
            return "low"
        return "medium" if budget <= MEDIUM_BUDGET_LIMIT else "high"
    if kind == "disabled":
        return None
    effort = output_config.get("effort")
    if effort in ("low", "medium", "high"):
        return str(effort)
    if effort in ("xhigh", "max"):
        return "high"
    return "medium" if kind == "adaptive" else None


# --- chat request -> Messages ------------------------------------------------------------------


def chat_request_to_messages(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request as the Messages request an Anthropic upstream understands."""
    _refuse_unexpressible(body)
    request: dict[str, Any] = {"model": body.get("model")}
    system, turns = _chat_messages_to_turns(_list(body.get("messages")))
    if system:
        request["system"] = system
    request["messages"] = turns
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    request["max_tokens"] = max_tokens if _int(max_tokens) > 0 else DEFAULT_MAX_TOKENS
    stop = body.get("stop")
    if isinstance(stop, str) and stop:
        request["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        request["stop_sequences"] = [s for s in stop if isinstance(s, str)]
    _tools_to_messages(body, request)
    budget = THINKING_BUDGETS.get(str(body.get("reasoning_effort")))
    if budget is not None and _can_think(request):
        request["thinking"] = {"type": "enabled", "budget_tokens": budget}
        if request["max_tokens"] <= budget:
            request["max_tokens"] += budget
    else:
        temperature = body.get("temperature")
        if isinstance(temperature, int | float) and not isinstance(temperature, bool):
            request["temperature"] = min(float(temperature), 1.0)
        if body.get("top_p") is not None:
            request["top_p"] = body["top_p"]
    _response_format_to_messages(body.get("response_format"), request)
    if isinstance(body.get("user"), str) and body["user"]:
        request["metadata"] = {"user_id": body["user"]}
    if "stream" in body:
        request["stream"] = body["stream"]
    return request


def _can_think(request: dict[str, Any]) -> bool:
    """Whether Anthropic accepts thinking with this request. It refuses thinking with a forced
    tool, and a tool-use turn in history that does not start with its (signed) thinking, which a
    chat client without ``thinking_blocks`` cannot send back: reasoning_effort is a hint, so it
    gives way rather than fail the request."""
    if _dict(request.get("tool_choice")).get("type") in ("any", "tool"):
        return False
    assistant_turns = [turn for turn in request["messages"] if turn["role"] == "assistant"]
    if not assistant_turns:
        return True
    blocks = assistant_turns[-1]["content"]
    has_tool_use = any(block.get("type") == "tool_use" for block in blocks)
    return not has_tool_use or blocks[0].get("type") in ("thinking", "redacted_thinking")


def _refuse_unexpressible(body: dict[str, Any]) -> None:
    """Refuse what a chat client expects back but Anthropic cannot give."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise InvalidRequest("n > 1 is not supported by this model (Anthropic has no n)", param="n")
    if body.get("logprobs") is True or body.get("top_logprobs"):
        raise InvalidRequest("logprobs are not supported by this model", param="logprobs")
    if body.get("audio") or "audio" in _list(body.get("modalities")):
        raise InvalidRequest("audio output is not supported by this model", param="modalities")


def _chat_messages_to_turns(messages: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """Chat messages as (system text, alternating Messages turns): system and developer
    messages gather into ``system``; consecutive same-role turns merge."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        message = _dict(message)
        role = message.get("role")
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            text = _text_of(message.get("content"))
            if text:
                system.append(text)
            continue
        if role == "user":
            turn_role, blocks = "user", _user_content_to_blocks(message.get("content"), where)
        elif role == "tool":
            turn_role, blocks = "user", [_tool_message_to_result(message)]
        elif role == "assistant":
            turn_role, blocks = "assistant", _assistant_message_to_blocks(message, where)
        else:
            raise InvalidRequest(f"{where}.role {role!r} cannot be translated", param=f"{where}.role")
        if not blocks:
            continue  # Anthropic refuses an empty turn; its neighbours may merge instead
        if turns and turns[-1]["role"] == turn_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": turn_role, "content": blocks})
    for turn in turns:
        if turn["role"] == "user":
            # Anthropic wants a turn's tool results before anything else in it.
            turn["content"].sort(key=lambda block: block.get("type") != "tool_result")
    return "\n\n".join(system), turns


def _user_content_to_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """A chat user content (string or parts) as Messages blocks; empty text is skipped
    (Anthropic refuses empty text blocks)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for j, part in enumerate(_list(content)):
        part = _dict(part)
        kind = part.get("type")
        at = f"{where}.content[{j}]"
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            url = _dict(part.get("image_url")).get("url")
            blocks.append({"type": "image", "source": _url_to_source(url, f"{at}.image_url.url")})
        elif kind == "file":
            blocks.append(_file_to_document(_dict(part.get("file")), at))
        else:
            raise InvalidRequest(f"{at}: content parts of type {kind!r} cannot be translated", param=at)
    return blocks


def _url_to_source(url: Any, where: str) -> dict[str, Any]:
    """A chat image URL as an Anthropic source: a ``data:`` URL as base64, http(s) as a URL."""
    if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        return {"type": "base64", "media_type": media_type, "data": data}
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return {"type": "url", "url": url}
    raise InvalidRequest(f"{where} must be a base64 data URL or an http(s) URL", param=where)


def _file_to_document(file: dict[str, Any], where: str) -> dict[str, Any]:
    """A chat file part with inline data as a document; uploaded file ids cannot cross."""
    data = file.get("file_data")
    if not (isinstance(data, str) and data.startswith("data:") and ";base64," in data):
        raise InvalidRequest(f"{where}: only files given as file_data can be translated", param=where)
    media_type, payload = data[5:].split(";base64,", 1)
    document: dict[str, Any] = {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": payload},
    }
    if isinstance(file.get("filename"), str):
        document["title"] = file["filename"]
    return document


def _tool_message_to_result(message: dict[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": str(message.get("tool_call_id", ""))}
    text = _text_of(content)
    if text:
        result["content"] = text
    return result


def _chat_thinking_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat assistant message's ``thinking_blocks`` as Anthropic blocks."""
    blocks = (_thinking_block(_dict(block)) for block in _list(message.get("thinking_blocks")))
    return [block for block in blocks if block is not None]


def _assistant_message_to_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """An assistant message as blocks in Anthropic's order: thinking, text, tool uses."""
    blocks = _chat_thinking_blocks(message)
    content = message.get("content")
    refusals = (str(p.get("refusal", "")) for p in _list(content) if _dict(p).get("type") == "refusal")
    text = _text_of(content) + "".join(refusals)
    if text:
        blocks.append({"type": "text", "text": text})
    for j, call in enumerate(_list(message.get("tool_calls"))):
        blocks.append(_call_to_tool_use(_dict(call), f"{where}.tool_calls[{j}]"))
    return blocks


def _call_to_tool_use(call: dict[str, Any], where: str) -> dict[str, Any]:
    """A chat tool call as a ``tool_use`` block; its arguments must be a JSON object."""
    function = _dict(call.get("function"))
    raw = function.get("arguments")
    param = f"{where}.function.arguments"
    try:
        arguments = orjson.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"{param} is not valid JSON", param=param) from None
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"{param} must be a JSON object", param=param)
    return {
        "type": "tool_use",
        "id": str(call.get("id", "")),
        "name": str(function.get("name", "")),
        "input": arguments,
    }


def _tools_to_messages(body: dict[str, Any], request: dict[str, Any]) -> None:
    """Function tools as custom tools, and the tool choice with its parallel flag."""
    tools = []
    for j, tool in enumerate(_list(body.get("tools"))):
        tool = _dict(tool)
        if tool.get("type") != "function":
            raise InvalidRequest(
                f"tools[{j}]: only function tools can be translated", param=f"tools[{j}].type"
            )
        function = _dict(tool.get("function"))
        schema = function.get("parameters") or {"type": "object", "properties": {}}
        anthropic_tool: dict[str, Any] = {"name": function.get("name"), "input_schema": schema}
        if isinstance(function.get("description"), str):
            anthropic_tool["description"] = function["description"]
        tools.append(anthropic_tool)
    if not tools:
        return
    request["tools"] = tools
    choice = body.get("tool_choice")
    translated: dict[str, Any] | None = None
    if choice == "auto":
        translated = {"type": "auto"}
    elif choice == "required":
        translated = {"type": "any"}
    elif choice == "none":
        translated = {"type": "none"}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        translated = {"type": "tool", "name": _dict(choice.get("function")).get("name")}
    elif isinstance(choice, dict):
        raise InvalidRequest(
            f"tool_choice of type {choice.get('type')!r} cannot be translated", param="tool_choice"
        )
    if body.get("parallel_tool_calls") is False:
        translated = translated or {"type": "auto"}
        if translated["type"] != "none":
            translated["disable_parallel_tool_use"] = True
    if translated is not None:
        request["tool_choice"] = translated


def _response_format_to_messages(response_format: Any, request: dict[str, Any]) -> None:
    """A JSON schema becomes Anthropic's structured output; ``json_object`` (no schema) cannot."""
    response_format = _dict(response_format)
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = _dict(response_format.get("json_schema")).get("schema", {})
        request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    elif kind == "json_object":
        raise InvalidRequest(
            "response_format json_object is not supported by this model; give a json_schema",
            param="response_format",
        )


# --- answers -----------------------------------------------------------------------------------


def _usage_to_chat(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage (input without cache) as chat usage (prompt with cache)."""
    reads = _int(usage.get("cache_read_input_tokens"))
    writes = _int(usage.get("cache_creation_input_tokens"))
    prompt = _int(usage.get("input_tokens")) + reads + writes
    completion = _int(usage.get("output_tokens"))
    chat: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reads},
        "cache_creation_input_tokens": writes,
    }
    thinking = _dict(usage.get("output_tokens_details")).get("thinking_tokens")
    if isinstance(thinking, int):
        chat["completion_tokens_details"] = {"reasoning_tokens": thinking}
    return chat


def _usage_to_messages(usage: dict[str, Any]) -> dict[str, Any]:
    """Chat usage as Anthropic's, whose ``input_tokens`` leaves the cache out."""
    reads = _int(_dict(usage.get("prompt_tokens_details")).get("cached_tokens"))
    writes = _int(usage.get("cache_creation_input_tokens"))
    anthropic: dict[str, Any] = {
        "input_tokens": max(0, _int(usage.get("prompt_tokens")) - reads - writes),
        "output_tokens": _int(usage.get("completion_tokens")),
        "cache_read_input_tokens": reads,
        "cache_creation_input_tokens": writes,
    }
    reasoning = _dict(usage.get("completion_tokens_details")).get("reasoning_tokens")
    if isinstance(reasoning, int):
        anthropic["output_tokens_details"] = {"thinking_tokens": reasoning}
    return anthropic


def _chat_id(message_id: Any) -> str:
    return f"chatcmpl-{message_id or ''}"


def _message_id(chat_id: Any) -> str:
    """``msg_...`` from a chat id; a round-tripped ``chatcmpl-msg_X`` gives back ``msg_X``."""
    raw = str(chat_id or "")
    raw = raw.removeprefix("chatcmpl-")
    return raw if raw.startswith("msg_") else f"msg_{raw}"


def messages_answer_to_chat(answer: dict[str, Any]) -> dict[str, Any]:
    """A whole Messages answer as a ``chat.completion``."""
    message = _assistant_to_chat(answer.get("content"), None)
    return {
        "id": _chat_id(answer.get("id")),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": STOP_TO_FINISH.get(str(answer.get("stop_reason")), "stop"),
                "logprobs": None,
            }
        ],
        "usage": _usage_to_chat(_dict(answer.get("usage"))),
    }


def chat_answer_to_messages(answer: dict[str, Any]) -> dict[str, Any]:
    """A whole ``chat.completion`` (its first choice) as a Messages answer."""
    choice = _dict(next(iter(_list(answer.get("choices"))), {}))
    message = _dict(choice.get("message"))
    content: list[dict[str, Any]] = _answer_thinking_blocks(message)
    text = _text_of(message.get("content")) or (message.get("refusal") or "")
    if text:
        content.append({"type": "text", "text": str(text)})
    for j, call in enumerate(_list(message.get("tool_calls"))):
        try:
            content.append(_call_to_tool_use(_dict(call), f"choices[0].message.tool_calls[{j}]"))
        except InvalidRequest as exc:
            raise UpstreamError(f"the upstream answered a tool call that is not JSON: {exc.message}") from exc
    finish = choice.get("finish_reason")
    return {
        "id": _message_id(answer.get("id")),
        "type": "message",
        "role": "assistant",
        "model": answer.get("model"),
        "content": content,
        "stop_reason": FINISH_TO_STOP.get(str(finish), "end_turn"),
        "stop_sequence": None,
        "usage": _usage_to_messages(_dict(answer.get("usage"))),
    }


def _answer_thinking_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The thinking of a chat answer as blocks: its ``thinking_blocks`` when signed, else its
    ``reasoning_content`` as one unsigned block (a chat upstream such as DeepSeek has no signature)."""
    blocks = _chat_thinking_blocks(message)
    reasoning = message.get("reasoning_content")
    if not blocks and isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    return blocks


# --- streams -----------------------------------------------------------------------------------


def _is_done(event: bytes) -> bool:
    return any(line.strip() == b"data: [DONE]" for line in event.split(b"\n"))


@dataclass
class MessagesEventsToChat:
    """An Anthropic Messages stream as chat chunks.

    Input tokens come from ``message_start``; output tokens from ``message_delta``, whose
    usage is cumulative (so it replaces, never adds)."""

    id: str = ""
    model: Any = None
    created: int = field(default_factory=lambda: int(time.time()))
    usage: dict[str, Any] = field(default_factory=dict)
    # Anthropic block index -> position among the tool calls / among the thinking blocks.
    tool_positions: dict[int, int] = field(default_factory=dict)
    thinking_positions: dict[int, int] = field(default_factory=dict)
    thinking_count: int = 0
    # Anthropic block index -> its thinking so far, which its signature's chunk carries whole.
    thinking_texts: dict[int, list[str]] = field(default_factory=dict)
    finish_sent: bool = False
    finished: bool = False

    def feed(self, event: bytes) -> list[bytes]:
        if self.finished:
            return []
        name, data = read_event(event)
        data = _dict(data)
        kind = data.get("type", name)
        if kind == "message_start":
            return self._start(_dict(data.get("message")))
        if kind == "content_block_start":
            return self._block_start(_int(data.get("index")), _dict(data.get("content_block")))
        if kind == "content_block_delta":
            return self._block_delta(_int(data.get("index")), _dict(data.get("delta")))
        if kind == "message_delta":
            return self._message_delta(data)
        if kind == "message_stop":
            # A stop without a stop_reason still needs a finish chunk for a well-formed stream.
            out = [] if self.finish_sent else self._delta({}, "stop")
            self.finished = True
            return [*out, data_event({**self._chunk([]), "usage": _usage_to_chat(self.usage)}), DONE]
        if kind == "error":
            self.finished = True
            error = _dict(data.get("error"))
            payload = {"message": error.get("message", ""), "type": error.get("type", "api_error")}
            return [data_event({"error": {**payload, "code": None, "param": None}})]
        return []  # ping, content_block_stop, unknown

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def _delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> list[bytes]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return [data_event(self._chunk([choice]))]

    def _start(self, message: dict[str, Any]) -> list[bytes]:
        self.id = _chat_id(message.get("id"))
        self.model = message.get("model")
        self.usage = dict(_dict(message.get("usage")))
        return self._delta({"role": "assistant", "content": ""})

    def _block_start(self, index: int, block: dict[str, Any]) -> list[bytes]:
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return self._delta({"content": block["text"]})
        if kind == "tool_use":
            position = self.tool_positions[index] = len(self.tool_positions)
            # Anthropic starts with an empty input and sends it as deltas; a proxy may not.
            start_input = block.get("input")
            arguments = _json_text(start_input) if isinstance(start_input, dict) and start_input else ""
            call = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": arguments},
            }
            return self._delta({"tool_calls": [call]})
        if kind == "thinking":
            self.thinking_positions[index] = self._next_thinking()
            self.thinking_texts[index] = []
            if block.get("thinking"):
                self.thinking_texts[index].append(str(block["thinking"]))
                return self._delta({"reasoning_content": block["thinking"]})
        if kind == "redacted_thinking":
            redacted = {
                "type": "redacted_thinking",
                "data": block.get("data", ""),
                "index": self._next_thinking(),
            }
            return self._delta({"thinking_blocks": [redacted]})
        return []

    def _next_thinking(self) -> int:
        self.thinking_count += 1
        return self.thinking_count - 1

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[bytes]:
        kind = delta.get("type")
        if kind == "text_delta":
            return self._delta({"content": delta.get("text", "")})
        if kind == "input_json_delta" and index in self.tool_positions:
            piece = {
                "index": self.tool_positions[index],
                "function": {"arguments": delta.get("partial_json", "")},
            }
            return self._delta({"tool_calls": [piece]})
        if kind == "thinking_delta":
            piece = delta.get("thinking", "")
            self.thinking_texts.setdefault(index, []).append(str(piece))
            return self._delta({"reasoning_content": piece})
        if kind == "signature_delta":
            signed = {
                "type": "thinking",
                "thinking": "".join(self.thinking_texts.get(index, ())),
                "signature": delta.get("signature", ""),
                "index": self.thinking_positions.get(index, 0),
            }
            return self._delta({"thinking_blocks": [signed]})
        return []  # citations_delta and unknown deltas

    def _message_delta(self, data: dict[str, Any]) -> list[bytes]:
        for key, value in _dict(data.get("usage")).items():
            if value is not None:
                self.usage[key] = value
        stop_reason = _dict(data.get("delta")).get("stop_reason")
        if stop_reason is None or self.finish_sent:
            return []
        self.finish_sent = True
        return self._delta({}, STOP_TO_FINISH.get(str(stop_reason), "stop"))


ERROR_TYPES = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "rate_limit_error": "rate_limit_error",
    "timeout_error": "timeout_error",
    "overloaded_error": "overloaded_error",
}


@dataclass
class ChatEventsToMessages:
    """Chat chunks as an Anthropic Messages stream.

    One block is open at a time: a text block, a thinking block (reasoning pieces, closed by
    its signature), or a tool_use block per tool call index; opening another closes the open
    one, so thinking never lands inside a text block. ``message_delta`` waits for ``[DONE]``
    because the usage chunk comes after the finish chunk."""

    started: bool = False
    finished: bool = False
    block_count: int = 0
    open_kind: str | None = None  # "text", "thinking", "redacted", "tool"
    open_tool: int | None = None  # the chat index of the open tool_use block
    seen_tools: set[int] = field(default_factory=set)
    tool_ids: dict[str, int] = field(default_factory=dict)  # for upstreams that omit ``index``
    signed: bool = False  # the open thinking block got its signature
    thought: bool = False  # the open thinking block got text
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)

    def feed(self, event: bytes) -> list[bytes]:
        if self.finished:
            return []
        if _is_done(event):
            return self._end()
        _, data = read_event(event)
        data = _dict(data)
        if isinstance(data.get("error"), dict):
            return self._error(data["error"])
        if not data:
            return []  # a comment or keep-alive
        out = [] if self.started else self._start(data)
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        for choice in _list(data.get("choices"))[:1]:
            choice = _dict(choice)
            out.extend(self._delta(_dict(choice.get("delta"))))
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
                out.extend(self._close())
        return out

    def _start(self, chunk: dict[str, Any]) -> list[bytes]:
        self.started = True
        message: dict[str, Any] = {
            "id": _message_id(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or "",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [named_event("message_start", {"type": "message_start", "message": message})]

    def _delta(self, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        reasoning = delta.get("reasoning_content")
        has_reasoning = isinstance(reasoning, str) and bool(reasoning)
        if has_reasoning:
            out += self._thinking_text(str(reasoning))
        for block in _list(delta.get("thinking_blocks")):
            out += self._thinking_block(_dict(block), has_reasoning)
        text = delta.get("content") or delta.get("refusal")
        if isinstance(text, str) and text:
            if self.open_kind != "text":
                out += self._open({"type": "text", "text": ""}, "text")
            out.append(self._block_delta({"type": "text_delta", "text": text}))
        for call in _list(delta.get("tool_calls")):
            out += self._tool_call(_dict(call))
        return out

    def _thinking_text(self, text: str) -> list[bytes]:
        """A piece of thinking, in the open thinking block unless its signature closed it."""
        out: list[bytes] = []
        if self.open_kind != "thinking" or self.signed:
            out += self._open({"type": "thinking", "thinking": "", "signature": ""}, "thinking")
        out.append(self._block_delta({"type": "thinking_delta", "thinking": text}))
        self.thought = True
        return out

    def _thinking_block(self, block: dict[str, Any], has_reasoning: bool) -> list[bytes]:
        """A signature ends the open thinking block; a redacted block is a whole block. The
        block's own text counts only when the delta had no ``reasoning_content`` (litellm
        repeats each piece in both), and a signature's block only when its text did not come
        as pieces already (``MessagesEventsToChat`` sends the whole text with the signature)."""
        out: list[bytes] = []
        if block.get("type") == "redacted_thinking":
            out += self._open({"type": "redacted_thinking", "data": str(block.get("data", ""))}, "redacted")
            out += self._close()
        elif block.get("type") == "thinking":
            thinking = block.get("thinking")
            closing = self.open_kind == "thinking" and not self.signed and bool(block.get("signature"))
            if (
                isinstance(thinking, str)
                and thinking
                and not has_reasoning
                and not (closing and self.thought)
            ):
                out += self._thinking_text(thinking)
            if block.get("signature"):
                if self.open_kind != "thinking" or self.signed:
                    out += self._open({"type": "thinking", "thinking": "", "signature": ""}, "thinking")
                signature = str(block["signature"])
                out.append(self._block_delta({"type": "signature_delta", "signature": signature}))
                self.signed = True
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        index = self._tool_index(call)
        function = _dict(call.get("function"))
        if index not in self.seen_tools:
            self.seen_tools.add(index)
            block = {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": {},
            }
            out += self._open(block, "tool")
            self.open_tool = index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments and self.open_kind == "tool" and self.open_tool == index:
            out.append(self._block_delta({"type": "input_json_delta", "partial_json": arguments}))
        return out

    def _tool_index(self, call: dict[str, Any]) -> int:
        """The call's ``index``; an upstream that leaves it out (some OpenAI-compatible
        servers) tells a new call by a new ``id``."""
        if isinstance(call.get("index"), int):
            return int(call["index"])
        call_id = call.get("id")
        if isinstance(call_id, str) and call_id and call_id not in self.tool_ids:
            self.tool_ids[call_id] = len(self.tool_ids)
            return self.tool_ids[call_id]
        return self.open_tool if self.open_tool is not None else max(self.seen_tools, default=0)

    def _open(self, block: dict[str, Any], kind: str) -> list[bytes]:
        out = self._close()
        self.open_kind = kind
        self.signed = False
        self.thought = False
        start = {"type": "content_block_start", "index": self.block_count, "content_block": block}
        return [*out, named_event("content_block_start", start)]

    def _close(self) -> list[bytes]:
        if self.open_kind is None:
            return []
        self.open_kind = None
        self.open_tool = None
        self.block_count += 1
        stop = {"type": "content_block_stop", "index": self.block_count - 1}
        return [named_event("content_block_stop", stop)]

    def _block_delta(self, delta: dict[str, Any]) -> bytes:
        payload = {"type": "content_block_delta", "index": self.block_count, "delta": delta}
        return named_event("content_block_delta", payload)

    def _end(self) -> list[bytes]:
        out = [] if self.started else self._start({})
        out += self._close()
        self.finished = True
        delta = {
            "stop_reason": FINISH_TO_STOP.get(str(self.finish_reason), "end_turn"),
            "stop_sequence": None,
        }
        message_delta = {"type": "message_delta", "delta": delta, "usage": _usage_to_messages(self.usage)}
        return [
            *out,
            named_event("message_delta", message_delta),
            named_event("message_stop", {"type": "message_stop"}),
        ]

    def _error(self, error: dict[str, Any]) -> list[bytes]:
        self.finished = True
        kind = ERROR_TYPES.get(str(error.get("type")), "api_error")
        payload = {"type": "error", "error": {"type": kind, "message": str(error.get("message", ""))}}
        return [named_event("error", payload)]
