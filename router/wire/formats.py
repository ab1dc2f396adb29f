"""What Raceway must know of each dialect's wire format, whoever speaks it.

A ``WireFormat`` answers the questions the dispatch, the relay and the cache ask of an
answer or a stream without caring whose it is: is this JSON an answer at all, how many
tokens did it use, is this event content (a streaming race commits on it), is it the last
one, what usage does it report, what failure does it report (``failure_in``: an upstream that
fails midway says so with an event of its format); and how to tell the client of an error in its
own shapes.

- chat, completions: answers hold ``choices``; streams end with ``data: [DONE]``; content is
  a delta's text, tool call or refusal (completions: a choice's text), or a finish reason.
- messages: answers hold ``content``; streams end with ``message_stop``; content is a
  ``content_block_delta``, a tool_use block starting, or ``message_delta``.
- responses: answers hold ``output``; streams end with ``response.completed``,
  ``response.incomplete`` or ``response.failed``; content is any ``*.delta``, or that end. A
  failed stream ends as OpenAI's service ends one: ``error``, then ``response.failed``.
- gemini: answers hold ``candidates`` (or only ``promptFeedback``, for a blocked prompt); a
  stream ends with the event whose candidates all carry a ``finishReason`` (the Gemini API sends
  its usage in it) and has no other terminator; content is a text or function call part, or a
  finish; errors are Google's ``{"error": {"code", "message", "status"}}``, as JSON and as the
  event that ends a failed stream.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from router.errors import GatewayError
from router.wire.dialect import Dialect
from router.wire.errors import anthropic_error, error_document, failure
from router.wire.response import response_object
from router.wire.sse import (
    carries_usage,
    data_event,
    event_json,
    has_content,
    is_done,
    named_event,
    read_event,
)
from router.wire.usage import Usage, chat_usage, gemini_usage, messages_usage, responses_usage

_RESPONSES_ENDS = (b"response.completed", b"response.incomplete", b"response.failed")


@dataclass(frozen=True, slots=True)
class StreamFailure:
    """A failure a stream reported with an event: its message as sent (None when it had none)."""

    message: str | None


class WireFormat:
    """Chat's rules; the other dialects override what differs."""

    dialect = Dialect.CHAT
    answer_field = "choices"  # the list every answer of the dialect holds
    described = "a chat completion"

    def holds_answer(self, document: Any) -> bool:
        return isinstance(document, dict) and isinstance(document.get(self.answer_field), list)

    def answer_usage(self, document: Any) -> Usage | None:
        return chat_usage(document)

    def is_final(self, event: bytes) -> bool:
        return is_done(event)

    def has_content(self, event: bytes) -> bool:
        return has_content(event_json(event))

    def event_usage(self, event: bytes, before: Usage | None) -> Usage | None:
        """The usage the stream reported so far, after this event."""
        if not carries_usage(event):
            return before
        return chat_usage(event_json(event)) or before

    def is_usage_only(self, event: bytes) -> bool:
        """A chunk that only reports usage (one the client may not have asked for)."""
        payload = event_json(event)
        return isinstance(payload, dict) and not payload.get("choices")

    def finish_reasons(self, event: bytes) -> list[str]:
        """The finish reasons an event reports (chat's finish chunk), for a traced stream's span."""
        if b'"finish_reason"' not in event:
            return []
        payload = event_json(event)
        choices = payload.get("choices") if isinstance(payload, dict) else None
        if not isinstance(choices, list):
            return []
        return [str(c["finish_reason"]) for c in choices if isinstance(c, dict) and c.get("finish_reason")]

    def failure_in(self, event: bytes) -> StreamFailure | None:
        """The failure this event reports (the stream failed midway), or None: chat's
        ``data: {"error": {...}}`` (not ``"error": null``, which some upstreams put in every
        chunk). Cheap for every other event: a search for ``"error"`` before any parsing."""
        if b'"error"' not in event:
            return None
        payload = event_json(event)
        if not isinstance(payload, dict) or payload.get("error") is None:
            return None
        return StreamFailure(_message_of(payload["error"]))

    def error_body(self, error: GatewayError) -> bytes:
        return error.to_json()

    def error_event(self, error: GatewayError, sequence: int, opening: bytes | None = None) -> bytes:
        """The event(s) that end a stream that failed; ``sequence``: how many events went
        before, ``opening``: the first of them (None when none did)."""
        return data_event(error.to_dict())


