"""Anthropic content blocks <-> a chat assistant message, for requests and answers alike.

Text, tool uses (and chat tool calls back) and thinking with its signatures.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.dialects.translate.anthropic.common import SERVER_BLOCK_TYPES, json_text
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_list


def thinking_block(block: dict[str, Any]) -> dict[str, Any] | None:
    """A thinking or redacted thinking block, reduced to what both dialects carry (they share
    its shape); None for any other block."""
    if block.get("type") == "thinking":
        thinking = str(block.get("thinking", ""))
        return {"type": "thinking", "thinking": thinking, "signature": str(block.get("signature", ""))}
    if block.get("type") == "redacted_thinking":
        return {"type": "redacted_thinking", "data": str(block.get("data", ""))}
    return None


def assistant_to_chat(content: Any, where: str | None) -> dict[str, Any]:
    """An assistant turn (or a whole answer's content) as one chat message: text, tool calls,
    and thinking with its signatures. Unknown blocks are refused in a request (``where`` names
    the turn) and dropped from an answer (``where`` None)."""
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    thinking_blocks: list[dict[str, Any]] = []
    for j, block in enumerate(as_list(content)):
        block = as_dict(block)
        kind = block.get("type")
        thinking = thinking_block(block)
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
        "function": {"name": str(block.get("name", "")), "arguments": json_text(arguments or {})},
    }


def chat_thinking_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat assistant message's ``thinking_blocks`` as Anthropic blocks."""
    blocks = (thinking_block(as_dict(block)) for block in as_list(message.get("thinking_blocks")))
    return [block for block in blocks if block is not None]


def parsed_call_arguments(function: dict[str, Any], where: str) -> dict[str, Any]:
    """A chat tool call's ``function.arguments`` (at ``where``) as the JSON object they must be
    (none: an empty one), for the dialects that take them parsed (Messages, Gemini)."""
    raw = function.get("arguments")
    param = f"{where}.function.arguments"
    try:
        arguments = orjson.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"{param} is not valid JSON", param=param) from None
    if not isinstance(arguments, dict):
        raise InvalidRequest(f"{param} must be a JSON object", param=param)
    return arguments


def call_to_tool_use(call: dict[str, Any], where: str) -> dict[str, Any]:
    """A chat tool call as a ``tool_use`` block; its arguments must be a JSON object."""
    function = as_dict(call.get("function"))
    arguments = parsed_call_arguments(function, where)
    return {
        "type": "tool_use",
        "id": str(call.get("id", "")),
        "name": str(function.get("name", "")),
        "input": arguments,
    }
