"""Cached legacy completions: a ``text_completion`` replayed as its stream, and assembled from one.

Completions are made from chat but never translated back to it, so their answers are replayed
and assembled in their own shape, exactly: ``replay_completion`` sends each choice's whole
text with its logprobs, then its finish reason (with any other field the choice carries), the
usage chunk on request, and ``[DONE]``; ``CompletionAssembler`` does the reverse (texts and
the legacy logprob lists accumulate per choice, anything else keeps its latest value).
Assembling is bounded and never raises, as chat's ``StreamAssembler``: a stream past a bound
or malformed is dropped, with one warning, and its answer is simply not kept.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.answers.assembling import BoundedAssembler, Malformed
from router.answers.replay import MAX_CHOICES
from router.wire.sse import DONE_EVENT, data_event, event_json

_NOT_ENVELOPE = frozenset({"object", "choices", "usage"})
_CHOICE_OWN = frozenset({"text", "index", "logprobs", "finish_reason"})


def replay_completion(answer: bytes, *, include_usage: bool) -> list[bytes]:
    """The SSE events of a stream carrying ``answer`` (a ``text_completion`` JSON object)."""
    completion = orjson.loads(answer)
    envelope = {name: value for name, value in completion.items() if name not in _NOT_ENVELOPE}
    envelope.setdefault("id", "cmpl-cached")
    envelope.setdefault("created", 0)
    envelope.setdefault("model", "")
    envelope["object"] = "text_completion"
    events = []
    for choice in completion.get("choices", ()):
        index = choice.get("index", 0)
        text = {"text": choice.get("text", ""), "index": index, "logprobs": choice.get("logprobs")}
        events.append(data_event({**envelope, "choices": [{**text, "finish_reason": None}]}))
        reason = choice.get("finish_reason", "stop")
        finish = {"text": "", "index": index, "logprobs": None, "finish_reason": reason}
        finish.update((name, value) for name, value in choice.items() if name not in _CHOICE_OWN)
        events.append(data_event({**envelope, "choices": [finish]}))
    if include_usage and completion.get("usage") is not None:
        events.append(data_event({**envelope, "choices": [], "usage": completion["usage"]}))
    events.append(DONE_EVENT)
    return events


class CompletionAssembler(BoundedAssembler):
    """Builds the ``text_completion`` a completions stream amounts to, event by event.

    ``feed`` never raises: a stream that cannot be assembled sets ``dropped`` (with one
    warning) and ``answer`` is then None; the stream itself is none the worse."""

    __slots__ = ("_choices", "_envelope", "_usage")

    noun = "a streamed completion"

    def __init__(self, *, max_bytes: int) -> None:
        super().__init__(max_bytes=max_bytes)
        self._envelope: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: Any = None

    def _forget(self) -> None:
        self._envelope, self._choices, self._usage = {}, {}, None

    def _feed(self, event: bytes) -> None:
        payload = event_json(event)
        if not isinstance(payload, dict):
            return  # [DONE], comments
        for name, value in payload.items():
            if name not in _NOT_ENVELOPE and (value is not None or name not in self._envelope):
                self._envelope[name] = value
        if payload.get("usage"):
            self._usage = payload["usage"]
        for chunk in payload.get("choices") or ():
            if isinstance(chunk, dict):
                self._add(chunk)

    def _add(self, chunk: dict[str, Any]) -> None:
        index = chunk.get("index", 0)
        if type(index) is not int or index < 0:
            raise Malformed(f"a choice's index is {str(index)[:40]!r}")
        choice = self._choices.get(index)
        if choice is None:
            if len(self._choices) >= MAX_CHOICES:
                raise Malformed(f"the stream has more than {MAX_CHOICES} choices")
            choice = {"text": "", "index": index, "logprobs": None, "finish_reason": None}
            self._choices[index] = choice
        text = chunk.get("text")
        if isinstance(text, str):
            choice["text"] += text
        logprobs = chunk.get("logprobs")
        if isinstance(logprobs, dict):
            _merge_logprobs(choice, logprobs)
        for name, value in chunk.items():
            if name not in ("text", "index", "logprobs") and (value is not None or name not in choice):
                choice[name] = value

    def answer(self) -> bytes | None:
        """The assembled answer, or None if the stream carried no choice or was dropped."""
        if self.dropped or not self._choices:
            return None
        completion: dict[str, Any] = {"id": "cmpl-assembled", "created": 0, "model": ""}
        completion.update(self._envelope)
        completion["object"] = "text_completion"
        completion["choices"] = [self._choices[index] for index in sorted(self._choices)]
        if self._usage is not None:
            completion["usage"] = self._usage
        return orjson.dumps(completion)


def _merge_logprobs(choice: dict[str, Any], logprobs: dict[str, Any]) -> None:
    """A chunk's logprobs (``tokens``, ``token_logprobs``, ``top_logprobs``, ``text_offset``:
    one entry per token) add to the choice's."""
    current = choice["logprobs"]
    if not isinstance(current, dict):
        choice["logprobs"] = {name: list(v) if isinstance(v, list) else v for name, v in logprobs.items()}
        return
    for name, entries in logprobs.items():
        before = current.get(name)
        if isinstance(entries, list) and isinstance(before, list):
            before.extend(entries)
        elif entries is not None or name not in current:
            current[name] = list(entries) if isinstance(entries, list) else entries
