"""``server.response_model: public``: the ``model`` of answers and stream chunks says the name the
client asked for, not the upstream's.

Done on the bytes, without parsing: the first ``"model": "..."`` field of an answer or chunk
is replaced. A JSON string cannot hold an unescaped quote, so those bytes are always the
field itself, never text inside a value. The upstream writes the field the same way in every
chunk of a stream, so once found it is looked for with ``bytes.find`` (a regular expression
only for the first chunk, or one where the field changed).
"""

from __future__ import annotations

import re

import orjson

_MODEL_FIELD = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')


class PublicModelName:
    """Rewrites the answers to one request; a stream's chunks pass through it in order."""

    __slots__ = ("_field", "_upstream")

    def __init__(self, public: str) -> None:
        self._field = b'"model":' + orjson.dumps(public)
        self._upstream: bytes | None = None  # the field as the upstream wrote it

    def __call__(self, data: bytes) -> bytes:
        upstream = self._upstream
        if upstream is not None and (start := data.find(upstream)) >= 0:
            return data[:start] + self._field + data[start + len(upstream) :]
        match = _first_model_field(data)
        if match is None:
            return data
        self._upstream = match.group()
        return data[: match.start()] + self._field + data[match.end() :]


def _first_model_field(data: bytes) -> re.Match[bytes] | None:
    # ``find`` skips ahead at memchr speed (an embeddings answer puts the field after its vectors).
    start = 0
    while (at := data.find(b'"model"', start)) >= 0:
        if match := _MODEL_FIELD.match(data, at):
            return match
        start = at + 1
    return None
