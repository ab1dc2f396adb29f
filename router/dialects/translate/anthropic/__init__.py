"""Translation between Anthropic Messages (``/v1/messages``) and OpenAI Chat Completions, the pivot.

Requests (``messages_request_to_chat`` ->, ``chat_request_to_messages`` <-). Way: ``<->`` both,
``->``/``<-`` one way only, ``~`` approximated, ``drop`` dropped, ``400`` refused (InvalidRequest).

| Messages                                   | chat                                        | way  | note |
|--------------------------------------------|---------------------------------------------|------|------|
| `system` (string or text blocks)           | first `system` message                      | <->  | 1    |
| `system`                                   | `system`/`developer` messages, anywhere     | <- ~ | 2    |
| alternating user/assistant turns           | consecutive same-role messages              | <- ~ | 3    |
| `text` block                               | `text` part (a string stays a string)       | <->  | 4    |
| `image` block, `base64` / `url` source     | `image_url`, `data:` URL / http(s) URL      | <->  |      |
| `document`, `text` source                  | `text` part                                 | -> ~ |      |
| `document`, `base64` source                | `file` part with `file_data` data URL       | <->  | 5    |
| `tool_use` block (assistant)               | `tool_calls[]`, arguments = JSON of `input` | <->  | 6    |
| `tool_result` block (user)                 | `role: tool` message per result             | <->  | 7    |
| `thinking` / `redacted_thinking` (history) | `thinking_blocks` + `reasoning_content`     | <->  | 8    |
| `server_tool_use`, `*_tool_result` blocks  | -                                           | drop | 9    |
| other block / part types                   | -                                           | 400  |      |
| `max_tokens`                               | `max_completion_tokens` / `max_tokens`      | <->  | 10   |
| `stop_sequences`                           | `stop` (string or list)                     | <->  |      |
| `temperature`, `top_p`                     | `temperature`, `top_p`                      | <->  | 11   |
| `top_k`                                    | -                                           | drop |      |
| `tools` (custom)                           | function `tools`                            | <->  | 12   |
| server `tools` (web_search, bash, ...)     | -                                           | drop | 12   |
| `tool_choice` auto / any / tool / none     | auto / required / function / none           | <->  | 13   |
| `tool_choice.disable_parallel_tool_use`    | `parallel_tool_calls: false`                | <->  |      |
| `thinking` enabled, `budget_tokens`        | `reasoning_effort`                          | <-> ~| 14   |
| `thinking` adaptive / disabled             | `reasoning_effort: medium` / none           | -> ~ |      |
| `output_config.effort`                     | `reasoning_effort` (xhigh, max -> high)     | -> ~ |      |
| `output_config.format` json_schema         | `response_format` json_schema               | <->  | 15   |
| `metadata.user_id`                         | `user`                                      | <->  |      |
| `stream`                                   | `stream` + `stream_options.include_usage`   | <->  |      |
| `context_management`, `service_tier`, ...  | -                                           | drop | 16   |
| -                                          | `n` > 1, `logprobs`, audio output           | 400  | 17   |
| -                                          | role `function` (legacy)                    | 400  |      |
| -                                          | `seed`, penalties, `logit_bias`, ...        | drop | 18   |

1. Text blocks joined by a blank line; `cache_control` dropped here, and put back on chat's
   counterparts for litellm's Anthropic family by the bridge (``translate/cache_hints.py``).
2. Mid-conversation system/developer messages move into `system` (Anthropic has one).
3. Merged: Anthropic requires alternation. A user turn's tool results go first in it. A chat
   message with nothing to say (empty content, no calls) is skipped: Anthropic refuses empty turns.
4. `cache_control` (but see 1) and `citations` dropped.
5. `url`, `file` and `content` document sources are refused; chat files need `file_data`.
6. Chat arguments that are not a JSON object: 400 naming `messages[i].tool_calls[j]...`.
7. Tool messages come right after the assistant's calls, the turn's other blocks follow in a
   user message. Text blocks joined; `is_error: true` prefixes the content with `"Error: "`
   (chat has no flag; not recovered on the way back); images in a result move to that
   following user message (chat tool messages hold text only).
8. Chat `reasoning_content` without `thinking_blocks` is dropped towards Anthropic, which
   refuses unsigned thinking in history.
9. They belong to server tools, which a chat upstream cannot run.
10. Chat without either: 4096 (Anthropic requires it).
11. Chat temperature above 1 is clamped to 1; both dropped towards Anthropic when thinking is
    on (Anthropic refuses them with thinking).
12. Server tools have a `type` other than `custom`; a tool choice naming one falls back to
    auto. Chat `strict` dropped; chat non-function tools refused.
13. `tool` <-> `{type: function, function: {name}}`. Chat `allowed_tools` choices are refused.
14. Budget -> effort: low (<= 2048), medium (<= 16384), high. Effort -> budget: low 1024,
    medium 8192, high 24576, and `max_tokens` raised by the budget when not above it;
    `minimal` / `none` -> no thinking. Effort dropped (a hint) where Anthropic would refuse
    thinking: with a forced tool choice, or when the last assistant turn has tool calls
    without its signed thinking blocks (a chat client that does not keep them).
15. Also the beta top-level `output_format`. Chat `json_object` is refused (no schema).
16. Also `container`, `mcp_servers`, `cache_control` anywhere: hints.
17. The client expects what Anthropic cannot give (n choices, logprobs, audio).
18. Also `store`, `metadata`, `prompt_cache_key`, `stream_options`: no counterpart. Towards
    chat, the bridge sets `prompt_cache_key` to the session's hash (``translate/cache_hints.py``).

Answers (``messages_answer_to_chat``, ``chat_answer_to_messages``) and streams
(``MessagesEventsToChat``, ``ChatEventsToMessages``):

| Messages                                   | chat                                        | way  | note |
|--------------------------------------------|---------------------------------------------|------|------|
| `id` `msg_X`                               | `chatcmpl-msg_X`                            | <->  | 19   |
| `text` blocks                              | `content` (joined; None when none)          | <->  | 4    |
| `text` block                               | `refusal`                                   | <- ~ |      |
| `thinking` / `redacted_thinking` blocks    | `reasoning_content` + `thinking_blocks`     | <->  | 20   |
| `tool_use` blocks                          | `tool_calls`                                | <->  | 21   |
| `server_tool_use`, `*_tool_result` blocks  | -                                           | drop |      |
| `stop_reason`                              | `finish_reason`                             | <->  | 22   |
| `usage.input_tokens` (without cache)       | `prompt_tokens` (input + cache r + cache w) | <->  |      |
| `cache_read_input_tokens`                  | `prompt_tokens_details.cached_tokens`       | <->  |      |
| `cache_creation_input_tokens`              | `cache_creation_input_tokens`               | <->  |      |
| `output_tokens`                            | `completion_tokens`                         | <->  |      |
| `output_tokens_details.thinking_tokens`    | `completion_tokens_details.reasoning_tokens` | <->  |      |
| stream `signature_delta`                   | delta `thinking_blocks` with the signature  | <->  | 23   |
| stream `error` event                       | `{"error": {...}}` event                    | <->  | 24   |
| `ping`, `citations_delta`, unknown events  | -                                           | drop |      |

19. Back: `chatcmpl-` stripped, `msg_` added when missing.
20. Chat reasoning without `thinking_blocks` (DeepSeek, vLLM) -> one thinking block with an
    empty signature.
21. Stream: `index` = position among the tool calls. Chat arguments that are not JSON in a
    whole answer: UpstreamError (502). A chat stream interleaving the argument pieces of
    several calls cannot be told as Anthropic blocks (one block is open at a time): pieces for
    a call whose block is already closed are dropped.
22. end_turn, stop_sequence, pause_turn -> stop; max_tokens, model_context_window_exceeded ->
    length; tool_use <-> tool_calls; refusal <-> content_filter. Back: stop -> end_turn with
    `stop_sequence` null (chat does not say which sequence).
23. `[{type: thinking, thinking, signature, index}]`, with the block's whole thinking (its
    pieces came as `reasoning_content`), so the accumulated block is the one the signature
    signs, as in a whole answer: a client sends it back, and the cache keeps it. The `index`
    (position among the thinking blocks) is ours, so the openai SDK's accumulator can merge
    several blocks. Back, such a block's text is not counted twice.
24. Nothing is emitted after it.
"""

