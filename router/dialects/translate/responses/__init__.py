"""Translation between OpenAI Responses (``/v1/responses``) and OpenAI Chat Completions, the pivot.

Requests (``responses_request_to_chat`` ->, ``chat_request_to_responses`` <-). Way: ``<->`` both,
``->``/``<-`` one way only, ``~`` approximated, ``drop`` dropped, ``400`` refused (InvalidRequest).

| Responses                                   | chat                                        | way  | note |
|---------------------------------------------|---------------------------------------------|------|------|
| `instructions`                              | first `system` message                      | ->   | 1    |
| `input` string                              | one `user` message                          | ->   |      |
| `message` item, role user / assistant       | `user` / `assistant` message                | <->  | 2    |
| `message` item, role system / developer     | `system` (->); `system` / `developer` (<-)  | <-> ~| 3    |
| `input_text` / `output_text` parts          | `text` parts (or string content)            | <->  | 2    |
| `refusal` part (assistant history)          | `refusal`                                   | -> ~ | 4    |
| `input_image` with `image_url`              | `image_url` part (`detail` kept)            | <->  |      |
| `input_image` with `file_id`, `input_file`  | -                                           | 400  | 5    |
| `function_call` items                       | assistant `tool_calls` (consecutive merged) | <->  | 6    |
| `function_call_output` item                 | `role: tool` message                        | <->  | 7    |
| `reasoning` item (summary / reasoning text) | next assistant's `reasoning_content`        | -> ~ | 8    |
| `item_reference`                            | -                                           | 400  | 9    |
| built-in tool call items and their outputs  | -                                           | drop | 10   |
| `tools` of type `function` (flat)           | function `tools` (nested)                   | <->  |      |
| built-in / `custom` tools                   | -                                           | drop | 11   |
| `tool_choice` auto/none/required/function   | same                                        | <->  | 11   |
| `tool_choice` `allowed_tools`               | `allowed_tools`                             | <->  |      |
| `parallel_tool_calls`                       | `parallel_tool_calls`                       | <->  |      |
| `max_output_tokens`                         | `max_tokens` / `max_completion_tokens`      | <->  |      |
| `temperature`, `top_p`                      | `temperature`, `top_p`                      | <->  |      |
| `reasoning.effort`                          | `reasoning_effort`                          | <-> ~| 12   |
| `reasoning.summary`, `text.verbosity`       | -                                           | drop |      |
| `text.format` json_schema / json_object     | `response_format`                           | <->  |      |
| `safety_identifier` / `user`                | `user`                                      | <->  |      |
| `stream`                                    | `stream` + `stream_options.include_usage`   | <->  |      |
| `previous_response_id`, `conversation`      | -                                           | 400  | 13   |
| `prompt` (stored prompt template)           | -                                           | 400  | 13   |
| `background: true`                          | -                                           | 400  | 13   |
| `store`                                     | `store: false` always towards Responses     | drop | 14   |
| `include`, `prompt_cache_key`, `metadata`   | -                                           | drop | 15   |
| `client_metadata`, `truncation`, ...        | -                                           | drop | 15   |
| -                                           | `n` > 1, `logprobs`, non-empty `stop`       | 400  | 16   |
| -                                           | `logit_bias`, `audio`, non-function tools   | 400  | 17   |
| -                                           | role `function`, `functions`                | 400  | 17   |
| -                                           | penalties, `seed`, `metadata`, ...          | drop | 18   |

1. Towards Responses the chat system messages stay input items (see 3), never `instructions`.
2. A message whose parts are all text has string content; a user message keeps its parts.
   Assistant text parts are joined with nothing between them (as the SDK's ``output_text``).
3. Responses -> chat: `developer` becomes `system` (chat servers other than OpenAI know only
   `system`), in place. Chat -> Responses: system and developer messages become input items
   with their own role and position: `instructions` holds one text and only at the top.
4. Towards Responses an assistant `refusal` is sent as its text (input messages have no
   refusal part).
5. A chat server cannot fetch an OpenAI file; `input_audio` and other parts are refused too.
6. A `function_call` right after an assistant message (or another call) joins its
   `tool_calls`: parallel calls are one chat message. `call_id` <-> tool call `id`.
7. `output` as a list keeps its text parts (joined); other parts are refused (chat tool
   messages carry text only).
8. Summary texts and reasoning texts joined by a blank line; `encrypted_content` dropped.
   Attached to the next assistant message (reasoning that no assistant message follows is
   dropped). Towards Responses, `reasoning_content` and `thinking_blocks` are dropped:
   Responses only accepts its own reasoning items (stored, or with `encrypted_content`).
9. It names an item stored by OpenAI; the gateway is stateless and cannot resolve it.
10. `web_search_call`, `local_shell_call(_output)`, `custom_tool_call(_output)`,
    `computer_call(_output)`, `mcp_*`, ... and unknown item types: a chat model cannot have
    made them, they come from a Responses upstream earlier in the conversation.
11. Codex also sends `local_shell`, `web_search` and `custom` (grammar) tools: a chat upstream
    cannot run them. A tool choice naming a dropped tool falls back to the default; with no
    tool left, `tool_choice` and `parallel_tool_calls` are dropped too (chat servers refuse
    them without tools). Chat non-function tools are refused.
12. `minimal` -> `low`, `xhigh` -> `high`, `none` -> no `reasoning_effort`: the pivot uses the
    levels every reasoning chat server knows (low, medium, high).
13. State kept by OpenAI: the gateway is stateless; the client must send the whole input.
14. The endpoint layer decides about storage; translated Responses requests never ask for it.
15. Also `service_tier` (chat servers other than OpenAI refuse unknown tiers), `top_logprobs`,
    `max_tool_calls` (built-in tools only), `user` when `safety_identifier` is there: hints and
    bookkeeping. Logprobs come back only when `include` asks for them; they are not carried.
16. Responses has no n, and no stop sequences: dropping a stop would change the answer.
    Logprobs would need `include` and a logprobs translation of the answer (not done).
17. Constraints the model must follow that Responses cannot express.
18. Also `prediction`, `web_search_options`, `stream_options`, `store`: sampling hints
    with no Responses counterpart. `prompt_cache_key`, `safety_identifier`,
    `service_tier` cross unchanged.

Answers (``responses_answer_to_chat``, ``chat_answer_to_responses``) and streams
(``ResponsesEventsToChat``, ``ChatEventsToResponses``):

| Responses                                   | chat                                        | way  | note |
|---------------------------------------------|---------------------------------------------|------|------|
| `id` `resp_X`                               | `chatcmpl-X`                                | <->  |      |
| `message` items' `output_text` parts        | `content` (joined; None when none)          | <->  |      |
| `refusal` parts                             | `refusal`                                   | <->  |      |
| `function_call` items (`fc_X_i`)            | `tool_calls` (`id` = `call_id`)             | <->  |      |
| `reasoning` item summary (`rs_X`)           | `reasoning_content`                         | <->  | 8    |
| built-in tool call items                    | -                                           | drop |      |
| `status` completed                          | `finish_reason` stop / tool_calls           | <->  |      |
| `status` incomplete, max_output_tokens      | `finish_reason` length                      | <->  |      |
| `status` incomplete, content_filter         | `finish_reason` content_filter              | <->  |      |
| `status` failed, stream `error`             | UpstreamError / chat error event            | ->   |      |
| `usage` input / output / total tokens       | prompt / completion / total tokens          | <->  |      |
| `input_tokens_details.cached_tokens`        | `prompt_tokens_details.cached_tokens`       | <->  |      |
| `input_tokens_details.cache_write_tokens`   | `cache_creation_input_tokens`               | <->  |      |
| `output_tokens_details.reasoning_tokens`    | `completion_tokens_details.reasoning_tokens`| <->  |      |
| request echoes (`tools`, `tool_choice`, ...)| -                                           | ~    | 19   |
| annotations, logprobs                       | -                                           | drop |      |

19. The answer translators see only the answer: a Response built from chat echoes defaults
    (`tools: []`, `tool_choice: auto`, `parallel_tool_calls: true`, no instructions).

A chat stream becomes the full typed Responses grammar (``response.created``,
``response.in_progress``, per item ``output_item.added`` ... ``output_item.done``, and
``response.completed`` / ``response.incomplete`` at ``[DONE]``, after chat's usage chunk),
every event with a ``sequence_number`` from 0. Parallel tool calls whose deltas interleave stay
separate items, closed in order at the end. A chat stream without a usage chunk ends with zero
usage (Codex reads it from ``response.completed``). Reasoning streams as one summary part per
reasoning item. Codex 0.169 knows ``response.completed`` only: a cut answer
(``response.incomplete``, as OpenAI itself sends it) ends its turn with an error.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from router.dialects.translate.events import DONE, data_event, named_event, read_event
from router.errors import InvalidRequest, UpstreamError

_EFFORT_TO_CHAT = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "high"}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Requests: Responses -> chat


def responses_request_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses request as a chat request (see the module's table)."""
    _refuse_state(body)
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    elif isinstance(instructions, list):  # the item form a Response echoes
        messages.extend(_input_to_messages(instructions))
    messages.extend(_input_to_messages(body.get("input")))
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    tools = [_tool_to_chat(tool) for tool in _list(body.get("tools")) if _is_function_tool(tool)]
    if tools:
        chat["tools"] = tools
        names = {tool["function"]["name"] for tool in tools}
        choice = _tool_choice_to_chat(body.get("tool_choice"), names)
        if choice is not None:
            chat["tool_choice"] = choice
        if isinstance(body.get("parallel_tool_calls"), bool):
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    if _number(body.get("max_output_tokens")):
        chat["max_tokens"] = body["max_output_tokens"]
    for name in ("temperature", "top_p"):
        if _number(body.get(name)):
            chat[name] = body[name]
    effort = _EFFORT_TO_CHAT.get(_str(_dict(body.get("reasoning")).get("effort")))
    if effort is not None:
        chat["reasoning_effort"] = effort
    response_format = _text_format_to_chat(_dict(body.get("text")).get("format"))
    if response_format is not None:
        chat["response_format"] = response_format
    user = body.get("safety_identifier") or body.get("user")
    if isinstance(user, str) and user:
        chat["user"] = user
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
                "id": _str(item.get("call_id")) or _str(item.get("id")),
                "type": "function",
                "function": {"name": _str(item.get("name")), "arguments": _str(item.get("arguments"))},
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
            messages.append({"role": "tool", "tool_call_id": _str(item.get("call_id")), "content": content})
        elif kind == "reasoning":
            reasoning.extend(_reasoning_texts(item))
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


