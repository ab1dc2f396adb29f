"""A chat request as a Responses request: ``chat_request_to_responses`` and its helpers.

The table and its notes are in the package's docstring.
"""

from __future__ import annotations

from typing import Any

from router.dialects.translate.responses.common import chat_text
from router.dialects.translate.targets import OPENAI_IDENTIFIER_LIMIT, fit_identifier
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_list, as_str, is_number


def chat_request_to_responses(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request as a Responses request (see the package's table)."""
    _refuse_chat_only(body)
    request: dict[str, Any] = {"model": body.get("model"), "input": [], "store": False}
    for i, message in enumerate(as_list(body.get("messages"))):
        request["input"].extend(_message_to_items(as_dict(message), f"messages[{i}]"))
    tools: list[dict[str, Any]] = []
    for i, tool in enumerate(as_list(body.get("tools"))):
        tools.append(_tool_to_responses(as_dict(tool), f"tools[{i}]"))
    if tools:
        request["tools"] = tools
    choice = _tool_choice_to_responses(body.get("tool_choice"))
    if choice is not None:
        request["tool_choice"] = choice
    if isinstance(body.get("parallel_tool_calls"), bool):
        request["parallel_tool_calls"] = body["parallel_tool_calls"]
    for name in ("max_completion_tokens", "max_tokens"):
        if is_number(body.get(name)):
            request["max_output_tokens"] = body[name]
            break
    for name in ("temperature", "top_p"):
        if is_number(body.get(name)):
            request[name] = body[name]
    if isinstance(body.get("reasoning_effort"), str):
        request["reasoning"] = {"effort": body["reasoning_effort"]}
    fmt = _response_format_to_text(body.get("response_format"))
    if fmt is not None:
        request["text"] = {"format": fmt}
    for name in ("user", "safety_identifier"):
        if isinstance(body.get(name), str):
            request[name] = fit_identifier(body[name], OPENAI_IDENTIFIER_LIMIT)
    for name in ("prompt_cache_key", "service_tier"):
        if isinstance(body.get(name), str):
            request[name] = body[name]
    if body.get("stream") is not None:
        request["stream"] = body["stream"]
    return request


def _refuse_chat_only(body: dict[str, Any]) -> None:
    """Refuse what the client expects and Responses cannot give (notes 16, 17)."""
    n = body.get("n")
    if is_number(n) and n != 1:
        raise InvalidRequest("n other than 1 is not supported by this deployment", param="n")
    if body.get("logprobs") is True:
        raise InvalidRequest("logprobs are not supported by this deployment", param="logprobs")
    if body.get("stop") not in (None, [], ""):
        raise InvalidRequest("stop sequences are not supported by this deployment", param="stop")
    if body.get("logit_bias"):
        raise InvalidRequest("logit_bias is not supported by this deployment", param="logit_bias")
    if body.get("audio") or "audio" in as_list(body.get("modalities")):
        raise InvalidRequest("audio output is not supported by this deployment", param="audio")
    if body.get("functions") or body.get("function_call"):
        raise InvalidRequest("legacy functions are not supported: use tools", param="functions")


def _message_to_items(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """One chat message as input items: the assistant's calls follow its text."""
    role = message.get("role")
    content = message.get("content")
    if role in ("system", "developer", "user"):
        return [{"type": "message", "role": role, "content": _content_to_responses(content, where)}]
    if role == "assistant":
        items: list[dict[str, Any]] = []
        text = chat_text(content) + as_str(message.get("refusal"))
        if text:
            items.append({"type": "message", "role": "assistant", "content": text})
        for j, call in enumerate(as_list(message.get("tool_calls"))):
            call = as_dict(call)
            if call.get("type", "function") != "function":
                raise InvalidRequest(
                    "only function tool calls are supported", param=f"{where}.tool_calls[{j}]"
                )
            function = as_dict(call.get("function"))
            items.append(
                {
                    "type": "function_call",
                    "call_id": as_str(call.get("id")),
                    "name": as_str(function.get("name")),
                    "arguments": as_str(function.get("arguments")),
                }
            )
        return items
    if role == "tool":
        return [
            {
                "type": "function_call_output",
                "call_id": as_str(message.get("tool_call_id")),
                "output": chat_text(content),
            }
        ]
    raise InvalidRequest(f"unsupported message role {role!r}", param=f"{where}.role")


def _content_to_responses(content: Any, where: str) -> str | list[dict[str, Any]]:
    """Chat content as an input message's content: a string stays a string."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(as_list(content)):
        part = as_dict(part)
        if part.get("type") == "text":
            parts.append({"type": "input_text", "text": as_str(part.get("text"))})
        elif part.get("type") == "image_url":
            image = as_dict(part.get("image_url"))
            detail = image.get("detail") if image.get("detail") in ("low", "high", "auto") else "auto"
            parts.append({"type": "input_image", "image_url": as_str(image.get("url")), "detail": detail})
        else:
            raise InvalidRequest(
                f"content part {part.get('type')!r} is not supported by this deployment",
                param=f"{where}.content[{j}]",
            )
    return parts


def _tool_to_responses(tool: dict[str, Any], where: str) -> dict[str, Any]:
    """Chat's nested function tool as Responses' flat one."""
    if tool.get("type") != "function":
        raise InvalidRequest("only function tools are supported by this deployment", param=where)
    function = as_dict(tool.get("function"))
    flat: dict[str, Any] = {"type": "function", "name": as_str(function.get("name"))}
    if isinstance(function.get("description"), str):
        flat["description"] = function["description"]
    parameters = function.get("parameters")
    flat["parameters"] = parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}}
    flat["strict"] = function.get("strict") is True
    return flat


def _tool_choice_to_responses(choice: Any) -> Any:
    """Chat's tool choice in Responses' flat shape; None leaves Responses' default."""
    if choice in ("auto", "none", "required"):
        return choice
    choice = as_dict(choice)
    if choice.get("type") == "function":
        return {"type": "function", "name": as_str(as_dict(choice.get("function")).get("name"))}
    if choice.get("type") == "allowed_tools":
        allowed = as_dict(choice.get("allowed_tools"))
        tools = [
            {"type": "function", "name": as_str(as_dict(as_dict(tool).get("function")).get("name"))}
            for tool in as_list(allowed.get("tools"))
        ]
        mode = allowed.get("mode") if allowed.get("mode") in ("auto", "required") else "auto"
        return {"type": "allowed_tools", "mode": mode, "tools": tools}
    return None


def _response_format_to_text(fmt: Any) -> dict[str, Any] | None:
    """Chat's ``response_format`` as ``text.format`` (the schema's fields come up a level)."""
    fmt = as_dict(fmt)
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = as_dict(fmt.get("json_schema"))
        out: dict[str, Any] = {"type": "json_schema", "name": as_str(schema.get("name")) or "response"}
        for key in ("schema", "strict", "description"):
            if schema.get(key) is not None:
                out[key] = schema[key]
        out.setdefault("schema", {})
        return out
    return None
