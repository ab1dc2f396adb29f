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

from router.answers.assembling import ChoicesAssembler, add_entries, keep_latest
from router.answers.replay import stream_envelope, usage_and_done
from router.wire.sse import data_event

_CHOICE_OWN = frozenset({"text", "index", "logprobs", "finish_reason"})


def replay_completion(answer: bytes, *, include_usage: bool) -> list[bytes]:
    """The SSE events of a stream carrying ``answer`` (a ``text_completion`` JSON object)."""
    completion = orjson.loads(answer)
    envelope = stream_envelope(completion, ChoicesAssembler.not_envelope, "cmpl-cached", "text_completion")
    events = []
    for choice in completion.get("choices", ()):
        index = choice.get("index", 0)
        text = {"text": choice.get("text", ""), "index": index, "logprobs": choice.get("logprobs")}
        events.append(data_event({**envelope, "choices": [{**text, "finish_reason": None}]}))
        reason = choice.get("finish_reason", "stop")
        finish = {"text": "", "index": index, "logprobs": None, "finish_reason": reason}
        finish.update((name, value) for name, value in choice.items() if name not in _CHOICE_OWN)
        events.append(data_event({**envelope, "choices": [finish]}))
    return events + usage_and_done(envelope, completion, include_usage=include_usage)


class CompletionAssembler(ChoicesAssembler):
    """Builds the ``text_completion`` a completions stream amounts to, event by event (``feed``
    never raises)."""

    __slots__ = ()

    noun = "a streamed completion"
    assembled_id = "cmpl-assembled"
    answer_object = "text_completion"

    def _new_choice(self, index: int) -> dict[str, Any]:
        return {"text": "", "index": index, "logprobs": None, "finish_reason": None}

    def _add(self, choice: dict[str, Any], chunk: dict[str, Any]) -> None:
        text = chunk.get("text")
        if isinstance(text, str):
            choice["text"] += text
        logprobs = chunk.get("logprobs")
        if isinstance(logprobs, dict):
            _merge_logprobs(choice, logprobs)
        keep_latest(choice, ((k, v) for k, v in chunk.items() if k not in ("text", "index", "logprobs")))


def _merge_logprobs(choice: dict[str, Any], logprobs: dict[str, Any]) -> None:
    """A chunk's logprobs (``tokens``, ``token_logprobs``, ``top_logprobs``, ``text_offset``:
    one entry per token) add to the choice's."""
    current = choice["logprobs"]
    if not isinstance(current, dict):
        current = choice["logprobs"] = {}
    add_entries(current, logprobs)