class CompletionsFormat(WireFormat):
    dialect = Dialect.COMPLETIONS
    described = "a text completion"

    def has_content(self, event: bytes) -> bool:
        payload = event_json(event)
        choices = payload.get("choices") if isinstance(payload, dict) else None
        return isinstance(choices, list) and any(
            isinstance(choice, dict) and (choice.get("text") or choice.get("finish_reason"))
            for choice in choices
        )


class MessagesFormat(WireFormat):
    dialect = Dialect.MESSAGES
    answer_field = "content"
    described = "an Anthropic message"

    def answer_usage(self, document: Any) -> Usage | None:
        return messages_usage(document.get("usage")) if isinstance(document, dict) else None

    def is_final(self, event: bytes) -> bool:
        return event.startswith(b"event: message_stop") or _event_type(event) == "message_stop"

    def has_content(self, event: bytes) -> bool:
        kind = _event_type(event)
        if kind in ("content_block_delta", "message_delta", "message_stop"):
            return True
        if kind != "content_block_start":
            return False
        _name, payload = read_event(event)  # a tool call starting is content; empty text is not
        block = payload.get("content_block") if isinstance(payload, dict) else None
        return isinstance(block, dict) and block.get("type") not in ("text", "thinking")

    def event_usage(self, event: bytes, before: Usage | None) -> Usage | None:
        if b'"usage"' not in event:
            return before
        _name, payload = read_event(event)
        if not isinstance(payload, dict):
            return before
        if payload.get("type") == "message_start" and isinstance(payload.get("message"), dict):
            return messages_usage(payload["message"].get("usage"), before) or before
        return messages_usage(payload.get("usage"), before) or before

    def is_usage_only(self, event: bytes) -> bool:
        return False

    def finish_reasons(self, event: bytes) -> list[str]:
        """``message_delta``'s ``stop_reason``."""
        if b'"stop_reason"' not in event:
            return []
        _name, payload = read_event(event)
        delta = payload.get("delta") if isinstance(payload, dict) else None
        reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        return [reason] if isinstance(reason, str) else []

    def failure_in(self, event: bytes) -> StreamFailure | None:
        """Anthropic's ``event: error``, ``{"type": "error", "error": {"type", "message"}}``."""
        if b'"error"' not in event:
            return None
        _name, payload = read_event(event)
        if not isinstance(payload, dict) or (payload.get("type") != "error" and payload.get("error") is None):
            return None
        return StreamFailure(_message_of(payload.get("error")))

    def error_body(self, error: GatewayError) -> bytes:
        return orjson.dumps(self._error(error))

    def error_event(self, error: GatewayError, sequence: int, opening: bytes | None = None) -> bytes:
        return named_event("error", self._error(error))

    @staticmethod
    def _error(error: GatewayError) -> dict[str, Any]:
        return anthropic_error(error.status_code, _message_to_client(error))


class ResponsesFormat(WireFormat):
    dialect = Dialect.RESPONSES
    answer_field = "output"
    described = "a response"

    def answer_usage(self, document: Any) -> Usage | None:
        return responses_usage(document.get("usage")) if isinstance(document, dict) else None

    def is_final(self, event: bytes) -> bool:
        head = event[:80]
        return any(end in head for end in _RESPONSES_ENDS) and _event_type(event) in _RESPONSE_END_TYPES

    def has_content(self, event: bytes) -> bool:
        kind = _event_type(event) or ""
        return kind.endswith(".delta") or kind in _RESPONSE_END_TYPES

    def event_usage(self, event: bytes, before: Usage | None) -> Usage | None:
        if not self.is_final(event):
            return before
        _name, payload = read_event(event)
        response = payload.get("response") if isinstance(payload, dict) else None
        return (responses_usage(response.get("usage")) if isinstance(response, dict) else None) or before

    def is_usage_only(self, event: bytes) -> bool:
        return False

    def finish_reasons(self, event: bytes) -> list[str]:
        """The last event's status, and why an incomplete response stopped (``max_output_tokens``)."""
        if not self.is_final(event):
            return []
        _name, payload = read_event(event)
        response = payload.get("response") if isinstance(payload, dict) else None
        if not isinstance(response, dict) or not isinstance(response.get("status"), str):
            return []
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return [reason if isinstance(reason, str) else response["status"]]

    def failure_in(self, event: bytes) -> StreamFailure | None:
        """The Responses API's ``error`` event (the error itself: ``code``, ``message``) or
        ``response.failed`` (its response's ``error`` says why; without one it is only the end)."""
        if b'"error"' not in event and b"response.failed" not in event:
            return None
        _name, payload = read_event(event)
        if not isinstance(payload, dict):
            return None
        kind = payload.get("type")
        if kind == "response.failed" and isinstance(payload.get("response"), dict):
            error = payload["response"].get("error")
            return None if error is None else StreamFailure(_message_of(error))
        if kind == "error" and isinstance(payload.get("message"), str):
            return StreamFailure(_message_of(payload))
        return super().failure_in(event)

    def error_event(self, error: GatewayError, sequence: int, opening: bytes | None = None) -> bytes:
        """OpenAI's ending of a failed response (``failure``): ``error``, then ``response.failed``
        with the response its stream opened with (``response.created``), failed."""
        body = error.to_dict().get("error", {})
        events = failure(_opened_response(opening), body)
        return b"".join(
            named_event(kind, {"type": kind, **fields, "sequence_number": sequence + i})
            for i, (kind, fields) in enumerate(events)
        )


