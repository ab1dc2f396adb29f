"""A request asking a model to continue a partial answer exactly where it stopped.

The partial answer (``Partial``: the text a client already received, then the tool calls it
received whole) becomes the request's final assistant message, and the model goes on from there:

- Messages, ``prefill``: Anthropic continues a final assistant message as its own answer; the
  complete tool calls are its ``tool_use`` blocks, after the text.
- chat, ``prefix``: vLLM continues it with ``continue_final_message: true`` and
  ``add_generation_prompt: false`` (the complete tool calls are the message's ``tool_calls``);
  DeepSeek and Mistral with ``prefix: true`` on the message (``flag_message``), which continues
  text only (``takes_calls``).

A request that already ends with an assistant message (the client's own prefill) has the partial
answer appended to it: the answer continued that message. Nothing is stripped but what the wire
refuses: Anthropic refuses a prefill that ends in whitespace, so that whitespace is left out of
the request (``unsendable``) and dropped from the continuation's start as far as it repeats it
(``skipped``): the client's text goes on from exactly where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from router.config.model import Continues

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the client received whole: its arguments are a complete JSON object."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Partial:
    """What a client received of an answer: its text, then the tool calls that followed it."""

    text: str
    calls: tuple[ToolCall, ...] = ()


def continued(body: Body, continues: Continues, partial: Partial, *, flag_message: bool = False) -> Body:
    """``body`` (in the wire API ``continues`` is for) asking for the rest of an answer that began
    with ``partial`` (its text already without what ``unsendable`` says)."""
    if continues is Continues.NONE:
        raise ValueError("this deployment cannot continue an answer")
    if partial.calls and not takes_calls(continues, flag_message=flag_message):
        raise ValueError("this deployment cannot continue an answer after its tool calls")
    messages = list(body.get("messages") or [])
    last = messages[-1] if messages else None
    if not (isinstance(last, dict) and last.get("role") == "assistant"):
        last = {"role": "assistant", "content": None if continues is Continues.PREFIX else ""}
        messages.append(last)
    if continues is Continues.PREFILL:
        messages[-1] = {**last, "content": _prefilled(last.get("content"), partial)}
        return {**body, "messages": messages}
    message = {**last, "content": _appended(last.get("content"), partial.text)}
    if partial.calls:
        message["tool_calls"] = [*(last.get("tool_calls") or []), *map(_chat_call, partial.calls)]
    if flag_message:
        messages[-1] = {**message, "prefix": True}
        return {**body, "messages": messages}
    messages[-1] = message
    return {**body, "messages": messages, "continue_final_message": True, "add_generation_prompt": False}


def takes_calls(continues: Continues, *, flag_message: bool) -> bool:
    """Whether a deployment that ``continues`` so can continue after complete tool calls."""
    return continues is Continues.PREFILL or (continues is Continues.PREFIX and not flag_message)


def _prefilled(content: Any, partial: Partial) -> Any:
    """A Messages assistant content with ``partial`` after it: a string while it is text only."""
    if not partial.calls:
        return _appended(content, partial.text)
    blocks = _blocks(_appended(content, partial.text))
    return [*blocks, *(_tool_use(call) for call in partial.calls)]


def _blocks(content: Any) -> list[Any]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": orjson.loads(call.arguments)}


def _chat_call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def _appended(content: Any, text: str) -> Any:
    """An assistant message's content with ``text`` after it (as a string when it was one)."""
    if not text:
        return content
    if content is None or isinstance(content, str):
        return (content or "") + text
    blocks = list(content)
    if blocks and isinstance(blocks[-1], dict) and blocks[-1].get("type") == "text":
        blocks[-1] = {**blocks[-1], "text": str(blocks[-1].get("text", "")) + text}
    else:
        blocks.append({"type": "text", "text": text})
    return blocks


def unsendable(partial: Partial, continues: Continues) -> str:
    """The end of ``partial``'s text that cannot be sent to a deployment that ``continues`` so: a
    prefill's trailing whitespace, when the text ends the prefill."""
    if continues is not Continues.PREFILL or partial.calls:
        return ""
    text = partial.text
    return text[len(text.rstrip()) :]


def whole_object(arguments: str) -> bool:
    """Whether a tool call's streamed arguments are complete: one JSON object (nothing can follow
    a closed object but whitespace, so a call whose arguments parse is whole)."""
    try:
        return isinstance(orjson.loads(arguments), dict)
    except orjson.JSONDecodeError:
        return False


def skipped(skip: str, text: str) -> tuple[str, str]:
    """What is left to skip, and of ``text``, once ``text`` repeated the start of ``skip`` (a text
    that departs from it ends the skipping there)."""
    same = 0
    while same < len(skip) and same < len(text) and skip[same] == text[same]:
        same += 1
    if same < len(text) or same == len(skip):
        return "", text[same:]
    return skip[same:], ""


def refusal(held: str | None, ended: bool, has_more: bool) -> str | None:
    """Why a splicer's answer cannot be continued: it ``held`` something a continuation cannot go
    on from (thinking, a tool call...), it had ``ended``, or it has no more to continue."""
    if held is not None:
        return f"the answer holds {held}"
    if ended:
        return "the answer had ended"
    return None if has_more else "no text to continue"
