"""A Gemini request as a chat request: ``gemini_request_to_chat`` and its helpers.

The table and its notes are in the package's docstring.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from router.dialects.translate.gemini.common import field, parts_of
from router.dialects.translate.gemini.parts import model_parts_to_chat, response_text, user_part_to_chat
from router.dialects.translate.gemini.schema import schema_to_json
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_list

LOW_BUDGET_LIMIT = 2048  # as the Messages translation reads a thinking budget
MEDIUM_BUDGET_LIMIT = 16384
_LEVELS = {"MINIMAL": "minimal", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
_MODES = {"AUTO": "auto", "NONE": "none", "VALIDATED": "auto"}


def gemini_request_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Gemini request as the chat request an OpenAI-style upstream understands."""
    _refuse_unexpressible(body)
    chat: dict[str, Any] = {"model": body.get("model")}
    messages: list[dict[str, Any]] = []
    system = field(body, "systemInstruction")
    system_text = system if isinstance(system, str) else _texts(parts_of(system))
    if system_text:
        messages.append({"role": "system", "content": system_text})
    pending: list[tuple[str, str]] = []  # (id, name) of the calls whose response has not come
    for i, content in enumerate(as_list(body.get("contents"))):
        content = as_dict(content)
        where = f"contents[{i}]"
        role = content.get("role") or "user"
        parts = parts_of(content)
        if role == "model":
            message = model_parts_to_chat(parts, partial(_history_call_id, i))
            pending = [(c["id"], c["function"]["name"]) for c in message.get("tool_calls", ())]
            if message["content"] is not None or "tool_calls" in message:
                messages.append(message)
        elif role in ("user", "function"):
            messages.extend(_user_to_chat(parts, where, pending, i))
        else:
            raise InvalidRequest(f"{where}.role must be 'user' or 'model'", param=f"{where}.role")
    if not messages:
        raise InvalidRequest(
            "contents: nothing to send to this model: a chat model needs at least one message, and no "
            "content holds a part that translates (code execution parts are dropped)",
            param="contents",
        )
    chat["messages"] = messages
    _generation_to_chat(as_dict(field(body, "generationConfig")), chat)
    _tools_to_chat(body, chat)
    if "stream" in body:
        chat["stream"] = body["stream"]
        if body["stream"] is True:
            chat["stream_options"] = {"include_usage": True}
    return chat


def _history_call_id(turn: int, position: int) -> str:
    return f"call_{turn}_{position}"


def _refuse_unexpressible(body: dict[str, Any]) -> None:
    if field(body, "cachedContent") is not None:
        raise InvalidRequest(
            "cachedContent names a cache kept by Google, which this model cannot read",
            param="cachedContent",
        )
    config = as_dict(field(body, "generationConfig"))
    if field(config, "responseLogprobs") or field(config, "logprobs"):
        raise InvalidRequest(
            "logprobs are not supported by this model", param="generationConfig.responseLogprobs"
        )
    modalities = [str(m).upper() for m in as_list(field(config, "responseModalities"))]
    if any(m != "TEXT" for m in modalities) or field(config, "speechConfig") is not None:
        raise InvalidRequest(
            "only text answers are supported by this model", param="generationConfig.responseModalities"
        )


def _texts(parts: list[dict[str, Any]]) -> str:
    texts = (str(part["text"]) for part in parts if isinstance(part.get("text"), str))
    return "\n\n".join(text for text in texts if text)


def _user_to_chat(
    parts: list[dict[str, Any]], where: str, pending: list[tuple[str, str]], turn: int
) -> list[dict[str, Any]]:
    """A user content as chat messages: its function responses first as ``tool`` messages (chat
    wants them right after the calls), then its other parts as one user message."""
    messages: list[dict[str, Any]] = []
    content: list[dict[str, Any]] = []
    for j, part in enumerate(parts):
        response = field(part, "functionResponse")
        if isinstance(response, dict):
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": _answered_call(response, pending, _history_call_id(turn, j)),
                    "content": response_text(response.get("response")),
                }
            )
            continue
        translated = user_part_to_chat(part, f"{where}.parts[{j}]")
        if translated is not None:
            content.append(translated)
    if content:
        only_text = len(content) == 1 and content[0]["type"] == "text"
        messages.append({"role": "user", "content": content[0]["text"] if only_text else content})
    return messages


