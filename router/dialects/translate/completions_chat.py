"""Translation of legacy OpenAI Completions (``/v1/completions``) to a chat upstream and back.

Only one direction exists: a Completions client reaching a chat deployment. A Completions
upstream is not a wire API, so there is no chat -> Completions request translation.
Way: ``->`` request to chat, ``<-`` answer from chat, ``~`` approximated, ``drop`` dropped,
``400`` refused (InvalidRequest).

| Completions                                   | chat                                        | way  | note |
|-----------------------------------------------|---------------------------------------------|------|------|
| `prompt` string, or a list of one string      | one `user` message                          | -> ~ | 1    |
| `prompt` list of several, token-id arrays     | -                                           | 400  | 2    |
| `suffix`, `echo: true`, `best_of` > 1         | -                                           | 400  | 3    |
| `max_tokens` (absent: 16)                     | `max_tokens`                                | -> ~ | 4    |
| `temperature`, `top_p`, `n`, `stop`, `seed`   | same                                        | ->   |      |
| `presence_penalty`, `frequency_penalty`       | same                                        | ->   |      |
| `logit_bias`, `user`                          | same                                        | ->   |      |
| `logprobs: k`                                 | `logprobs: true`, `top_logprobs: k`         | ->   |      |
| `stream`                                      | `stream` + `stream_options.include_usage`   | ->   | 5    |
| `stream_options`, other fields                | -                                           | drop |      |
| `id` `cmpl-X`                                 | `chatcmpl-X`                                | <-   |      |
| `choices[].text`                              | message `content` (or `refusal`)            | <-   | 6    |
| `choices[].logprobs` tokens / token_logprobs / top_logprobs / text_offset | `logprobs.content` | <- ~ | 7 |
| `finish_reason` stop / length / content_filter| same; `tool_calls` -> stop                  | <-   |      |
| -                                             | `reasoning_content`, `tool_calls`           | drop | 8    |
| `usage`                                       | `usage` (token counts and details as is)    | <-   |      |
| stream text chunks                            | `delta.content`                             | <-   |      |
| error event                                   | chat error event (the same)                 | <-   |      |

1. A chat model reads the prompt as an instruction to answer, not as text to continue: the
   completion is the model's reply to the prompt. This is the approximation every gateway makes.
   An empty prompt (`""`, `[""]`: valid in OpenAI's specification) is an empty user message;
   towards Anthropic, which refuses empty turns, that leaves nothing to send: 400.
2. One request would need several chat calls (one per prompt); token ids need the model's
   tokenizer.
3. `suffix` (fill-in-the-middle) and `echo` have no chat counterpart; `best_of` would need
   several generations ranked by logprob.
4. OpenAI's legacy API defaults `max_tokens` to 16; chat's default is "until done". Sent
   explicitly so a client relying on the default gets the answer it expects.
5. The stream always ends with a usage chunk (`choices: []`) then `[DONE]`, as chat's.
6. Empty string when the message has neither.
7. `top_logprobs` entries become `{token: logprob}` maps; `text_offset` counts characters of
   the tokens before (tokens that split a character make it approximate).
8. No tools are sent, so no calls come back; reasoning has no place in a text completion.
"""

from __future__ import annotations

import time
from typing import Any

from router.dialects.translate.chat_chunks import FromChatChunks
from router.errors import InvalidRequest
from router.wire.sse import DONE_EVENT, data_event
from router.wire.values import as_dict, as_list, as_str, is_number

LEGACY_DEFAULT_MAX_TOKENS = 16

_COPIED = (
    "temperature",
    "top_p",
    "n",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "user",
    "logit_bias",
)

_FINISH_REASONS = frozenset({"stop", "length", "content_filter"})


def completions_request_to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A Completions request as a chat request (see the module's table)."""
    _refuse_unexpressible(body)
    chat: dict[str, Any] = {
        "model": body.get("model"),
        "messages": [{"role": "user", "content": _prompt(body)}],
    }
    max_tokens = body.get("max_tokens")
    chat["max_tokens"] = max_tokens if is_number(max_tokens) else LEGACY_DEFAULT_MAX_TOKENS
    for name in _COPIED:
        if body.get(name) is not None:
            chat[name] = body[name]
    logprobs = body.get("logprobs")
    if isinstance(logprobs, int) and not isinstance(logprobs, bool):
        chat["logprobs"] = True
        chat["top_logprobs"] = logprobs
    if body.get("stream") is not None:
        chat["stream"] = body["stream"]
        if body["stream"] is True:
            chat["stream_options"] = {"include_usage": True}
    return chat


def _prompt(body: dict[str, Any]) -> str:
    """The one prompt string: several prompts or token ids cannot be one chat message."""
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(one, str) for one in prompt):
        raise InvalidRequest(
            "several prompts in one request are not supported by this deployment", param="prompt"
        )
    raise InvalidRequest(
        "prompt must be a string; token ids are not supported by this deployment", param="prompt"
    )


