"""Prompt-cache hints across wires: where a translated request keeps ``cache_control`` and
``prompt_cache_key``.

| from            | to                                     | hint                                     |
|-----------------|----------------------------------------|------------------------------------------|
| any             | the same wire                          | both untouched (the body goes as it came) |
| Messages        | chat through litellm, Anthropic family | `cache_control` on chat's counterparts   |
| Messages        | OpenAI-compatible chat, Responses      | `prompt_cache_key`: the session's hash   |
| Responses       | chat                                   | `prompt_cache_key` as is (else the hash) |
| chat            | Responses                              | `prompt_cache_key` as is                 |
| chat, Responses | Messages                               | dropped: Anthropic has no such key       |

``prompt_cache_key`` goes to native upstreams only: litellm refuses a parameter its provider
lacks (Raceway does not set its ``drop_params``), so a deployment it serves gets the chat
translation without one.

``cache_control`` (with its ``ttl``) goes where litellm reads it for Anthropic, Bedrock and
Vertex Claude: a system block's on the system message's one text part (the translation
joins the system blocks, so the breakpoint is the system prompt's end, where agents put it);
a tool's on the chat tool; a user block's on its content part; a tool result's and an
assistant block's on their chat message. A native chat upstream never gets ``cache_control``
(OpenAI refuses unknown fields in content parts): its prefix cache is automatic, and
``prompt_cache_key`` steers it.
"""

from __future__ import annotations

from typing import Any

from router.config.model import Deployment
from router.dialects.translate.anthropic.common import SERVER_BLOCK_TYPES

Body = dict[str, Any]

# litellm providers whose Claude models take Anthropic's cache_control.
_CLAUDE_HOSTS = frozenset({"bedrock", "vertex_ai"})


def takes_cache_control(deployment: Deployment) -> bool:
    """Does this litellm-served deployment forward ``cache_control`` to an Anthropic model?"""
    if not deployment.uses_litellm:
        return False
    if deployment.provider == "anthropic":
        return True
    model = deployment.model.lower()
    return deployment.provider in _CLAUDE_HOSTS and ("claude" in model or "anthropic" in model)


def with_cache_key(body: Body, key: str | None) -> Body:
    """``body`` with ``prompt_cache_key`` when it has none and ``key`` is known."""
    if key is None or "prompt_cache_key" in body:
        return body
    return {**body, "prompt_cache_key": key}


def with_cache_control(source: Body, chat: Body) -> Body:
    """``chat`` (the translation of the Messages request ``source``) with ``source``'s
    ``cache_control`` hints on their chat counterparts; ``chat`` itself is left as it is.
    When the translation's shape is not the one expected, the hints are left out: they are
    hints, and the request is valid without them."""
    messages = list(chat.get("messages") or [])
    changed = False
    system = source.get("system")
    hint = _last_hint(system) if isinstance(system, list) else None
    index = 0
    if messages and messages[0].get("role") == "system":
        if hint is not None and isinstance(messages[0].get("content"), str):
            messages[0] = {**messages[0], "content": [_text_part(messages[0]["content"], hint)]}
            changed = True
        index = 1
    for turn in source.get("messages") or []:
        if not isinstance(turn, dict):
            return chat
        placed = _place_turn(turn, messages, index)
        if placed is None:
            return chat
        index, turn_changed = placed
        changed = changed or turn_changed
    if index != len(messages):
        return chat
    tools = _hinted_tools(source, chat)
    if not changed and tools is None:
        return chat
    hinted = {**chat, "messages": messages}
    if tools is not None:
        hinted["tools"] = tools
    return hinted


def _place_turn(turn: Body, messages: list[Body], index: int) -> tuple[int, bool] | None:
    """Put one Messages turn's hints on its chat messages, from ``index``; the index after them."""
    content = turn.get("content")
    if not isinstance(content, list):
        return index + 1, False
    if turn.get("role") == "assistant":
        hint = _last_hint(content)
        if hint is not None and index < len(messages):
            messages[index] = {**messages[index], "cache_control": hint}
        return index + 1, hint is not None
    changed = False
    part = 0
    part_hints: dict[int, Any] = {}
    for block in content:
        if not isinstance(block, dict) or block.get("type") in SERVER_BLOCK_TYPES:
            continue
        if block.get("type") == "tool_result":
            if index >= len(messages) or messages[index].get("role") != "tool":
                return None
            if isinstance(block.get("cache_control"), dict):
                messages[index] = {**messages[index], "cache_control": block["cache_control"]}
                changed = True
            inner = block.get("content")
            part += (
                sum(1 for b in inner if isinstance(b, dict) and b.get("type") == "image")
                if isinstance(inner, list)
                else 0
            )
            index += 1
            continue
        if isinstance(block.get("cache_control"), dict):
            part_hints[part] = block["cache_control"]
        part += 1
    if part:
        if index >= len(messages) or messages[index].get("role") != "user":
            return None
        parts = messages[index].get("content")
        if part_hints:
            if not isinstance(parts, list) or len(parts) != part:
                return None
            messages[index] = {
                **messages[index],
                "content": [
                    {**p, "cache_control": part_hints[k]} if k in part_hints else p
                    for k, p in enumerate(parts)
                ],
            }
            changed = True
        index += 1
    return index, changed


def _hinted_tools(source: Body, chat: Body) -> list[Any] | None:
    hints = {
        tool.get("name"): tool["cache_control"]
        for tool in source.get("tools") or []
        if isinstance(tool, dict) and isinstance(tool.get("cache_control"), dict)
    }
    if not hints or not isinstance(chat.get("tools"), list):
        return None
    return [
        {**tool, "cache_control": hints[name]}
        if isinstance(tool, dict) and (name := (tool.get("function") or {}).get("name")) in hints
        else tool
        for tool in chat["tools"]
    ]


def _last_hint(blocks: list[Any]) -> Any:
    """The last block's ``cache_control`` among those that have one (the furthest breakpoint)."""
    hint = None
    for block in blocks:
        if isinstance(block, dict) and isinstance(block.get("cache_control"), dict):
            hint = block["cache_control"]
    return hint


def _text_part(text: str, hint: Any) -> Body:
    return {"type": "text", "text": text, "cache_control": hint}