def _answered_call(response: dict[str, Any], pending: list[tuple[str, str]], fallback: str) -> str:
    """The id of the call a function response answers: its own ``id``, else the first call of
    that name still waiting (the Gemini API pairs them by name and order)."""
    own = response.get("id")
    for index, (call_id, name) in enumerate(pending):
        if call_id == own or (not own and name == response.get("name")):
            del pending[index]
            return call_id
    return own if isinstance(own, str) and own else fallback


def _generation_to_chat(config: dict[str, Any], chat: dict[str, Any]) -> None:
    for gemini_name, chat_name in _SAME_MEANING:
        value = field(config, gemini_name)
        if value is not None:
            chat[chat_name] = value
    stops = field(config, "stopSequences")
    if isinstance(stops, list) and stops:
        chat["stop"] = stops
    count = field(config, "candidateCount")
    if isinstance(count, int) and count > 1:
        chat["n"] = count
    _response_format(config, chat)
    effort = _thinking_to_effort(as_dict(field(config, "thinkingConfig")))
    if effort is not None:
        chat["reasoning_effort"] = effort


_SAME_MEANING = (
    ("temperature", "temperature"),
    ("topP", "top_p"),
    ("maxOutputTokens", "max_tokens"),
    ("seed", "seed"),
    ("presencePenalty", "presence_penalty"),
    ("frequencyPenalty", "frequency_penalty"),
)


def _response_format(config: dict[str, Any], chat: dict[str, Any]) -> None:
    mime = field(config, "responseMimeType")
    json_schema = field(config, "responseJsonSchema")
    schema = field(config, "responseSchema")
    if json_schema is None and schema is not None:
        json_schema = schema_to_json(schema)
    if json_schema is not None and not isinstance(json_schema, dict):
        if json_schema is not True:  # JSON Schema's ``true`` allows any document; ``false`` none
            raise InvalidRequest(
                "generationConfig.responseJsonSchema: only an object or `true` can be translated",
                param="generationConfig.responseJsonSchema",
            )
        json_schema = None
    if mime == "application/json" or json_schema is not None:
        if json_schema is None:
            chat["response_format"] = {"type": "json_object"}
        else:
            chat["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": json_schema},
            }
    elif mime not in (None, "text/plain"):
        raise InvalidRequest(
            f"responseMimeType {mime!r} is not supported by this model",
            param="generationConfig.responseMimeType",
        )


def _thinking_to_effort(thinking: dict[str, Any]) -> str | None:
    """A thinking level, or budget (read as the Messages translation reads one), as chat's
    coarse effort; a budget of 0 (thinking off) and ``includeThoughts`` alone ask for none."""
    level = field(thinking, "thinkingLevel")
    if isinstance(level, str) and level.upper() in _LEVELS:
        return _LEVELS[level.upper()]
    budget = field(thinking, "thinkingBudget")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget == 0:
        return None
    if budget < 0:
        return "medium"  # -1: the model decides how much
    if budget <= LOW_BUDGET_LIMIT:
        return "low"
    return "medium" if budget <= MEDIUM_BUDGET_LIMIT else "high"


def _tools_to_chat(body: dict[str, Any], chat: dict[str, Any]) -> None:
    """Function declarations as function tools; Google's own tools (search, code execution,
    URL context...) run on its servers and are dropped."""
    tools: list[dict[str, Any]] = []
    for tool in as_list(body.get("tools")):
        for declaration in as_list(field(tool, "functionDeclarations")):
            declaration = as_dict(declaration)
            schema = field(declaration, "parametersJsonSchema")
            if schema is None and field(declaration, "parameters") is not None:
                schema = schema_to_json(field(declaration, "parameters"))
            function: dict[str, Any] = {"name": declaration.get("name")}
            if isinstance(declaration.get("description"), str):
                function["description"] = declaration["description"]
            function["parameters"] = (
                schema if isinstance(schema, dict) else {"type": "object", "properties": {}}
            )
            tools.append({"type": "function", "function": function})
    if not tools:
        return
    chat["tools"] = tools
    calling = as_dict(field(field(body, "toolConfig"), "functionCallingConfig"))
    mode = str(calling.get("mode") or "").upper()
    allowed = [name for name in as_list(field(calling, "allowedFunctionNames")) if isinstance(name, str)]
    if mode == "ANY" and len(allowed) == 1:
        chat["tool_choice"] = {"type": "function", "function": {"name": allowed[0]}}
    elif mode == "ANY":
        chat["tool_choice"] = "required"
    elif mode in _MODES:
        chat["tool_choice"] = _MODES[mode]
