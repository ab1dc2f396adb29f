"""Translation between OpenAI Responses (``/v1/responses``) and OpenAI Chat Completions, the pivot.

Requests (``responses_request_to_chat`` ->, ``chat_request_to_responses`` <-). Way: ``<->`` both,
``->``/``<-`` one way only, ``~`` approximated, ``drop`` dropped, ``400`` refused (InvalidRequest).

| Responses                                   | chat                                        | way  | note |
|---------------------------------------------|---------------------------------------------|------|------|
| `instructions`                              | first `system` message                      | ->   | 1    |
| `input` string                              | one `user` message                          | ->   |      |
| `input` empty: `""` / `[]`                  | an empty `user` message / none              | ->   | 1    |
| `message` item, role user / assistant       | `user` / `assistant` message                | <->  | 2    |
| `message` item, role system / developer     | `system` (->); `system` / `developer` (<-)  | <-> ~| 3    |
| `input_text` / `output_text` parts          | `text` parts (or string content)            | <->  | 2    |
| `refusal` part (assistant history)          | `refusal`                                   | -> ~ | 4    |
| `input_image` with `image_url`              | `image_url` part (`detail` kept)            | <->  |      |
| `input_image` with `file_id`, `input_file`  | -                                           | 400  | 5    |
| `function_call` items                       | assistant `tool_calls` (consecutive merged) | <->  | 6    |
| `function_call_output` item                 | `role: tool` message                        | <->  | 7    |
| `reasoning` item (summary / reasoning text) | next assistant's `reasoning_content`        | -> ~ | 8    |
| `item_reference`                            | -                                           | 400  | 9    |
| built-in tool call items and their outputs  | -                                           | drop | 10   |
| `tools` of type `function` (flat)           | function `tools` (nested)                   | <->  |      |
| built-in / `custom` tools                   | -                                           | drop | 11   |
| `tool_choice` auto/none/required/function   | same                                        | <->  | 11   |
| `tool_choice` `allowed_tools`               | `allowed_tools`                             | <->  |      |
| `parallel_tool_calls`                       | `parallel_tool_calls`                       | <->  |      |
| `max_output_tokens`                         | `max_tokens` / `max_completion_tokens`      | <->  | T1   |
| `temperature`, `top_p`                      | `temperature`, `top_p`                      | <->  |      |
| `reasoning.effort`                          | `reasoning_effort`                          | <-> ~| 12,T1|
| `reasoning.summary`, `text.verbosity`       | -                                           | drop |      |
| `text.format` json_schema / json_object     | `response_format`                           | <->  |      |
| `safety_identifier` / `user`                | `user`                                      | <-> ~| T2   |
| `stream`                                    | `stream` + `stream_options.include_usage`   | <->  |      |
| `previous_response_id`, `conversation`      | -                                           | 400  | 13   |
| `prompt` (stored prompt template)           | -                                           | 400  | 13   |
| `background: true`                          | -                                           | 400  | 13   |
| `store`                                     | `store: false` always towards Responses     | drop | 14   |
| `include`, `metadata`                       | -                                           | drop | 15   |
| `prompt_cache_key`                          | `prompt_cache_key`                          | <->  | 19   |
| `client_metadata`, `truncation`, ...        | -                                           | drop | 15   |
| -                                           | `n` > 1, `logprobs`, non-empty `stop`       | 400  | 16   |
| -                                           | `logit_bias`, `audio`, non-function tools   | 400  | 17   |
| -                                           | role `function`, `functions`                | 400  | 17   |
| -                                           | penalties, `seed`, `metadata`, ...          | drop | 18   |

1. Towards Responses the chat system messages stay input items (see 3), never `instructions`.
   An empty `input` is valid in OpenAI's specification (a pass-through sends it as it is); a
   request left with no chat message at all (`[]`, or only dropped items, and no
   `instructions`): 400, chat needs one.
2. A message whose parts are all text has string content; a user message keeps its parts.
   Assistant text parts are joined with nothing between them (as the SDK's ``output_text``).
3. Responses -> chat: `developer` becomes `system` (chat servers other than OpenAI know only
   `system`), in place. Chat -> Responses: system and developer messages become input items
   with their own role and position: `instructions` holds one text and only at the top.
4. Towards Responses an assistant `refusal` is sent as its text (input messages have no
   refusal part).
5. A chat server cannot fetch an OpenAI file; `input_audio` and other parts are refused too.
6. A `function_call` right after an assistant message (or another call) joins its
   `tool_calls`: parallel calls are one chat message. `call_id` <-> tool call `id`.
7. `output` as a list keeps its text parts (joined); other parts are refused (chat tool
   messages carry text only).
8. Summary texts and reasoning texts joined by a blank line; `encrypted_content` dropped.
   Attached to the next assistant message (reasoning that no assistant message follows is
   dropped). Towards Responses, `reasoning_content` and `thinking_blocks` are dropped:
   Responses only accepts its own reasoning items (stored, or with `encrypted_content`).
9. It names an item stored by OpenAI; the gateway is stateless and cannot resolve it.
10. `web_search_call`, `local_shell_call(_output)`, `custom_tool_call(_output)`,
    `computer_call(_output)`, `mcp_*`, ... and unknown item types: a chat model cannot have
    made them, they come from a Responses upstream earlier in the conversation.
11. Codex also sends `local_shell`, `web_search` and `custom` (grammar) tools: a chat upstream
    cannot run them. A tool choice naming a dropped tool falls back to the default; with no
    tool left, `tool_choice` and `parallel_tool_calls` are dropped too (chat servers refuse
    them without tools). Chat non-function tools are refused.
12. `minimal` -> `low`, `xhigh` -> `high`, `none` -> no `reasoning_effort`: the pivot uses the
    levels every reasoning chat server knows (low, medium, high).
13. State kept by OpenAI: the gateway is stateless; the client must send the whole input.
14. The endpoint layer decides about storage; translated Responses requests never ask for it.
15. Also `service_tier` (chat servers other than OpenAI refuse unknown tiers), `top_logprobs`,
    `max_tool_calls` (built-in tools only), `user` when `safety_identifier` is there: hints and
    bookkeeping. Logprobs come back only when `include` asks for them; they are not carried.
16. Responses has no n, and no stop sequences: dropping a stop would change the answer.
    Logprobs would need `include` and a logprobs translation of the answer (not done).
17. Constraints the model must follow that Responses cannot express.
18. Also `prediction`, `web_search_options`, `stream_options`, `store`: sampling hints
    with no Responses counterpart. `prompt_cache_key`, `safety_identifier`,
    `service_tier` cross unchanged.
19. Put on the chat request by ``router.dispatch.preparation`` (with ``translate.cache_hints``), not by
    this translator: the client's own, else the session's hash.
T1. Then fitted to the target model (``router.dialects.translate.targets``): output tokens
    clamped to its limit; to a model that takes no reasoning, no `reasoning_effort` /
    `reasoning` (nor `reasoning.*` includes), no reasoning in the history (`reasoning` items,
    `reasoning_content`; a message left empty is dropped).
T2. Longer than OpenAI's 64 characters: its SHA-256 in hex, the same for the same user.

Answers (``responses_answer_to_chat``, ``chat_answer_to_responses``) and streams
(``ResponsesEventsToChat``, ``ChatEventsToResponses``):

| Responses                                   | chat                                        | way  | note |
|---------------------------------------------|---------------------------------------------|------|------|
| `id` `resp_X`                               | `chatcmpl-X`                                | <->  |      |
| `message` items' `output_text` parts        | `content` (joined; None when none)          | <->  |      |
| `refusal` parts                             | `refusal`                                   | <->  |      |
| `function_call` items (`fc_X_i`)            | `tool_calls` (`id` = `call_id`)             | <->  | 20   |
| `reasoning` item summary (`rs_X`)           | `reasoning_content`                         | <->  | 8    |
| built-in tool call items                    | -                                           | drop |      |
| `status` completed                          | `finish_reason` stop / tool_calls           | <->  |      |
| `status` incomplete, max_output_tokens      | `finish_reason` length                      | <->  |      |
| `status` incomplete, content_filter         | `finish_reason` content_filter              | <->  |      |
| `status` failed, stream `error`             | UpstreamError / chat error event            | <->  | 21   |
| `usage` input / output / total tokens       | prompt / completion / total tokens          | <->  |      |
| `input_tokens_details.cached_tokens`        | `prompt_tokens_details.cached_tokens`       | <->  |      |
| `input_tokens_details.cache_write_tokens`   | `cache_creation_input_tokens`               | <->  |      |
| `output_tokens_details.reasoning_tokens`    | `completion_tokens_details.reasoning_tokens`| <->  |      |
| request echoes (`tools`, `tool_choice`, ...)| -                                           | ~    | 19   |
| annotations, logprobs                       | -                                           | drop |      |

19. The answer translators see only the answer: a Response built from chat echoes defaults
    (`tools: []`, `tool_choice: auto`, `parallel_tool_calls: true`, no instructions).
20. Arguments that are empty (some chat servers send `""` for a call without any) become
    `{}`, JSON as clients parse it, in answers and streams both ways.
21. Towards Responses, a chat error event ends the stream as OpenAI's service ends a failed
    response (``items.failure``): `error` with its documented fields and the nested `error`
    object the service sends (the openai SDK raises `APIError` on it), then `response.failed`
    carrying the response failed, with `error.code` `server_error` (`rate_limit_exceeded`
    for a rate limit: the Response schema's codes). The gateway ends its own failed
    Responses streams the same way (``router.wire.formats``).

A chat stream becomes the full typed Responses grammar (``response.created``,
``response.in_progress``, per item ``output_item.added`` ... ``output_item.done``, and
``response.completed`` / ``response.incomplete`` at ``[DONE]``, after chat's usage chunk),
every event with a ``sequence_number`` from 0. Parallel tool calls whose deltas interleave stay
separate items, closed in order at the end. A chat stream without a usage chunk ends with zero
usage (Codex reads it from ``response.completed``). Reasoning streams as one summary part per
reasoning item. Codex 0.169 knows ``response.completed`` only: a cut answer
(``response.incomplete``, as OpenAI itself sends it) ends its turn with an error.
"""

from __future__ import annotations

from router.dialects.translate.responses.answers import chat_answer_to_responses, responses_answer_to_chat
from router.dialects.translate.responses.request_from_chat import chat_request_to_responses
from router.dialects.translate.responses.request_to_chat import responses_request_to_chat
from router.dialects.translate.responses.stream_from_chat import ChatEventsToResponses
from router.dialects.translate.responses.stream_to_chat import ResponsesEventsToChat

__all__ = [
    "ChatEventsToResponses",
    "ResponsesEventsToChat",
    "chat_answer_to_responses",
    "chat_request_to_responses",
    "responses_answer_to_chat",
    "responses_request_to_chat",
]