def _reasoning_texts(item: dict[str, Any]) -> list[str]:
    """A reasoning item's texts: its summary, then its full reasoning text when present."""
    texts = [_str(_dict(part).get("text")) for part in _list(item.get("summary"))]
    texts += [_str(_dict(part).get("text")) for part in _list(item.get("content"))]
    return [text for text in texts if text]


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
    for j, part in enumerate(_list(content)):
        converted = _part_to_chat(_dict(part), f"{where}.content[{j}]")
        if converted.get("type") == "refusal":
            refusals.append(_str(converted.get("refusal")))
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
        return {"type": "text", "text": _str(part.get("text"))}
    if kind == "refusal":
        return {"type": "refusal", "refusal": _str(part.get("refusal"))}
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
    for j, part in enumerate(_list(output)):
        part = _dict(part)
        if part.get("type") not in ("input_text", "output_text", "text"):
            raise InvalidRequest(
                f"function_call_output part {part.get('type')!r} is not supported: tool results hold text",
                param=f"{where}[{j}]",
            )
        texts.append(_str(part.get("text")))
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
    choice = _dict(choice)
    if choice.get("type") == "function" and choice.get("name") in names:
        return {"type": "function", "function": {"name": choice["name"]}}
    if choice.get("type") == "allowed_tools":
        allowed = [
            {"type": "function", "function": {"name": tool["name"]}}
            for tool in _list(choice.get("tools"))
            if _is_function_tool(tool) and tool["name"] in names
        ]
        if allowed:
            mode = choice.get("mode") if choice.get("mode") in ("auto", "required") else "auto"
            return {"type": "allowed_tools", "allowed_tools": {"mode": mode, "tools": allowed}}
    return None


