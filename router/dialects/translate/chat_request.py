"""Reading a chat request, for the translators that write it in another dialect.

The Messages and Gemini translators walk chat's messages the same way: system and developer
messages gather into one system text, each other message becomes a turn of pieces (blocks,
parts) in the translator's own words, and consecutive turns of one role merge (both APIs want
the roles to alternate). A user content is read part by part the same way too. What a piece
looks like stays each translator's. Both take only function tools.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from router.dialects.translate.anthropic.common import text_of
from router.errors import InvalidRequest
from router.wire.values import as_dict, as_list


def system_and_others(messages: list[Any]) -> tuple[str, list[tuple[str, dict[str, Any], str]]]:
    """``messages`` as (the system text, the other messages as (role, message, where)): the
    system and developer messages' texts joined; the others are user, tool or assistant
    messages, any other role is refused."""
    system: list[str] = []
    others: list[tuple[str, dict[str, Any], str]] = []
    for i, message in enumerate(messages):
        message = as_dict(message)
        role = message.get("role")
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            text = text_of(message.get("content"))
            if text:
                system.append(text)
        elif role in ("user", "tool", "assistant"):
            others.append((role, message, where))
        else:
            raise InvalidRequest(f"{where}.role {role!r} cannot be translated", param=f"{where}.role")
    return "\n\n".join(system), others


def alternating(turns: Iterable[tuple[str, list[dict[str, Any]]]], key: str) -> list[dict[str, Any]]:
    """(role, pieces) as turns ``{"role": role, key: pieces}``: a turn without pieces is left
    out (its neighbours may merge instead), consecutive turns of one role merge."""
    merged: list[dict[str, Any]] = []
    for role, pieces in turns:
        if not pieces:
            continue
        if merged and merged[-1]["role"] == role:
            merged[-1][key].extend(pieces)
        else:
            merged.append({"role": role, key: pieces})
    return merged


def user_parts(content: Any, where: str) -> Iterator[tuple[Any, dict[str, Any], str]]:
    """A chat user content's parts as (type, part, where); a string content is one text part."""
    if isinstance(content, str):
        yield "text", {"type": "text", "text": content}, where
        return
    for j, part in enumerate(as_list(content)):
        part = as_dict(part)
        yield part.get("type"), part, f"{where}.content[{j}]"


def untranslatable_part(kind: Any, where: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: content parts of type {kind!r} cannot be translated", param=where)


def function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``function`` of each of the request's tools; a tool of another type is refused."""
    functions = []
    for j, tool in enumerate(as_list(body.get("tools"))):
        tool = as_dict(tool)
        if tool.get("type") != "function":
            where = f"tools[{j}]"
            raise InvalidRequest(f"{where}: only function tools can be translated", param=f"{where}.type")
        functions.append(as_dict(tool.get("function")))
    return functions
