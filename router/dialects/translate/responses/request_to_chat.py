"""A Responses request as a chat request: ``responses_request_to_chat`` and its helpers.

The table and its notes are in the package's docstring.
"""

from __future__ import annotations

from typing import Any

from router.dialects.translate.responses.common import reasoning_texts
from router.dialects.translate.targets import OPENAI_IDENTIFIER_LIMIT, fit_identifier
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_list, as_str, is_number

_EFFORT_TO_CHAT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "high"}


def responses_request_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses request as a chat request (see the package's table)."""
    _refuse_state(body)
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif isinstance(instructions, list):  # the item form a Response echoes
        messages.extend(_input_to_messages(instructions))
    messages.extend(_input_to_messages(body.get("input")))
    if not messages:
        raise InvalidRequest(
            "input: nothing to send to this model: a chat model needs at least one message, and neither "
            "input nor instructions hold one",
            param="input",
        )
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    tools = [_tool_to_chat(tool) for tool in as_list(body.get("tools")) if _is_function_tool(tool)]
    if tools:
        chat["tools"] = tools
        names = {tool["function"]["name"] for tool in tools}
        choice = _tool_choice_to_chat(body.get("tool_choice"), names)
        if choice is not None:
            chat["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    if is_number(body.get("max_output_tokens")):
        chat["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p"):
        if is_number(body.get(name)):
            chat[name] = body[name]
    effort = _EFFORT_TO_CHAT.get(as_str(as_dict(body.get("reasoning")).get("effort")))
    if effort is not None:
        chat["reasoning_effort"] = effort
    response_format = _text_format_to_chat(as_dict(body.get("text")).get("format"))
    if response_format is not None:
        chat["response_format"] = response_format
    user = body.get("safety_identifier") or body.get("user")
    if isinstance(user, str) and user:
        chat["user"] = fit_identifier(user, OPENAI_IDENTIFIER_LIMIT)
    if body.get("stream") is not None:
        chat["stream"] = body.get("stream")
        if body.get("stream") is True:
            chat["stream_options"] = {"include_usage": True}
    return chat


def _refuse_state(body: dict[str, Any]) -> None:
    """Refuse what needs state kept by OpenAI: the gateway forwards each request whole."""
    if body.get("previous_response_id"):
        raise InvalidRequest(
            "previous_response_id is not supported: the gateway is stateless; "
            "send the whole conversation in `input`",
            param="previous_response_id",
        )
    if body.get("conversation"):
        raise InvalidRequest(
            "conversation is not supported: the gateway is stateless; send the whole conversation in `input`",
            param="conversation",
        )
    if body.get("prompt"):
        raise InvalidRequest("stored prompt templates (`prompt`) are not supported", param="prompt")
    if body.get("background") is True:
        raise InvalidRequest("background responses are not supported by this deployment", param="background")


def _input_to_messages(input_: Any) -> list[dict[str, Any]]:
    """Input items as chat messages: calls merge into the assistant message before them, and a
    reasoning item waits for the assistant message that follows it."""
    if input_ is None:
        return []
    if isinstance(input_, str):
        return [{"role": "user", "content": input_}]
    if not isinstance(input_, list):
        raise InvalidRequest("input must be a string or a list of items", param="input")
    messages: list[dict[str, Any]] = []
    reasoning: list[str] = []
    for i, item in enumerate(input_):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise InvalidRequest("an input item must be an object", param=where)
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            message = _message_item_to_chat(item, where)
            if message["role"] == "assistant":
                _attach_reasoning(message, reasoning)
            elif message["role"] == "user":
                reasoning.clear()
            messages.append(message)
        elif kind == "function_call":
            call = {
                "id": as_str(item.get("call_id")) or as_str(item.get("id")),
                "type": "function",
                "function": {"name": as_str(item.get("name")), "arguments": as_str(item.get("arguments"))},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and not reasoning:
                last.setdefault("tool_calls", []).append(call)
            else:
                message = {"role": "assistant", "content": None, "tool_calls": [call]}
                _attach_reasoning(message, reasoning)
                messages.append(message)
        elif kind == "function_call_output":
            content = _tool_output_to_chat(item.get("output"), f"{where}.output")
            messages.append({"role": "tool", "tool_call_id": as_str(item.get("call_id")), "content": content})
        elif kind == "reasoning":
            reasoning.extend(reasoning_texts(item))
        elif kind == "item_reference":
            raise InvalidRequest(
                "item_reference is not supported: the gateway is stateless; send the items themselves",
                param=where,
            )
        # built-in tool items and unknown types: dropped (note 10)
    return messages


def _attach_reasoning(message: dict[str, Any], reasoning: list[str]) -> None:
    """Give an assistant message the reasoning items that preceded it, and forget them."""
    if reasoning:
        message["reasoning_content"] = "\n\n".join(reasoning)
        reasoning.clear()


def _message_item_to_chat(item: dict[str, Any], where: str) -> dict[str, Any]:
    """A message item as a chat message; developer becomes system (note 3)."""
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise InvalidRequest(f"unsupported message role {role!r}", param=f"{where}.role")
    chat_role = "system" if role == "developer" else role
    content = item.get("content")
    if isinstance(content, str):
        return {"role": chat_role, "content": content}
    parts: list[dict[str, Any]] = []
    refusals: list[str] = []
    for j, part in enumerate(as_list(content)):
        converted = _part_to_chat(as_dict(part), f"{where}.content[{j}]")
        if converted.get("type") == "refusal":
            refusals.append(as_str(converted.get("refusal")))
        else:
            parts.append(converted)
    message: dict[str, Any] = {"role": chat_role}
    all_text = all(part["type"] == "text" for part in parts)
    if chat_role == "assistant":
        message["content"] = "".join(part["text"] for part in parts if part["type"] == "text")
    elif all_text and (len(parts) <= 1 or chat_role == "system"):
        message["content"] = "\n\n".join(part["text"] for part in parts if part["type"] == "text")
    else:
        message["content"] = parts
    if refusals:
        message["refusal"] = "".join(refusals)
    return message


def _part_to_chat(part: dict[str, Any], where: str) -> dict[str, Any]:
    """One content part as a chat part; refusal parts are returned as is for the caller."""
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": as_str(part.get("text"))}
    if kind == "refusal":
        return {"type": "refusal", "refusal": as_str(part.get("refusal"))}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise InvalidRequest(
                "input_image by file_id is not supported by this deployment: send image_url",
                param=f"{where}.file_id",
            )
        image: dict[str, Any] = {"url": url}
        if part.get("detail") in ("low", "high", "auto"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    raise InvalidRequest(f"content part {kind!r} is not supported by this deployment", param=where)


def _tool_output_to_chat(output: Any, where: str) -> str:
    """A function call's output as a tool message's text (chat tool messages hold text)."""
    if isinstance(output, str):
        return output
    texts: list[str] = []
    for j, part in enumerate(as_list(output)):
        part = as_dict(part)
        if part.get("type") not in ("input_text", "output_text", "text"):
            raise InvalidRequest(
                f"function_call_output part {part.get('type')!r} is not supported: tool results hold text",
                param=f"{where}[{j}]",
            )
        texts.append(as_str(part.get("text")))
    return "".join(texts)


def _is_function_tool(tool: Any) -> bool:
    return isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("name"), str)


def _tool_to_chat(tool: dict[str, Any]) -> dict[str, Any]:
    """A flat Responses function tool as chat's nested one."""
    function: dict[str, Any] = {"name": tool["name"]}
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    parameters = tool.get("parameters")
    function["parameters"] = (
        parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}}
    )
    if isinstance(tool.get("strict"), bool):
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tool_choice_to_chat(choice: Any, names: set[str]) -> Any:
    """Responses' tool choice for chat; None (the default) when it names a dropped tool."""
    if choice in ("auto", "none", "required"):
        return choice
    choice = as_dict(choice)
    if choice.get("type") == "function" and choice.get("name") in names:
        return {"type": "function", "function": {"name": choice["name"]}}
    if choice.get("type") == "allowed_tools":
        allowed = [
            {"type": "function", "function": {"name": tool["name"]}}
            for tool in as_list(choice.get("tools"))
            if _is_function_tool(tool) and tool["name"] in names
        ]
        if allowed:
            mode = choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
            return {"type": "allowed_tools", "allowed_tools": {"mode": mode, "tools": allowed}}
    return None


def _text_format_to_chat(fmt: Any) -> dict[str, Any] | None:
    """``text.format`` as chat's ``response_format``; plain text is chat's default."""
    fmt = as_dict(fmt)
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema: dict[str, Any] = {"name": as_str(fmt.get("name")) or "response"}
        for key in ("schema", "strict", "description"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        return {"type": "json_schema", "json_schema": schema}
    return None
