"""The types an upstream answer must have for its translation into another dialect to be faithful.

The translators read answers defensively: a value of the wrong type would become a string
(a ``null`` tool id as ``"None"``) or vanish (a chat ``content`` that is a list of nothing).
An answer that crosses dialects is therefore checked first, at the boundary where the bridge
accepts it (``router.dialects.bridge``), for the fields the translators read, each with the
type its wire API's own specification gives it; one that fails is no answer
(``upstream_invalid_answer``: the next deployment is tried, else 502). Streams are checked
event by event the same way (before the first content a failure fails over; after it, the
stream is cut). Fields the translators do not read are not checked, nor is an answer that goes
to a client of its own dialect (it is relayed as the upstream sent it).

Per wire, what is checked (``?``: may be absent or null):

- chat: ``choices`` (at least one), each with a ``message`` whose ``content`` is a string,
  null or a non-empty list of typed parts, ``refusal?`` / ``reasoning_content?`` strings,
  ``tool_calls?`` each with a non-empty string ``id``, a ``function`` with a non-empty
  ``name`` and string ``arguments``; ``finish_reason?`` a string; usage counts whole numbers.
  Stream chunks: the same fields of each ``delta`` (a tool call piece's ``id?``, ``name?``
  and ``arguments?`` strings, its ``index?`` a whole number).
- messages: ``id``, ``content`` blocks each with a string ``type``; text's ``text``, tool
  use's non-empty ``id`` and ``name`` and object ``input``, thinking's ``thinking`` and
  ``signature``, redacted thinking's ``data``; ``stop_reason?``; usage counts. Stream events:
  their ``index``, block and delta fields likewise.
- responses: ``id``, ``output`` items each with a string ``type``; message parts' ``text`` /
  ``refusal``, function calls' non-empty ``call_id`` and ``name`` and string ``arguments``,
  reasoning summaries' ``text``; usage counts. Stream events: each delta's ``delta``, each
  item event's ``output_index`` and ``item``, each lifecycle event's ``response``.
- gemini: ``candidates?`` each with ``content?`` whose ``parts?`` hold ``text?`` strings,
  ``thought?`` flags, ``thoughtSignature?`` strings and ``functionCall?`` objects with a
  non-empty ``name`` and ``args?`` an object; ``finishReason?``; usage counts (either spelling,
  camelCase or snake_case). Stream chunks are checked as answers.

One module per wire (``chat``, ``messages``, ``responses``, ``gemini``) over the vocabulary of
``fields``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from router.dialects.shapes.chat import chat_answer, chat_event
from router.dialects.shapes.fields import Fault
from router.dialects.shapes.gemini import gemini_answer, gemini_event
from router.dialects.shapes.messages import messages_answer, messages_event
from router.dialects.shapes.responses import responses_answer, responses_event
from router.wire.dialect import Dialect

_ANSWERS: Mapping[Dialect, Callable[[Any], None]] = {
    Dialect.CHAT: chat_answer,
    Dialect.MESSAGES: messages_answer,
    Dialect.RESPONSES: responses_answer,
    Dialect.GEMINI: gemini_answer,
}
_EVENTS: Mapping[Dialect, Callable[[Any], None]] = {
    Dialect.CHAT: chat_event,
    Dialect.MESSAGES: messages_event,
    Dialect.RESPONSES: responses_event,
    Dialect.GEMINI: gemini_event,
}


def answer_fault(wire: Dialect, answer: Any) -> str | None:
    """What is wrong with ``answer``, a whole answer of ``wire``, for a translator; None: nothing."""
    try:
        _ANSWERS[wire](answer)
    except Fault as fault:
        return str(fault)
    return None


def event_fault(wire: Dialect, payload: Any) -> str | None:
    """What is wrong with ``payload``, the data of a stream event of ``wire``; None: nothing
    (also for an event without data, a keep-alive or chat's ``[DONE]``)."""
    if payload is None:
        return None
    try:
        _EVENTS[wire](payload)
    except Fault as fault:
        return str(fault)
    return None