def _text_format_to_chat(fmt: Any) -> dict[str, Any] | None:
    """``text.format`` as chat's ``response_format``; plain text is chat's default."""
    fmt = _dict(fmt)
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema: dict[str, Any] = {"name": _str(fmt.get("name")) or "response"}
        for key in ("schema", "strict", "description"):
            if fmt.get(key) is not None:
                schema[key] = fmt[key]
        return {"type": "json_schema", "json_schema": schema}
    return None


# ---------------------------------------------------------------------------------------------
# Requests: chat -> Responses


def chat_request_to_responses(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request as a Responses request (see the module's table)."""
    _refuse_chat_only(body)
    request: dict[str, Any] = {"model": body.get("model"), "input": [], "store": False}
    for i, message in enumerate(_list(body.get("messages"))):
        request["input"].extend(_message_to_items(_dict(message), f"messages[{i}]"))
    tools: list[dict[str, Any]] = []
    for i, tool in enumerate(_list(body.get("tools"))):
        tools.append(_tool_to_responses(_dict(tool), f"tools[{i}]"))
    if tools:
        request["tools"] = tools
    choice = _tool_choice_to_responses(body.get("tool_choice"))
    if choice is not None:
        request["tool_choice"] = choice
    if isinstance(body.get("parallel_tool_calls"), bool):
        request["parallel_tool_calls"] = body["parallel_tool_calls"]
    for name in ("max_completion_tokens", "max_tokens"):
        if _number(body.get(name)):
            request["max_output_tokens"] = body[name]
            break
    for name in ("temperature", "top_p"):
        if _number(body.get(name)):
            request[name] = body[name]
    if isinstance(body.get("reasoning_effort"), str):
        request["reasoning"] = {"effort": body["reasoning_effort"]}
    fmt = _response_format_to_text(body.get("response_format"))
    if fmt is not None:
        request["text"] = {"format": fmt}
    for name in ("user", "safety_identifier", "prompt_cache_key", "service_tier"):
        if isinstance(body.get(name), str):
            request[name] = body[name]
    if body.get("stream") is not None:
        request["stream"] = body["stream"]
    return request


def _refuse_chat_only(body: dict[str, Any]) -> None:
    """Refuse what the client expects and Responses cannot give (notes 16, 17)."""
    n = body.get("n")
    if _number(n) and n != 1:
        raise InvalidRequest("n other than 1 is not supported by this deployment", param="n")
    if body.get("logprobs") is True:
        raise InvalidRequest("logprobs are not supported by this deployment", param="logprobs")
    if body.get("stop") not in (None, [], ""):
        raise InvalidRequest("stop sequences are not supported by this deployment", param="stop")
    if body.get("logit_bias"):
        raise InvalidRequest("logit_bias is not supported by this deployment", param="logit_bias")
    if body.get("audio") or "audio" in _list(body.get("modalities")):
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
        text = _chat_text(content) + _str(message.get("refusal"))
        if text:
            items.append({"type": "message", "role": "assistant", "content": text})
        for j, call in enumerate(_list(message.get("tool_calls"))):
            call = _dict(call)
            if call.get("type", "function") != "function":
                raise InvalidRequest(
                    "only function tool calls are supported", param=f"{where}.tool_calls[{j}]"
                )
            function = _dict(call.get("function"))
            items.append(
                {
                    "type": "function_call",
                    "call_id": _str(call.get("id")),
                    "name": _str(function.get("name")),
                    "arguments": _str(function.get("arguments")),
                }
            )
        return items
    if role == "tool":
        return [
            {
                "type": "function_call_output",
                "call_id": _str(message.get("tool_call_id")),
                "output": _chat_text(content),
            }
        ]
    raise InvalidRequest(f"unsupported message role {role!r}", param=f"{where}.role")


def _chat_text(content: Any) -> str:
    """The text of chat content, a string or text parts (other parts ignored)."""
    if isinstance(content, str):
        return content
    return "".join(
        _str(_dict(part).get("text")) for part in _list(content) if _dict(part).get("type") == "text"
    )


def _content_to_responses(content: Any, where: str) -> str | list[dict[str, Any]]:
    """Chat content as an input message's content: a string stays a string."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(_list(content)):
        part = _dict(part)
        if part.get("type") == "text":
            parts.append({"type": "input_text", "text": _str(part.get("text"))})
        elif part.get("type") == "image_url":
            image = _dict(part.get("image_url"))
            detail = image.get("detail") if image.get("detail") in ("low", "high", "auto") else "auto"
            parts.append({"type": "input_image", "image_url": _str(image.get("url")), "detail": detail})
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
    function = _dict(tool.get("function"))
    flat: dict[str, Any] = {"type": "function", "name": _str(function.get("name"))}
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
    choice = _dict(choice)
    if choice.get("type") == "function":
        return {"type": "function", "name": _str(_dict(choice.get("function")).get("name"))}
    if choice.get("type") == "allowed_tools":
        allowed = _dict(choice.get("allowed_tools"))
        tools = [
            {"type": "function", "name": _str(_dict(_dict(tool).get("function")).get("name"))}
            for tool in _list(allowed.get("tools"))
        ]
        mode = allowed.get("mode") if allowed.get("mode") in ("auto", "required") else "auto"
        return {"type": "allowed_tools", "mode": mode, "tools": tools}
    return None


def _response_format_to_text(fmt: Any) -> dict[str, Any] | None:
    """Chat's ``response_format`` as ``text.format`` (the schema's fields come up a level)."""
    fmt = _dict(fmt)
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = _dict(fmt.get("json_schema"))
        out: dict[str, Any] = {"type": "json_schema", "name": _str(schema.get("name")) or "response"}
        for key in ("schema", "strict", "description"):
            if schema.get(key) is not None:
                out[key] = schema[key]
        out.setdefault("schema", {})
        return out
    return None


# ---------------------------------------------------------------------------------------------
# Usage and status, both ways


def _usage_to_chat(usage: Any) -> dict[str, Any] | None:
    """Responses usage as chat usage (input tokens already include cached ones in both)."""
    if not isinstance(usage, dict):
        return None
    prompt = _int(usage.get("input_tokens"))
    completion = _int(usage.get("output_tokens"))
    details = _dict(usage.get("input_tokens_details"))
    chat: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": _int(usage.get("total_tokens")) or prompt + completion,
        "prompt_tokens_details": {"cached_tokens": _int(details.get("cached_tokens"))},
        "completion_tokens_details": {
            "reasoning_tokens": _int(_dict(usage.get("output_tokens_details")).get("reasoning_tokens"))
        },
    }
    if _int(details.get("cache_write_tokens")):
        chat["cache_creation_input_tokens"] = details["cache_write_tokens"]
    return chat


def _usage_to_responses(usage: Any) -> dict[str, Any] | None:
    """Chat usage as Responses usage; the SDK requires every detail, so absent ones are 0."""
    if not isinstance(usage, dict):
        return None
    prompt = _int(usage.get("prompt_tokens"))
    completion = _int(usage.get("completion_tokens"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": _int(_dict(usage.get("prompt_tokens_details")).get("cached_tokens")),
            "cache_write_tokens": _int(usage.get("cache_creation_input_tokens")),
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": _int(_dict(usage.get("completion_tokens_details")).get("reasoning_tokens"))
        },
        "total_tokens": _int(usage.get("total_tokens")) or prompt + completion,
    }


def _finish_reason(response: dict[str, Any], has_calls: bool) -> str:
    """A Response's status as chat's finish reason."""
    if response.get("status") == "incomplete":
        reason = _dict(response.get("incomplete_details")).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if has_calls else "stop"


def _status(finish_reason: Any) -> tuple[str, dict[str, Any] | None]:
    """Chat's finish reason as a Response's status and incomplete details."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _base_id(chat_id: Any) -> str:
    """The part of a chat id that Responses item ids are derived from."""
    raw = _str(chat_id).removeprefix("chatcmpl-")
    base = re.sub(r"[^A-Za-z0-9_-]", "", raw)
    return base or uuid.uuid4().hex


def _response_object(
    *,
    base: str,
    created_at: Any,
    model: Any,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    incomplete_details: dict[str, Any] | None,
) -> dict[str, Any]:
    """A whole Response with every field the openai SDK requires; request echoes are defaults
    (note 19)."""
    created = created_at if _number(created_at) else int(time.time())
    return {
        "id": f"resp_{base}",
        "object": "response",
        "created_at": created,
        "status": status,
        "completed_at": created if status == "completed" else None,
        "background": False,
        "error": None,
        "incomplete_details": incomplete_details,
        "instructions": None,
        "max_output_tokens": None,
        "metadata": {},
        "model": _str(model),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": None,
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": usage,
    }


# ---------------------------------------------------------------------------------------------
# Answers


def responses_answer_to_chat(answer: dict[str, Any]) -> dict[str, Any]:
    """A Response as a chat.completion; a failed Response is an upstream error."""
    if answer.get("status") == "failed":
        error = _dict(answer.get("error"))
        raise UpstreamError(_str(error.get("message")) or "the upstream response failed")
    texts: list[str] = []
    refusals: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in _list(answer.get("output")):
        item = _dict(item)
        if item.get("type") == "message":
            for part in _list(item.get("content")):
                part = _dict(part)
                if part.get("type") == "output_text":
                    texts.append(_str(part.get("text")))
                elif part.get("type") == "refusal":
                    refusals.append(_str(part.get("refusal")))
        elif item.get("type") == "function_call":
            calls.append(_call_to_chat(item))
        elif item.get("type") == "reasoning":
            reasoning.extend(_reasoning_texts(item))
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not (calls or refusals) else None,
        "refusal": "".join(refusals) if refusals else None,
    }
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "\n\n".join(reasoning)
    chat: dict[str, Any] = {
        "id": "chatcmpl-" + _str(answer.get("id")).removeprefix("resp_"),
        "object": "chat.completion",
        "created": int(answer["created_at"]) if _number(answer.get("created_at")) else int(time.time()),
        "model": _str(answer.get("model")),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _finish_reason(answer, bool(calls)),
                "logprobs": None,
            }
        ],
    }
    usage = _usage_to_chat(answer.get("usage"))
    if usage is not None:
        chat["usage"] = usage
    return chat