def _refuse_unexpressible(body: dict[str, Any]) -> None:
    if body.get("suffix"):
        raise InvalidRequest("suffix is not supported by this deployment", param="suffix")
    if body.get("echo") is True:
        raise InvalidRequest("echo is not supported by this deployment", param="echo")
    best_of = body.get("best_of")
    if isinstance(best_of, int | float) and not isinstance(best_of, bool) and best_of > 1:
        raise InvalidRequest("best_of above 1 is not supported by this deployment", param="best_of")


def _completion_id(chat_id: Any) -> str:
    return "cmpl-" + (as_str(chat_id).removeprefix("chatcmpl-") or "0")


def _finish_reason(reason: Any) -> str | None:
    """Chat's finish reason as Completions': calls and the like end the text like a stop."""
    if reason is None:
        return None
    return reason if reason in _FINISH_REASONS else "stop"


def _legacy_logprobs(logprobs: Any, offset: int = 0) -> dict[str, Any] | None:
    """Chat's ``logprobs.content`` in the legacy shape; ``offset``: characters before them."""
    content = as_list(as_dict(logprobs).get("content"))
    if not isinstance(logprobs, dict) or not content:
        return None
    legacy: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for entry in content:
        entry = as_dict(entry)
        token = as_str(entry.get("token"))
        legacy["tokens"].append(token)
        legacy["token_logprobs"].append(entry.get("logprob"))
        legacy["top_logprobs"].append(
            {
                as_str(as_dict(top).get("token")): as_dict(top).get("logprob")
                for top in as_list(entry.get("top_logprobs"))
            }
        )
        legacy["text_offset"].append(offset)
        offset += len(token)
    return legacy


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(as_str(as_dict(part).get("text")) for part in content)
    return as_str(content) or as_str(message.get("refusal"))


def chat_answer_to_completions(answer: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion as a text_completion."""
    choices = []
    for position, choice in enumerate(as_list(answer.get("choices"))):
        choice = as_dict(choice)
        index = choice.get("index")
        choices.append(
            {
                "text": _text(as_dict(choice.get("message"))),
                "index": index if isinstance(index, int) else position,
                "logprobs": _legacy_logprobs(choice.get("logprobs")),
                "finish_reason": _finish_reason(choice.get("finish_reason")) or "stop",
            }
        )
    completion = {**_envelope(answer), "choices": choices}
    if isinstance(answer.get("system_fingerprint"), str):
        completion["system_fingerprint"] = answer["system_fingerprint"]
    if isinstance(answer.get("usage"), dict):
        completion["usage"] = answer["usage"]
    return completion


def _envelope(source: dict[str, Any]) -> dict[str, Any]:
    """The fields a text_completion (or a chunk of one) takes from its chat answer or chunk."""
    return {
        "id": _completion_id(source.get("id")),
        "object": "text_completion",
        "created": source["created"] if isinstance(source.get("created"), int) else int(time.time()),
        "model": as_str(source.get("model")),
    }


class ChatEventsToCompletions(FromChatChunks):
    """A chat stream as text_completion chunks, ending with the usage chunk and ``[DONE]``."""

    def __init__(self) -> None:
        self._offsets: dict[int, int] = {}  # characters sent per choice, for text_offset
        self.finished = False

    def _end(self) -> list[bytes]:
        self.finished = True
        return [DONE_EVENT]

    def _error(self, error: dict[str, Any]) -> list[bytes]:
        return [data_event({"error": error})]

    def _chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        """The text_completion chunks one chat chunk becomes."""
        choices = [c for c in map(self._choice, as_list(chunk.get("choices"))) if c is not None]
        usage = chunk.get("usage")
        if not choices and not isinstance(usage, dict):
            return []
        out = {**_envelope(chunk), "choices": choices}
        if isinstance(usage, dict):
            out["usage"] = usage
        return [data_event(out)]

    def _choice(self, choice: Any) -> dict[str, Any] | None:
        """One chat choice delta as a text choice; None when it carries neither text nor an end
        (the role chunk, reasoning, tool calls)."""
        choice = as_dict(choice)
        index = choice.get("index") if isinstance(choice.get("index"), int) else 0
        delta = as_dict(choice.get("delta"))
        text = as_str(delta.get("content")) or as_str(delta.get("refusal"))
        finish = _finish_reason(choice.get("finish_reason"))
        if not text and finish is None:
            return None
        offset = self._offsets.get(index, 0)
        self._offsets[index] = offset + len(text)
        return {
            "text": text,
            "index": index,
            "logprobs": _legacy_logprobs(choice.get("logprobs"), offset),
            "finish_reason": finish,
        }
