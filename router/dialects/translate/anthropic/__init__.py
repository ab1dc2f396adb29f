"""Translation between Anthropic Messages (``/v1/messages``) and OpenAI Chat Completions, the pivot.

Requests (``messages_request_to_chat`` ->, ``chat_request_to_messages`` <-). Way: ``<->`` both,
``->``/``<-`` one way only, ``~`` approximated, ``drop`` dropped, ``400`` refused (InvalidRequest).

| Messages                                   | chat                                        | way  | note |
|--------------------------------------------|---------------------------------------------|------|------|
| `system` (string or text blocks)           | first `system` message                      | <->  | 1    |
| `system`                                   | `system`/`developer` messages, anywhere     | <- ~ | 2    |
| `system` message among `messages`          | `system` message, in place                  | ->   | 1    |
| alternating user/assistant turns           | consecutive same-role messages              | <- ~ | 3    |
| `text` block                               | `text` part (a string stays a string)       | <->  | 4    |
| `image` block, `base64` / `url` source     | `image_url`, `data:` URL / http(s) URL      | <->  |      |
| `document`, `text` source                  | `text` part                                 | -> ~ |      |
| `document`, `base64` source                | `file` part with `file_data` data URL       | <->  | 5    |
| `search_result` block                      | `text` part: title, source, then its text   | -> ~ | 4    |
| `tool_use` block (assistant)               | `tool_calls[]`, arguments = JSON of `input` | <->  | 6    |
| `tool_result` block (user)                 | `role: tool` message per result             | <->  | 7    |
| `thinking` / `redacted_thinking` (history) | `thinking_blocks` + `reasoning_content`     | <->  | 8, T1|
| `server_tool_use`, `*_tool_result` blocks  | -                                           | drop | 9    |
| other block / part types                   | -                                           | 400  |      |
| `max_tokens`                               | `max_completion_tokens` / `max_tokens`      | <->  | 10,T1|
| `stop_sequences`                           | `stop` (string or list)                     | <->  |      |
| `temperature`, `top_p`                     | `temperature`, `top_p`                      | <->  | 11   |
| `top_k`                                    | -                                           | drop |      |
| `tools` (custom)                           | function `tools`                            | <->  | 12   |
| server `tools` (web_search, bash, ...)     | -                                           | drop | 12   |
| `tool_choice` auto / any / tool / none     | auto / required / function / none           | <->  | 13   |
| `tool_choice.disable_parallel_tool_use`    | `parallel_tool_calls: false`                | <->  |      |
| `thinking` enabled, `budget_tokens`        | `reasoning_effort`                          | <-> ~| 14,T1|
| `thinking` adaptive / disabled             | `reasoning_effort: medium` / none           | -> ~ |      |
| `output_config.effort`                     | `reasoning_effort` (xhigh, max -> high)     | -> ~ |      |
| `output_config.format` json_schema         | `response_format` json_schema               | <->  | 15   |
| `metadata.user_id`                         | `user`                                      | <-> ~| T2   |
| `stream`                                   | `stream` + `stream_options.include_usage`   | <->  |      |
| `context_management`, `service_tier`, ...  | -                                           | drop | 16   |
| -                                          | `n` > 1, `logprobs`, audio output           | 400  | 17   |
| -                                          | role `function` (legacy)                    | 400  |      |
| -                                          | no message with content left                | 400  | 3    |
| -                                          | `seed`, penalties, `logit_bias`, ...        | drop | 18   |

1. Text blocks joined by a blank line; `cache_control` dropped here, and put back on chat's
   counterparts for litellm's Anthropic family by ``dispatch/preparation.py``
   (``translate/cache_hints.py``). A system message (the SDK's `MessageParam` takes role
   `system`) holding other blocks: 400 (chat's holds text only).
2. Mid-conversation system/developer messages move into `system`, which every Anthropic model
   takes (a `system` role among the messages is newer).
3. Merged: Anthropic requires alternation. A user turn's tool results go first in it. A chat
   message with nothing to say (empty content, no calls) is skipped: Anthropic refuses empty
   turns, and a request with none left (empty or system-only, e.g. an empty completions
   `prompt`): 400.
4. `cache_control` (but see 1) and `citations` dropped. A search result (also inside a tool
   result, set apart there by a blank line) is read as text: its title, its source, its text blocks.
5. `url`, `file` and `content` document sources are refused; chat files need `file_data`, a
   PDF (Anthropic's only base64 document type); images towards Anthropic are JPEG, PNG, GIF or
   WebP: any other media type is 400.
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
    chat, ``dispatch/preparation.py`` sets `prompt_cache_key` to the session's hash
    (``translate/cache_hints.py``).
T1. Then fitted to the target model (``router.dialects.translate.targets``): output tokens
    clamped to its limit (a thinking budget that no longer fits below it halved, or dropped
    under 1,024); to a model that takes no reasoning, no `reasoning_effort` / `thinking`, and
    no reasoning in the history (a message or turn left empty is dropped).
T2. Longer than the target's limit (chat `user`: 64 characters; `metadata.user_id`: 256): its
    SHA-256 in hex, the same for the same user. Claude Code's is about 150 characters.

Answers (``messages_answer_to_chat``, ``chat_answer_to_messages``) and streams
(``MessagesEventsToChat``, ``ChatEventsToMessages``):

| Messages                                   | chat                                        | way  | note |
|--------------------------------------------|---------------------------------------------|------|------|
| `id` `msg_X`                               | `chatcmpl-msg_X`                            | <->  | 19   |
| -                                          | `refusal`, `logprobs` (null)                | ->   | 25   |
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
21. Stream: `index` = position among the tool calls; a call that streams no arguments
    (Anthropic opens every input with `partial_json: ""`) gets `{}` when its block stops, as
    in a whole answer. Chat arguments that are not JSON in a whole answer: UpstreamError
    (502). A chat stream interleaving the argument pieces of several calls cannot be told as
    Anthropic blocks (one block is open at a time): pieces for a call whose block is already
    closed are dropped.
22. end_turn, stop_sequence, pause_turn -> stop; max_tokens, model_context_window_exceeded ->
    length; tool_use <-> tool_calls; refusal <-> content_filter. Back: stop -> end_turn with
    `stop_sequence` null (chat does not say which sequence).
23. `[{type: thinking, thinking, signature, index}]`, with the block's whole thinking (its
    pieces came as `reasoning_content`), so the accumulated block is the one the signature
    signs, as in a whole answer: a client sends it back, and the cache keeps it. The `index`
    (position among the thinking blocks) is ours, so the openai SDK's accumulator can merge
    several blocks. Back, such a block's text is not counted twice.
24. Nothing is emitted after it.
25. Chat's schema requires both; a stream's role chunk says `refusal: null` and each choice
    `logprobs: null`, as OpenAI's do, so an answer assembled from it has them too.

Either way, an answer is translated only once it has the types these translators read
(``router.dialects.shapes``); a cached Messages answer is replayed and assembled in
Messages' own grammar, not through chat (``router.answers.messages``): its stop sequence,
server tool blocks and citations survive.
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
from router.dialects.translate.anthropic.stream_from_chat import ChatEventsToMessages
from router.dialects.translate.anthropic.stream_to_chat import MessagesEventsToChat

__all__ = [
    "DEFAULT_MAX_TOKENS",
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