from __future__ import annotations

from router.dialects.translate.anthropic.answers import chat_answer_to_messages, messages_answer_to_chat
from router.dialects.translate.anthropic.common import FINISH_TO_STOP, SERVER_BLOCK_TYPES, STOP_TO_FINISH
from router.dialects.translate.anthropic.request_from_chat import (
    DEFAULT_MAX_TOKENS,
    THINKING_BUDGETS,
    chat_request_to_messages,
)
from router.dialects.translate.anthropic.request_to_chat import (
    LOW_BUDGET_LIMIT,
    MEDIUM_BUDGET_LIMIT,
    TOOL_ERROR_PREFIX,
    messages_request_to_chat,
)
from router.dialects.translate.anthropic.stream_from_chat import ERROR_TYPES, ChatEventsToMessages
from router.dialects.translate.anthropic.stream_to_chat import MessagesEventsToChat

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "ERROR_TYPES",
    "FINISH_TO_STOP",
    "LOW_BUDGET_LIMIT",
    "MEDIUM_BUDGET_LIMIT",
    "SERVER_BLOCK_TYPES",
    "STOP_TO_FINISH",
    "THINKING_BUDGETS",
    "TOOL_ERROR_PREFIX",
    "ChatEventsToMessages",
    "MessagesEventsToChat",
    "chat_answer_to_messages",
    "chat_request_to_messages",
    "messages_answer_to_chat",
    "messages_request_to_chat",
]