def _call_to_chat(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _str(item.get("call_id")) or _str(item.get("id")),
        "type": "function",
        "function": {"name": _str(item.get("name")), "arguments": _str(item.get("arguments"))},
    }


def chat_answer_to_responses(answer: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion as a Response: reasoning, then the message, then the calls."""
    base = _base_id(answer.get("id"))
    choices = _list(answer.get("choices"))
    choice = _dict(choices[0]) if choices else {}
    message = _dict(choice.get("message"))
    status, incomplete = _status(choice.get("finish_reason"))
    output: list[dict[str, Any]] = []
    reasoning = _str(message.get("reasoning_content"))
    if reasoning:
        output.append(_reasoning_item(f"rs_{base}", reasoning))
    text = _chat_text(message.get("content"))
    refusal = _str(message.get("refusal"))
    if text or refusal:
        parts = ([_text_part(text)] if text else []) + ([_refusal_part(refusal)] if refusal else [])
        output.append(
            _message_item(f"msg_{base}", parts, "completed" if status == "completed" else "incomplete")
        )
    for i, call in enumerate(_list(message.get("tool_calls"))):
        function = _dict(_dict(call).get("function"))
        output.append(
            _call_item(
                f"fc_{base}_{i}",
                _str(_dict(call).get("id")),
                _str(function.get("name")),
                _str(function.get("arguments")),
                "completed",
            )
        )
    return _response_object(
        base=base,
        created_at=answer.get("created"),
        model=answer.get("model"),
        status=status,
        output=output,
        usage=_usage_to_responses(answer.get("usage")),
        incomplete_details=incomplete,
    )


def _reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": item_id, "summary": [{"type": "summary_text", "text": text}]}


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _refusal_part(refusal: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": refusal}


def _message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": parts}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def _chat_error(error: Any) -> bytes:
    """Chat's error event, from a Responses error (an ``error`` event or a failed Response's)."""
    error = _dict(error)
    return data_event(
        {
            "error": {
                "message": _str(error.get("message")) or "the upstream stream failed",
                "type": _str(error.get("type")) or "upstream_error",
                "code": error.get("code"),
                "param": error.get("param"),
            }
        }
    )


# ---------------------------------------------------------------------------------------------
# Streams: Responses -> chat


class ResponsesEventsToChat:
    """A Responses event stream as chat chunks, ending with the usage chunk and ``[DONE]``."""

    def __init__(self) -> None:
        self._id = "chatcmpl-" + uuid.uuid4().hex
        self._created = int(time.time())
        self._model = ""
        self._started = False
        self._ended = False
        self._tools: dict[int, int] = {}  # output_index -> chat tool call index
        self._arguments: dict[int, str] = {}  # chat tool call index -> arguments sent
        self._reasoning_part: tuple[str, str, int] | None = None  # the reasoning part last sent

    def feed(self, event: bytes) -> list[bytes]:
        """The chat chunks one Responses event becomes."""
        if self._ended:
            return []
        name, data = read_event(event)
        data = _dict(data)
        kind = _str(data.get("type")) or (name or "")
        if not kind:
            return []  # comments, pings
        if kind == "error":
            self._ended = True
            return [_chat_error({key: data.get(key) for key in ("message", "code", "param")})]
        if kind == "response.failed":
            self._ended = True
            return [_chat_error(_dict(data.get("response")).get("error"))]
        if kind == "response.created":
            self._learn(_dict(data.get("response")))
        out = self._start()
        if kind in ("response.completed", "response.incomplete"):
            self._ended = True
            return out + self._finish(_dict(data.get("response")))
        return out + self._delta(kind, data)

    def _learn(self, response: dict[str, Any]) -> None:
        if isinstance(response.get("id"), str):
            self._id = "chatcmpl-" + response["id"].removeprefix("resp_")
        if _number(response.get("created_at")):
            self._created = int(response["created_at"])
        self._model = _str(response.get("model"))

    def _start(self) -> list[bytes]:
        """The role chunk, once, before anything else."""
        if self._started:
            return []
        self._started = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def _delta(self, kind: str, data: dict[str, Any]) -> list[bytes]:
        if kind == "response.output_text.delta":
            return [self._chunk({"content": _str(data.get("delta"))})]
        if kind == "response.refusal.delta":
            return [self._chunk({"refusal": _str(data.get("delta"))})]
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return self._reasoning(kind, data)
        if kind == "response.output_item.added" and _dict(data.get("item")).get("type") == "function_call":
            return self._call_added(_int(data.get("output_index")), _dict(data.get("item")))
        if kind == "response.function_call_arguments.delta":
            return self._arguments_delta(_int(data.get("output_index")), _str(data.get("delta")))
        if kind == "response.function_call_arguments.done":
            return self._arguments_done(_int(data.get("output_index")), _str(data.get("arguments")))
        if kind == "response.output_item.done" and _dict(data.get("item")).get("type") == "function_call":
            return self._arguments_done(
                _int(data.get("output_index")), _str(_dict(data["item"]).get("arguments"))
            )
        return []

    def _reasoning(self, kind: str, data: dict[str, Any]) -> list[bytes]:
        """Reasoning pieces; a new part is set off by a blank line, as in the whole answer."""
        part = (_str(data.get("item_id")), kind, _int(data.get("summary_index", data.get("content_index"))))
        delta = _str(data.get("delta"))
        if self._reasoning_part is not None and self._reasoning_part != part:
            delta = "\n\n" + delta
        self._reasoning_part = part
        return [self._chunk({"reasoning_content": delta})]

    def _call_added(self, output_index: int, item: dict[str, Any]) -> list[bytes]:
        index = self._tools.setdefault(output_index, len(self._tools))
        arguments = _str(item.get("arguments"))
        self._arguments[index] = arguments
        call = {
            "index": index,
            "id": _str(item.get("call_id")) or _str(item.get("id")),
            "type": "function",
            "function": {"name": _str(item.get("name")), "arguments": arguments},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _arguments_delta(self, output_index: int, delta: str) -> list[bytes]:
        index = self._tools.get(output_index)
        if index is None or not delta:
            return []
        self._arguments[index] += delta
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": delta}}]})]

    def _arguments_done(self, output_index: int, arguments: str) -> list[bytes]:
        """The arguments not streamed yet, for upstreams that send them only whole."""
        index = self._tools.get(output_index)
        if index is None:
            return []
        sent = self._arguments[index]
        if len(arguments) > len(sent) and arguments.startswith(sent):
            return self._arguments_delta(output_index, arguments[len(sent) :])
        return []

    def _finish(self, response: dict[str, Any]) -> list[bytes]:
        """The finish chunk, the usage chunk and ``[DONE]``."""
        finish = self._chunk({}, _finish_reason(response, bool(self._tools)))
        usage = _usage_to_chat(response.get("usage")) or {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
        }
        return [finish, data_event(self._envelope([], usage=usage)), DONE]

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return data_event(self._envelope([choice]))

    def _envelope(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
            **extra,
        }


# ---------------------------------------------------------------------------------------------
# Streams: chat -> Responses


class _OpenItem:
    """An output item being streamed: what its ``done`` events and the final Response need."""

    __slots__ = ("call_id", "content_index", "id", "kind", "name", "output_index", "parts", "text")

    def __init__(self, kind: str, item_id: str, output_index: int) -> None:
        self.kind = kind  # "reasoning", "message" or "function_call"
        self.id = item_id
        self.output_index = output_index
        self.text = ""  # reasoning text, or a function call's arguments
        self.parts: list[dict[str, Any]] = []  # a message's content parts
        self.content_index = -1  # the message part receiving deltas
        self.call_id = ""
        self.name = ""


class ChatEventsToResponses:
    """A chat stream as the typed Responses event grammar, ending with ``response.completed``
    (or ``response.incomplete``) at ``[DONE]``."""

    def __init__(self) -> None:
        self._seq = 0
        self._base = ""
        self._created = int(time.time())
        self._model = ""
        self._started = False
        self._ended = False
        self._output: list[dict[str, Any]] = []  # closed items, by output_index
        self._current: _OpenItem | None = None  # the open reasoning or message item
        self._calls: dict[int, _OpenItem] = {}  # open function calls by chat tool index
        self._counts = {"reasoning": 0, "message": 0}
        self._finish_reason: Any = None
        self._usage: dict[str, Any] | None = None

    def feed(self, event: bytes) -> list[bytes]:
        """The Responses events one chat event becomes."""
        if self._ended:
            return []
        if event.strip() == DONE.strip():
            self._ended = True
            return self._start() + self._finish()
        _, data = read_event(event)
        if not isinstance(data, dict):
            return []  # comments, pings
        if isinstance(data.get("error"), dict):
            self._ended = True
            return [self._error(data["error"])]
        if not self._started:
            self._base = _base_id(data.get("id"))
            if _number(data.get("created")):
                self._created = int(data["created"])
            self._model = _str(data.get("model"))
        out = self._start()
        if isinstance(data.get("usage"), dict):
            self._usage = _usage_to_responses(data["usage"])
        choices = _list(data.get("choices"))
        choice = _dict(choices[0]) if choices else {}
        delta = _dict(choice.get("delta"))
        if _str(delta.get("reasoning_content")):
            out += self._text_delta("reasoning", delta["reasoning_content"])
        if _str(delta.get("content")):
            out += self._text_delta("output_text", delta["content"])
        if _str(delta.get("refusal")):
            out += self._text_delta("refusal", delta["refusal"])
        for call in _list(delta.get("tool_calls")):
            out += self._call_delta(_dict(call))
        if choice.get("finish_reason") is not None:
            self._finish_reason = choice["finish_reason"]
        return out

    def _emit(self, kind: str, **fields: Any) -> bytes:
        """One event, numbered."""
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return named_event(kind, payload)

    def _snapshot(self, status: str, incomplete: dict[str, Any] | None = None) -> dict[str, Any]:
        return _response_object(
            base=self._base or uuid.uuid4().hex,
            created_at=self._created,
            model=self._model,
            status=status,
            output=list(self._output),
            usage=self._usage if status != "in_progress" else None,
            incomplete_details=incomplete,
        )

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        self._base = self._base or uuid.uuid4().hex
        snapshot = self._snapshot("in_progress")
        return [
            self._emit("response.created", response=snapshot),
            self._emit("response.in_progress", response=snapshot),
        ]

    def _next_index(self) -> int:
        return len(self._output) + (self._current is not None) + len(self._calls)

    def _text_delta(self, kind: str, text: str) -> list[bytes]:
        """Reasoning, message text or refusal text: opens the item (and part) it belongs in."""
        out = self._close_calls()
        item_kind = "reasoning" if kind == "reasoning" else "message"
        if self._current is not None and self._current.kind != item_kind:
            out += self._close_current()
        if self._current is None:
            out += self._open_current(item_kind)
        item = self._current
        assert item is not None
        if item_kind == "reasoning":
            item.text += text
            return [
                *out,
                self._emit(
                    "response.reasoning_summary_text.delta",
                    item_id=item.id,
                    output_index=item.output_index,
                    summary_index=0,
                    delta=text,
                ),
            ]
        if item.content_index < 0 or item.parts[item.content_index]["type"] != kind:
            out += self._close_part(item)
            out += self._open_part(item, kind)
        part = item.parts[item.content_index]
        where = {"item_id": item.id, "output_index": item.output_index, "content_index": item.content_index}
        if kind == "refusal":
            part["refusal"] += text
            return [*out, self._emit("response.refusal.delta", **where, delta=text)]
        part["text"] += text
        return [*out, self._emit("response.output_text.delta", **where, delta=text, logprobs=[])]

    def _open_current(self, kind: str) -> list[bytes]:
        """A reasoning or message item; the first of each kind has the answer's plain id."""
        prefix = "rs" if kind == "reasoning" else "msg"
        count = self._counts[kind]
        self._counts[kind] += 1
        item_id = f"{prefix}_{self._base}" + (f"_{count}" if count else "")
        item = _OpenItem(kind, item_id, self._next_index())
        self._current = item
        if kind == "reasoning":
            added = {"type": "reasoning", "id": item_id, "summary": []}
            return [
                self._emit("response.output_item.added", output_index=item.output_index, item=added),
                self._emit(
                    "response.reasoning_summary_part.added",
                    item_id=item_id,
                    output_index=item.output_index,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                ),
            ]
        added = _message_item(item_id, [], "in_progress")
        return [self._emit("response.output_item.added", output_index=item.output_index, item=added)]

    def _open_part(self, item: _OpenItem, kind: str) -> list[bytes]:
        part = _text_part("") if kind == "output_text" else _refusal_part("")
        item.parts.append(part)
        item.content_index = len(item.parts) - 1
        return [
            self._emit(
                "response.content_part.added",
                item_id=item.id,
                output_index=item.output_index,
                content_index=item.content_index,
                part=dict(part),
            )
        ]

    def _close_part(self, item: _OpenItem) -> list[bytes]:
        if item.content_index < 0:
            return []
        part = item.parts[item.content_index]
        where = {"item_id": item.id, "output_index": item.output_index, "content_index": item.content_index}
        if part["type"] == "refusal":
            done = self._emit("response.refusal.done", **where, refusal=part["refusal"])
        else:
            done = self._emit("response.output_text.done", **where, text=part["text"], logprobs=[])
        return [done, self._emit("response.content_part.done", **where, part=part)]

    def _close_current(self, status: str = "completed") -> list[bytes]:
        item = self._current
        if item is None:
            return []
        self._current = None
        where = {"item_id": item.id, "output_index": item.output_index}
        if item.kind == "reasoning":
            out = [
                self._emit("response.reasoning_summary_text.done", **where, summary_index=0, text=item.text),
                self._emit(
                    "response.reasoning_summary_part.done",
                    **where,
                    summary_index=0,
                    part={"type": "summary_text", "text": item.text},
                ),
            ]
            done = _reasoning_item(item.id, item.text)
        else:
            out = self._close_part(item)
            done = _message_item(item.id, item.parts, status)
        self._output.append(done)
        return [*out, self._emit("response.output_item.done", output_index=item.output_index, item=done)]

    def _call_delta(self, call: dict[str, Any]) -> list[bytes]:
        """A tool call piece: the first piece of a call opens its item."""
        index = _int(call.get("index"))
        function = _dict(call.get("function"))
        out: list[bytes] = []
        item = self._calls.get(index)
        if item is None:
            out += self._close_current()
            item = _OpenItem("function_call", f"fc_{self._base}_{index}", self._next_index())
            item.call_id = _str(call.get("id")) or f"call_{uuid.uuid4().hex[:24]}"
            item.name = _str(function.get("name"))
            self._calls[index] = item
            added = _call_item(item.id, item.call_id, item.name, "", "in_progress")
            out.append(self._emit("response.output_item.added", output_index=item.output_index, item=added))
        arguments = _str(function.get("arguments"))
        if arguments:
            item.text += arguments
            out.append(
                self._emit(
                    "response.function_call_arguments.delta",
                    item_id=item.id,
                    output_index=item.output_index,
                    delta=arguments,
                )
            )
        return out

    def _close_calls(self) -> list[bytes]:
        """Close the open calls, in the order they were opened."""
        out: list[bytes] = []
        for item in sorted(self._calls.values(), key=lambda item: item.output_index):
            where = {"item_id": item.id, "output_index": item.output_index}
            out.append(
                self._emit(
                    "response.function_call_arguments.done", **where, name=item.name, arguments=item.text
                )
            )
            done = _call_item(item.id, item.call_id, item.name, item.text, "completed")
            self._output.append(done)
            out.append(self._emit("response.output_item.done", output_index=item.output_index, item=done))
        self._calls.clear()
        return out

    def _finish(self) -> list[bytes]:
        """Close every item, then the final event carrying the whole Response."""
        status, incomplete = _status(self._finish_reason)
        out = (
            self._close_current("completed" if status == "completed" else "incomplete") + self._close_calls()
        )
        response = self._snapshot(status, incomplete)
        if response["usage"] is None:
            response["usage"] = _usage_to_responses({})
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return [*out, self._emit(kind, response=response)]

    def _error(self, error: dict[str, Any]) -> bytes:
        code = error.get("code")
        return self._emit(
            "error",
            code=str(code) if code is not None else _str(error.get("type")) or None,
            message=_str(error.get("message")) or "the upstream stream failed",
            param=error.get("param") if isinstance(error.get("param"), str) else None,
        )
