"""A chat request as a Gemini request: ``chat_request_to_gemini`` and its helpers.

The table and its notes are in the package's docstring.
"""

from __future__ import annotations

from typing import Any

from router.dialects.translate.anthropic.common import text_of
from router.dialects.translate.chat_request import alternating, function_tools, system_and_others
from router.dialects.translate.gemini.common import SKIP_SIGNATURE
from router.dialects.translate.gemini.parts import assistant_text, call_to_part, user_content_to_parts
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_int, as_list

# Chat's effort as a thinking budget (the Messages translation's), with thoughts included so
# that the reasoning comes back as ``reasoning_content``. 128 is the least every model takes.
THINKING_BUDGETS = {"minimal": 128, "low": 1024, "medium": 8192, "high": 24576}
_CHOICES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_SAME_MEANING = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)


def chat_request_to_gemini(body: dict[str, Any]) -> dict[str, Any]:
    """A chat request as the Gemini request a Gemini upstream understands (with ``model`` and
    ``stream``, which the provider moves into the URL)."""
    _refuse_unexpressible(body)
    request: dict[str, Any] = {"model": body.get("model")}
    system, contents = _messages_to_contents(as_list(body.get("messages")))
    request["contents"] = contents
    if system:
        request["systemInstruction"] = {"parts": [{"text": system}]}
    _tools_to_gemini(body, request)
    config = _generation_config(body)
    if config:
        request["generationConfig"] = config
    if "stream" in body:
        request["stream"] = body["stream"]
    return request


def _refuse_unexpressible(body: dict[str, Any]) -> None:
    if body.get("logprobs") is True or body.get("top_logprobs"):
        raise InvalidRequest("logprobs are not supported by this model", param="logprobs")
    if body.get("audio") or "audio" in as_list(body.get("modalities")):
        raise InvalidRequest("audio output is not supported by this model", param="modalities")


def _messages_to_contents(messages: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """Chat messages as (system text, contents): system and developer messages gather into
    ``systemInstruction``; tool results become ``functionResponse`` parts of a user content,
    named after the call they answer; consecutive contents of one role merge."""
    system, others = system_and_others(messages)
    names: dict[str, str] = {}  # tool call id -> function name, as the assistant messages call them
    contents = (_content(role, message, where, names) for role, message, where in others)
    return system, alternating(contents, "parts")


def _content(
    role: str, message: dict[str, Any], where: str, names: dict[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    """A chat message as a Gemini role and parts."""
    if role == "user":
        return "user", user_content_to_parts(message.get("content"), where)
    if role == "tool":
        call_id = str(message.get("tool_call_id", ""))
        response = {
            "id": call_id,
            "name": names.get(call_id, ""),
            "response": {"output": text_of(message.get("content"))},
        }
        return "user", [{"functionResponse": response}]
    return "model", _assistant_parts(message, where, names)


def _assistant_parts(message: dict[str, Any], where: str, names: dict[str, str]) -> list[dict[str, Any]]:
    """An assistant message as model parts: text, then function calls, the first carrying
    Google's stand-in signature (the calls were not made by Gemini, or their signature did not
    survive chat; Gemini 3 refuses a call without one). Chat's thinking stays behind: its
    signatures are not Gemini's."""
    parts: list[dict[str, Any]] = []
    text = assistant_text(message)
    if text:
        parts.append({"text": text})
    for j, call in enumerate(as_list(message.get("tool_calls"))):
        part = call_to_part(as_dict(call), f"{where}.tool_calls[{j}]")
        names[str(part["functionCall"].get("id", ""))] = part["functionCall"]["name"]
        if j == 0:
            part["thoughtSignature"] = SKIP_SIGNATURE
        parts.append(part)
    return parts


def _tools_to_gemini(body: dict[str, Any], request: dict[str, Any]) -> None:
    """Function tools as one tool of ``functionDeclarations`` (their JSON Schema as
    ``parametersJsonSchema``), and the tool choice as ``toolConfig``."""
    declarations: list[dict[str, Any]] = []
    for function in function_tools(body):
        declaration: dict[str, Any] = {"name": function.get("name")}
        if isinstance(function.get("description"), str):
            declaration["description"] = function["description"]
        if isinstance(function.get("parameters"), dict) and function["parameters"]:
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    if not declarations:
        return
    request["tools"] = [{"functionDeclarations": declarations}]
    choice = body.get("tool_choice")
    calling: dict[str, Any] | None = None
    if isinstance(choice, str) and choice in _CHOICES:
        calling = {"mode": _CHOICES[choice]}
    elif isinstance(choice, dict) and choice.get("type") == "function":
        calling = {"mode": "ANY", "allowedFunctionNames": [as_dict(choice.get("function")).get("name")]}
    elif isinstance(choice, dict):
        raise InvalidRequest(
            f"tool_choice of type {choice.get('type')!r} cannot be translated", param="tool_choice"
        )
    if calling is not None:
        request["toolConfig"] = {"functionCallingConfig": calling}


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for chat_name, gemini_name in _SAME_MEANING:
        if body.get(chat_name) is not None:
            config[gemini_name] = body[chat_name]
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if as_int(max_tokens) > 0:
        config["maxOutputTokens"] = max_tokens
    stop = body.get("stop")
    if isinstance(stop, str) and stop:
        config["stopSequences"] = [stop]
    elif isinstance(stop, list) and stop:
        config["stopSequences"] = [s for s in stop if isinstance(s, str)]
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        config["candidateCount"] = n
    response_format = as_dict(body.get("response_format"))
    if response_format.get("type") == "json_schema":
        config["responseMimeType"] = "application/json"
        schema = as_dict(response_format.get("json_schema")).get("schema")
        if isinstance(schema, dict):
            config["responseJsonSchema"] = schema
    elif response_format.get("type") == "json_object":
        config["responseMimeType"] = "application/json"
    budget = THINKING_BUDGETS.get(str(body.get("reasoning_effort")))
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": True}
    return config
