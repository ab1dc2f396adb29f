"""A request asking a model to continue a partial answer exactly where it stopped.

The partial answer (the text a client already received) becomes the request's final assistant
message, and the model goes on from its last character:

- Messages, ``prefill``: Anthropic continues a final assistant message as its own answer.
- chat, ``prefix``: vLLM continues it with ``continue_final_message: true`` and
  ``add_generation_prompt: false``; DeepSeek and Mistral with ``prefix: true`` on the message
  (``flag_message``).

A request that already ends with an assistant message (the client's own prefill) has the text
appended to it: the partial answer continued that message. Nothing is stripped but what the wire
refuses: Anthropic refuses a prefill that ends in whitespace, so that whitespace is left out of
the request (``unsendable``) and dropped from the continuation's start as far as it repeats it
(``skipped``): the client's text goes on from exactly where it stopped.
"""

from __future__ import annotations

from typing import Any

from router.config.model import Continues

Body = dict[str, Any]


def continued(body: Body, continues: Continues, prefix: str, *, flag_message: bool = False) -> Body:
    """``body`` (in the wire API ``continues`` is for) asking for the rest of an answer that began
    with ``prefix``."""
    if continues is Continues.NONE:
        raise ValueError("this deployment cannot continue an answer")
    messages = list(body.get("messages") or [])
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        messages[-1] = {**last, "content": _appended(last.get("content"), prefix)}
    else:
        messages.append({"role": "assistant", "content": prefix})
    if continues is Continues.PREFILL:
        return {**body, "messages": messages}
    if flag_message:
        messages[-1] = {**messages[-1], "prefix": True}
        return {**body, "messages": messages}
    return {**body, "messages": messages, "continue_final_message": True, "add_generation_prompt": False}


def _appended(content: Any, text: str) -> Any:
    """An assistant message's content with ``text`` after it (as a string when it was one)."""
    if content is None or isinstance(content, str):
        return (content or "") + text
    blocks = list(content)
    if blocks and isinstance(blocks[-1], dict) and blocks[-1].get("type") == "text":
        blocks[-1] = {**blocks[-1], "text": str(blocks[-1].get("text", "")) + text}
    else:
        blocks.append({"type": "text", "text": text})
    return blocks


def unsendable(prefix: str, continues: Continues) -> str:
    """The end of ``prefix`` that cannot be sent to a deployment that ``continues`` so: a
    prefill's trailing whitespace."""
    if continues is not Continues.PREFILL:
        return ""
    return prefix[len(prefix.rstrip()) :]


def skipped(skip: str, text: str) -> tuple[str, str]:
    """What is left to skip, and of ``text``, once ``text`` repeated the start of ``skip`` (a text
    that departs from it ends the skipping there)."""
    same = 0
    while same < len(skip) and same < len(text) and skip[same] == text[same]:
        same += 1
    if same < len(text) or same == len(skip):
        return "", text[same:]
    return skip[same:], ""
