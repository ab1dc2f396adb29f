"""Which conversation a request belongs to: its session key, read from headers or the body.

A coding agent resends its whole history every turn, and the deployment that served the
previous turn holds that prefix in its prompt cache. The key that ties the turns together is
taken from the first of these that the request carries:

| source             | where                                                                    |
|--------------------|--------------------------------------------------------------------------|
| `header`           | the group's `affinity.header` (default `x-session-id`)                   |
| `agent`            | an agent's own session header: Claude Code's `x-claude-code-session-id`, |
|                    | Codex CLI's `session-id` (then its `thread-id`)                          |
| `prompt_cache_key` | the body's `prompt_cache_key` (Responses and chat)                       |
| `user`             | Anthropic's `metadata.user_id` (Messages)                                |
| `prefix`           | a hash of the cacheable prefix: system prompt (instructions), tools and  |
|                    | the first user message                                                   |

The prefix stops at the first user message rather than at the last ``cache_control``
breakpoint: agents move their last breakpoint to the newest message every turn, so a
prefix up to it would name a new session each turn, while the system prompt, the tools
and the opening request stay the same for the whole conversation.

The key is hashed (BLAKE2b, 16 bytes) at once; only the hash is stored, logged or sent on.
Reading it costs a header lookup for agents that name their session; the prefix is read
from the parsed body only when nothing else names the session, and then cheaply: the
tools by their names, long texts by their length, opening and end, never the whole history.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from router.wire.dialect import Dialect

# Agents' own session headers, in the order they are looked at. Codex CLI 0.169 sends
# ``session-id`` and ``thread-id`` (one id; also its body's ``prompt_cache_key``), seen on the wire.
AGENT_HEADERS = ("x-claude-code-session-id", "session-id", "thread-id")
_MAX_KEY = 1024  # characters of a key taken from a client: longer ones are cut before hashing
_CLIP = 4096  # bytes of a long text its fingerprint keeps: half from its start, half from its end


class SessionSource(enum.StrEnum):
    """Where a request's session key came from."""

    HEADER = "header"
    AGENT = "agent"
    PROMPT_CACHE_KEY = "prompt_cache_key"
    USER = "user"
    PREFIX = "prefix"


class AffinityResult(enum.StrEnum):
    """What affinity did with a request (the ``x-raceway-affinity`` header)."""

    HIT = "hit"  # served by the deployment that served the session's last turn
    NEW = "new"  # no live pin: placed afresh, and pinned where it was served
    MOVED = "moved"  # its pinned deployment could not serve it: served elsewhere, the pin follows
    OFF = "off"  # the group has no affinity (or the request no session)


class Session:
    """A request's session: its hashed key."""

    __slots__ = ("_keys", "identity", "source")

    def __init__(self, identity: bytes, source: SessionSource) -> None:
        self.identity = identity  # 16 bytes: the hash of the raw key and its source
        self.source = source
        self._keys: dict[str, bytes] = {}

    def key_for(self, group: str) -> bytes:
        """The session's key in one model group (a session in two groups has two pins)."""
        key = self._keys.get(group)
        if key is None:
            key = self._keys[group] = hashlib.blake2b(
                self.identity, digest_size=16, key=group.encode()[:64]
            ).digest()
        return key

    @property
    def hex(self) -> str:
        """What the access log shows and a chat upstream gets as ``prompt_cache_key``."""
        return self.identity.hex()


def session_of(
    dialect: Dialect, headers: Mapping[str, str], body: dict[str, Any], header: str
) -> Session | None:
    """The session of a request in ``dialect``; None when nothing identifies one (no prompt)."""
    raw = headers.get(header)
    if raw:
        return _hashed(SessionSource.HEADER, raw)
    for name in AGENT_HEADERS:
        raw = headers.get(name)
        if raw:
            return _hashed(SessionSource.AGENT, raw)
    if dialect is Dialect.RESPONSES or dialect is Dialect.CHAT:
        raw = body.get("prompt_cache_key")
        if isinstance(raw, str) and raw:
            return _hashed(SessionSource.PROMPT_CACHE_KEY, raw)
    elif dialect is Dialect.MESSAGES:
        metadata = body.get("metadata")
        raw = metadata.get("user_id") if isinstance(metadata, dict) else None
        if isinstance(raw, str) and raw:
            return _hashed(SessionSource.USER, raw)
    prefix = _prefix_of(dialect, body)
    if prefix is None:
        return None
    return Session(_digest(SessionSource.PREFIX, prefix), SessionSource.PREFIX)


def _hashed(source: SessionSource, raw: str) -> Session:
    return Session(_digest(source, raw[:_MAX_KEY].encode("utf-8", "surrogatepass")), source)


def _digest(source: SessionSource, raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16, person=source.value.encode()[:16]).digest()


def _prefix_of(dialect: Dialect, body: dict[str, Any]) -> bytes | None:
    """A fingerprint of the conversation's stable head: system prompt, tools, first user message.

    Cheap on a 90 KB agent prompt: the tools count by their names (their schemas are most of
    the bytes, and a tool set is known by its names), and a long text by its length, its
    opening and its end. Two conversations alike in all of that share a prompt cache anyway."""
    if dialect is Dialect.MESSAGES:
        system: Any = body.get("system")
        first = _first(body.get("messages"), "user")
    elif dialect is Dialect.CHAT:
        messages = body.get("messages")
        system = []
        for message in messages if isinstance(messages, list) else ():
            if not isinstance(message, dict) or message.get("role") not in ("system", "developer"):
                break
            system.append(message.get("content"))
        first = _first(messages, "user")
    elif dialect is Dialect.RESPONSES:
        raw_input = body.get("input")
        system = body.get("instructions")
        first = raw_input if isinstance(raw_input, str) else _first(raw_input, "user")
    else:  # legacy completions: the prompt's opening
        system, first = None, body.get("prompt")
        first = first if isinstance(first, str) else None
    if first is None:
        return None
    try:
        opening = orjson.dumps(first)
    except TypeError:  # validation lets through nothing orjson cannot write; be sure all the same
        opening = repr(first).encode()
    parts = [_clip(opening), _clip(_text_of(system).encode("utf-8", "surrogatepass"))]
    parts.extend(_tool_name(tool).encode() for tool in body.get("tools") or () if isinstance(tool, dict))
    return b"\x00".join(parts)


def _clip(data: bytes) -> bytes:
    if len(data) <= _CLIP:
        return data
    half = _CLIP // 2
    return b"%d:" % len(data) + data[:half] + data[-half:]


def _text_of(system: Any) -> str:
    """The text of a system prompt in any dialect's shape (a string, blocks or parts, a list of them)."""
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        return "\n".join(_text_of(part.get("text") if isinstance(part, dict) else part) for part in system)
    return ""


def _tool_name(tool: dict[str, Any]) -> str:
    function = tool.get("function")
    name = function.get("name") if isinstance(function, dict) else tool.get("name")
    return str(name if name is not None else tool.get("type"))


def _first(messages: Any, role: str) -> Any:
    for message in messages if isinstance(messages, list) else ():
        if isinstance(message, dict) and message.get("role") == role:
            return message
    return None