class GeminiFormat(WireFormat):
    dialect = Dialect.GEMINI
    answer_field = "candidates"
    described = "a Gemini answer"

    def holds_answer(self, document: Any) -> bool:
        return isinstance(document, dict) and (
            isinstance(document.get("candidates"), list) or isinstance(document.get("promptFeedback"), dict)
        )

    def answer_usage(self, document: Any) -> Usage | None:
        return gemini_usage(document.get("usageMetadata")) if isinstance(document, dict) else None

    def is_final(self, event: bytes) -> bool:
        if b'"finishReason"' not in event:
            return False
        candidates = _candidates(event)
        return bool(candidates) and all(candidate.get("finishReason") for candidate in candidates)

    def has_content(self, event: bytes) -> bool:
        for candidate in _candidates(event):
            if candidate.get("finishReason"):
                return True
            content = candidate.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in parts if isinstance(parts, list) else ():
                if isinstance(part, dict) and (part.get("text") or part.get("functionCall")):
                    return True
        return False

    def event_usage(self, event: bytes, before: Usage | None) -> Usage | None:
        if b'"usageMetadata"' not in event:
            return before
        payload = event_json(event)
        return (gemini_usage(payload.get("usageMetadata")) if isinstance(payload, dict) else None) or before

    def is_usage_only(self, event: bytes) -> bool:
        return False  # a Gemini client always gets the usage: there is no asking for it

    def finish_reasons(self, event: bytes) -> list[str]:
        if b'"finishReason"' not in event:
            return []
        return [str(c["finishReason"]) for c in _candidates(event) if c.get("finishReason")]

    def error_body(self, error: GatewayError) -> bytes:
        return orjson.dumps(self._error(error))

    def error_event(self, error: GatewayError, sequence: int, opening: bytes | None = None) -> bytes:
        return data_event(self._error(error))

    @staticmethod
    def _error(error: GatewayError) -> dict[str, Any]:
        return error_document(error.status_code, _message_to_client(error), error.retry_after)


def _message_of(error: Any) -> str | None:
    """The ``message`` of an error object, when it has one (as sent: scrubbing is the reader's)."""
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


def _message_to_client(error: GatewayError) -> str:
    message: str = error.to_dict().get("error", {}).get("message", error.message)
    return message


def _candidates(event: bytes) -> list[dict[str, Any]]:
    payload = event_json(event)
    candidates = payload.get("candidates") if isinstance(payload, dict) else None
    return [c for c in candidates if isinstance(c, dict)] if isinstance(candidates, list) else []


def _opened_response(opening: bytes | None) -> dict[str, Any]:
    """The response a Responses stream opened with, or a response of its own when none did."""
    _name, payload = read_event(opening) if opening is not None else (None, None)
    response = payload.get("response") if isinstance(payload, dict) else None
    if isinstance(response, dict):
        return response
    return response_object(
        base=uuid.uuid4().hex,
        created_at=None,
        model="",
        status="in_progress",
        output=[],
        usage=None,
        incomplete_details=None,
    )


_RESPONSE_END_TYPES = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _event_type(event: bytes) -> str | None:
    """The event's name (``event: NAME``), or its data's ``type`` when it has no name line."""
    if event.startswith(b"event:"):
        line = event.split(b"\n", 1)[0]
        return line[6:].strip().decode(errors="replace")
    _name, payload = read_event(event)
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


FORMATS: dict[Dialect, WireFormat] = {
    Dialect.CHAT: WireFormat(),
    Dialect.COMPLETIONS: CompletionsFormat(),
    Dialect.MESSAGES: MessagesFormat(),
    Dialect.RESPONSES: ResponsesFormat(),
    Dialect.GEMINI: GeminiFormat(),
}
