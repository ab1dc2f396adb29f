"""Gemini parts <-> chat message pieces, for requests and answers alike: text, images and
files, function calls and responses, thoughts with their signatures."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any

from router.dialects.translate.anthropic.blocks import chat_thinking_blocks, parsed_call_arguments
from router.dialects.translate.anthropic.common import json_text, text_of
from router.dialects.translate.chat_request import untranslatable_part, user_parts
from router.dialects.translate.gemini.common import field
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_list

TOOL_ERROR_PREFIX = "Error: "  # as the Messages translation marks a failed tool's result


def model_parts_to_chat(parts: list[dict[str, Any]], make_id: Callable[[int], str]) -> dict[str, Any]:
    """A model content as one chat assistant message: text, function calls as tool calls (the
    ``i``-th, without an id of its own, gets ``make_id(i)``), thoughts as ``reasoning_content``, and
    a thought that carries a signature as a signed ``thinking_blocks`` entry. A signature on
    any other part (Gemini's own, for Gemini) is dropped: only Gemini can check it."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    blocks: list[dict[str, Any]] = []
    for part in parts:
        call = field(part, "functionCall")
        text = part.get("text")
        if isinstance(call, dict):
            own = call.get("id")
            call_id = own if isinstance(own, str) and own else make_id(len(calls))
            calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {
                        "name": str(call.get("name", "")),
                        "arguments": json_text(call.get("args") or {}),
                    },
                }
            )
        elif isinstance(text, str) and part.get("thought") is True:
            thoughts.append(text)
            signature = field(part, "thoughtSignature")
            if isinstance(signature, str) and signature:
                blocks.append({"type": "thinking", "thinking": text, "signature": signature})
        elif isinstance(text, str):
            texts.append(text)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if blocks:
        message["thinking_blocks"] = blocks
    return message


def response_text(response: Any) -> str:
    """A ``functionResponse.response`` as a tool message's text: its ``output`` (Gemini's
    documented key) or ``error`` (prefixed ``Error: ``) when that is all it holds, else its JSON."""
    response = as_dict(response)
    if set(response) == {"output"} and isinstance(response["output"], str):
        return str(response["output"])
    if set(response) == {"error"} and isinstance(response["error"], str):
        return TOOL_ERROR_PREFIX + str(response["error"])
    return json_text(response)


def user_part_to_chat(part: dict[str, Any], where: str) -> dict[str, Any] | None:
    """A user part as a chat content part (None for one with nothing chat can use)."""
    text = part.get("text")
    if isinstance(text, str):
        return None if part.get("thought") is True else {"type": "text", "text": text}
    inline = field(part, "inlineData")
    if isinstance(inline, dict):
        mime = str(field(inline, "mimeType") or "application/octet-stream")
        url = f"data:{mime};base64,{inline.get('data', '')}"
        if mime.startswith("image/"):
            return {"type": "image_url", "image_url": {"url": url}}
        if mime.startswith("audio/"):
            audio_format = mime.removeprefix("audio/").removeprefix("x-").replace("mpeg", "mp3")
            return {
                "type": "input_audio",
                "input_audio": {"data": inline.get("data", ""), "format": audio_format},
            }
        return {"type": "file", "file": {"file_data": url}}
    data = field(part, "fileData")
    if isinstance(data, dict):
        uri = field(data, "fileUri")
        if isinstance(uri, str) and uri.startswith(("http://", "https://")):
            return {"type": "image_url", "image_url": {"url": uri}}
        raise InvalidRequest(
            f"{where}.fileData: only http(s) file URIs can be translated "
            "(files uploaded to Google stay there)",
            param=f"{where}.fileData.fileUri",
        )
    if any(
        field(part, name) is not None for name in ("executableCode", "codeExecutionResult", "videoMetadata")
    ):
        return None
    raise InvalidRequest(f"{where}: this kind of part cannot be translated", param=where)


# -- chat -> Gemini ---------------------------------------------------------------------


def user_content_to_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """A chat user content (a string or parts) as Gemini parts."""
    parts: list[dict[str, Any]] = []
    for kind, part, at in user_parts(content, where):
        if kind == "text":
            if part.get("text"):
                parts.append({"text": str(part["text"])})
        elif kind == "image_url":
            parts.append(_url_to_part(as_dict(part.get("image_url")).get("url"), f"{at}.image_url.url"))
        elif kind == "input_audio":
            audio = as_dict(part.get("input_audio"))
            mime = "audio/mpeg" if audio.get("format") == "mp3" else f"audio/{audio.get('format', 'wav')}"
            parts.append({"inlineData": {"mimeType": mime, "data": str(audio.get("data", ""))}})
        elif kind == "file":
            file_data = as_dict(part.get("file")).get("file_data")
            if not (isinstance(file_data, str) and file_data.startswith("data:")):
                raise InvalidRequest(f"{at}: only files given as file_data can be translated", param=at)
            parts.append(_url_to_part(file_data, at))
        else:
            raise untranslatable_part(kind, at)
    return parts


def _url_to_part(url: Any, where: str) -> dict[str, Any]:
    """A ``data:`` URL as inline data; an http(s) URL as file data, its type guessed from its name."""
    if isinstance(url, str) and url.startswith("data:") and ";base64," in url:
        mime, data = url[5:].split(";base64,", 1)
        return {"inlineData": {"mimeType": mime, "data": data}}
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        mime = mimetypes.guess_type(url.split("?", 1)[0])[0] or "image/jpeg"
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    raise InvalidRequest(f"{where} must be a base64 data URL or an http(s) URL", param=where)


def call_to_part(call: dict[str, Any], where: str) -> dict[str, Any]:
    """A chat tool call as a ``functionCall`` part; its arguments must be a JSON object."""
    function = as_dict(call.get("function"))
    arguments = parsed_call_arguments(function, where)
    named: dict[str, Any] = {"name": str(function.get("name", "")), "args": arguments}
    if isinstance(call.get("id"), str) and call["id"]:
        named = {"id": call["id"], **named}
    return {"functionCall": named}


def thought_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A chat answer's thinking as thought parts: each signed block with its signature (a client
    sends it back, and the Messages translation gives it back to Anthropic), else its
    ``reasoning_content`` as one unsigned thought. Redacted thinking has no Gemini form."""
    blocks = [block for block in chat_thinking_blocks(message) if block["type"] == "thinking"]
    if blocks:
        return [
            {"text": block["thinking"], "thought": True, **_signed(block["signature"])} for block in blocks
        ]
    reasoning = message.get("reasoning_content")
    return [{"text": reasoning, "thought": True}] if isinstance(reasoning, str) and reasoning else []


def _signed(signature: str) -> dict[str, str]:
    return {"thoughtSignature": signature} if signature else {}


def assistant_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    refusals = (str(p.get("refusal", "")) for p in as_list(content) if as_dict(p).get("type") == "refusal")
    return text_of(content) + "".join(refusals) or str(message.get("refusal") or "")
