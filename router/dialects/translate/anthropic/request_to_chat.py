"""A Messages request as a chat request: ``messages_request_to_chat`` and its helpers.

The table and its notes are in the package's docstring.
"""

from __future__ import annotations

from typing import Any

from router.dialects.translate.anthropic.blocks import assistant_to_chat
from router.dialects.translate.anthropic.common import SERVER_BLOCK_TYPES, text_of
from router.dialects.translate.targets import OPENAI_IDENTIFIER_LIMIT, fit_identifier
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_int, as_list

LOW_BUDGET_LIMIT = 2048


MEDIUM_BUDGET_LIMIT = 16384


TOOL_ERROR_PREFIX = "Error: "


def messages_request_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages request as the chat request an OpenAI-style upstream understands."""
    chat: dict[str, Any] = {"model": body.get("model")}
    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for i, message in enumerate(as_list(body.get("messages"))):
        messages.extend(_turn_to_chat(as_dict(message), f"messages[{i}]"))
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
    effort = _thinking_to_effort(body.get("thinking"), as_dict(body.get("output_config")))
    if effort is not None:
        chat["reasoning_effort"] = effort
    schema_format = as_dict(as_dict(body.get("output_config")).get("format")) or as_dict(
        body.get("output_format")
    )
    if schema_format.get("type") == "json_schema":
        chat["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema_format.get("schema", {}), "strict": True},
        }
    user_id = as_dict(body.get("metadata")).get("user_id")
    if isinstance(user_id, str) and user_id:
        chat["user"] = fit_identifier(user_id, OPENAI_IDENTIFIER_LIMIT)
    if "stream" in body:
        chat["stream"] = body["stream"]
        if body["stream"] is True:
            chat["stream_options"] = {"include_usage": True}
    return chat


def _system_text(system: Any) -> str:
    """``system`` as one string: text blocks joined by a blank line (their cache hints dropped)."""
    if isinstance(system, str):
        return system
    texts = [
        str(b.get("text", "")) for b in as_list(system) if isinstance(b, dict) and b.get("type") == "text"
    ]
    return "\n\n".join(text for text in texts if text)


def _turn_to_chat(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """One Messages turn as chat messages: an assistant turn is one message; a user turn's
    tool results become ``tool`` messages first (chat wants them right after the calls), then
    its other blocks one user message."""
    role = message.get("role")
    content = message.get("content")
    if role == "assistant":
        return [assistant_to_chat(content, where)]
    if role == "system":
        return [{"role": "system", "content": _system_message_text(content, where)}]
    if role != "user":
        raise InvalidRequest(f"{where}.role must be 'user', 'assistant' or 'system'", param=f"{where}.role")
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    chat_messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(as_list(content)):
        block = as_dict(block)
        if block.get("type") == "tool_result":
            tool_message, images = _tool_result_to_chat(block, f"{where}.content[{j}]")
            chat_messages.append(tool_message)
            parts.extend(images)
        elif block.get("type") not in SERVER_BLOCK_TYPES:
            parts.append(_user_block_to_part(block, f"{where}.content[{j}]"))
    if parts:
        chat_messages.append({"role": "user", "content": parts})
    return chat_messages


def _system_message_text(content: Any, where: str) -> str:
    """A system message's content as chat's system text: its text blocks joined like the
    ``system`` field's; a chat system message holds nothing else."""
    for j, block in enumerate(as_list(content)):
        if as_dict(block).get("type") != "text":
            raise InvalidRequest(
                f"{where}.content[{j}]: a system message can hold only text blocks towards this deployment",
                param=f"{where}.content[{j}].type",
            )
    return _system_text(content)


def _user_block_to_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    """A user content block as a chat content part."""
    kind = block.get("type")
    if kind == "text":
        return {"type": "text", "text": str(block.get("text", ""))}
    if kind == "search_result":
        return {"type": "text", "text": _search_result_text(block)}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _source_url(as_dict(block.get("source")), where)}}
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
    source = as_dict(block.get("source"))
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


def _search_result_text(block: dict[str, Any]) -> str:
    """A search result as text: its title and source, a line each, then its text blocks (its
    citation settings have no counterpart)."""
    head = [str(block[name]) for name in ("title", "source") if isinstance(block.get(name), str)]
    return "\n".join(head) + "\n\n" + text_of(block.get("content"))


def _tool_result_text(content: Any) -> str:
    """A tool result's text: its text blocks joined, and any search results among them set
    apart by a blank line."""
    blocks = [as_dict(b) for b in as_list(content)]
    if not any(b.get("type") == "search_result" for b in blocks):
        return text_of(content)
    pieces = (
        _search_result_text(b) if b.get("type") == "search_result" else str(b.get("text", ""))
        for b in blocks
        if b.get("type") in ("text", "search_result")
    )
    return "\n\n".join(pieces)


def _tool_result_to_chat(block: dict[str, Any], where: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A tool result as a ``tool`` message, and its images (chat tool messages hold text only;
    they go to the user message that follows)."""
    content = block.get("content")
    text = _tool_result_text(content)
    images = [
        {
            "type": "image_url",
            "image_url": {"url": _source_url(as_dict(b.get("source")), f"{where}.content[{k}]")},
        }
        for k, b in enumerate(as_list(content))
        if isinstance(b, dict) and b.get("type") == "image"
    ]
    if block.get("is_error") is True:
        text = TOOL_ERROR_PREFIX + text
    message = {"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text}
    return message, images


def _tools_to_chat(body: dict[str, Any], chat: dict[str, Any]) -> None:
    """Custom tools as function tools; server tools (Anthropic runs them) have no chat
    counterpart and are dropped, and a choice that forced one falls back to auto."""
    tools: list[dict[str, Any]] = []
    for tool in as_list(body.get("tools")):
        tool = as_dict(tool)
        if tool.get("type") not in (None, "custom"):
            continue
        function: dict[str, Any] = {"name": tool.get("name"), "parameters": tool.get("input_schema", {})}
        if isinstance(tool.get("description"), str):
            function["description"] = tool["description"]
        tools.append({"type": "function", "function": function})
    if not tools:
        return
    chat["tools"] = tools
    choice = as_dict(body.get("tool_choice"))
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
    thinking = as_dict(thinking)
    kind = thinking.get("type")
    if kind == "enabled":
        budget = as_int(thinking.get("budget_tokens"))
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
