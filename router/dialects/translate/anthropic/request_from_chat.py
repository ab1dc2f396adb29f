"""A chat request as a Messages request: ``chat_request_to_messages`` and its helpers.

The table and its notes are in the package's docstring.
"""

from __future__ import annotations

from typing import Any

from router.dialects.translate.anthropic.blocks import call_to_tool_use, chat_thinking_blocks
from router.dialects.translate.anthropic.common import text_of
from router.dialects.translate.chat_request import (
    alternating,
    function_tools,
    system_and_others,
    untranslatable_part,
    user_parts,
)
from router.dialects.translate.targets import ANTHROPIC_USER_ID_LIMIT, fit_identifier
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_int, as_list

DEFAULT_MAX_TOKENS = 4096
"""Anthropic requires ``max_tokens``; chat does not. 4096 fits every current Claude model."""


THINKING_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
# The media types Anthropic's base64 sources take (``Base64ImageSource``, ``Base64PDFSource``).
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
DOCUMENT_TYPE = "application/pdf"


def chat_request_to_messages(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request as the Messages request an Anthropic upstream understands."""
    _refuse_unexpressible(body)
    request: dict[str, Any] = {"model": body.get("model")}
    system, turns = _chat_messages_to_turns(as_list(body.get("messages")))
    if not turns:
        raise InvalidRequest(
            "messages: nothing to send to this model: Anthropic needs at least one message with content",
            param="messages",
        )
    if system:
        request["system"] = system
    request["messages"] = turns
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    request["max_tokens"] = max_tokens if as_int(max_tokens) > 0 else DEFAULT_MAX_TOKENS
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
        request["metadata"] = {"user_id": fit_identifier(body["user"], ANTHROPIC_USER_ID_LIMIT)}
    if "stream" in body:
        request["stream"] = body["stream"]
    return request


def _can_think(request: dict[str, Any]) -> bool:
    """Whether Anthropic accepts thinking with this request. It refuses thinking with a forced
    tool, and a tool-use turn in history that does not start with its (signed) thinking, which a
    chat client without ``thinking_blocks`` cannot send back: reasoning_effort is a hint, so it
    gives way rather than fail the request."""
    if as_dict(request.get("tool_choice")).get("type") in ("any", "tool"):
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
    if body.get("audio") or "audio" in as_list(body.get("modalities")):
        raise InvalidRequest("audio output is not supported by this model", param="modalities")


def _chat_messages_to_turns(messages: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """Chat messages as (system text, alternating Messages turns): system and developer
    messages gather into ``system``; consecutive same-role turns merge."""
    system, others = system_and_others(messages)
    turns = alternating((_turn(role, message, where) for role, message, where in others), "content")
    for turn in turns:
        if turn["role"] == "user":
            # Anthropic wants a turn's tool results before anything else in it.
            turn["content"].sort(key=lambda block: block.get("type") != "tool_result")
    return system, turns


def _turn(role: str, message: dict[str, Any], where: str) -> tuple[str, list[dict[str, Any]]]:
    """A chat message as a Messages role and blocks (Anthropic refuses an empty turn: none is kept)."""
    if role == "user":
        return "user", _user_content_to_blocks(message.get("content"), where)
    if role == "tool":
        return "user", [_tool_message_to_result(message)]
    return "assistant", _assistant_message_to_blocks(message, where)


def _user_content_to_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """A chat user content (string or parts) as Messages blocks; empty text is skipped
    (Anthropic refuses empty text blocks)."""
    blocks: list[dict[str, Any]] = []
    for kind, part, at in user_parts(content, where):
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            url = as_dict(part.get("image_url")).get("url")
            blocks.append({"type": "image", "source": _url_to_source(url, f"{at}.image_url.url")})
        elif kind == "file":
            blocks.append(_file_to_document(as_dict(part.get("file")), at))
        else:
            raise untranslatable_part(kind, at)
    return blocks


def _url_to_source(url: Any, where: str) -> dict[str, Any]:
    """A chat image URL as an Anthropic source: a ``data:`` URL as base64, http(s) as a URL."""
    if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
        media_type, data = url[5:].split(";base64,", 1)
        if media_type not in IMAGE_TYPES:
            raise InvalidRequest(
                f"{where}: Anthropic takes images as {', '.join(sorted(IMAGE_TYPES))}, not {media_type!r}",
                param=where,
            )
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
    if media_type != DOCUMENT_TYPE:
        raise InvalidRequest(
            f"{where}: Anthropic takes inline documents as {DOCUMENT_TYPE}, not {media_type!r}", param=where
        )
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
    text = text_of(content)
    if text:
        result["content"] = text
    return result


def _assistant_message_to_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """An assistant message as blocks in Anthropic's order: thinking, text, tool uses."""
    blocks = chat_thinking_blocks(message)
    content = message.get("content")
    refusals = (str(p.get("refusal", "")) for p in as_list(content) if as_dict(p).get("type") == "refusal")
    text = text_of(content) + "".join(refusals)
    if text:
        blocks.append({"type": "text", "text": text})
    for j, call in enumerate(as_list(message.get("tool_calls"))):
        blocks.append(call_to_tool_use(as_dict(call), f"{where}.tool_calls[{j}]"))
    return blocks


def _tools_to_messages(body: dict[str, Any], request: dict[str, Any]) -> None:
    """Function tools as custom tools, and the tool choice with its parallel flag."""
    tools = []
    for function in function_tools(body):
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
        translated = {"type": "tool", "name": as_dict(choice.get("function")).get("name")}
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
    response_format = as_dict(response_format)
    kind = response_format.get("type")
    if kind == "json_schema":
        schema = as_dict(response_format.get("json_schema")).get("schema", {})
        request["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    elif kind == "json_object":
        raise InvalidRequest(
            "response_format json_object is not supported by this model; give a json_schema",
            param="response_format",
        )
