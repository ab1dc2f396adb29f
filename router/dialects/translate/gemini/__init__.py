"""Translation between Google's Gemini API (``generateContent``) and OpenAI Chat Completions, the pivot.

Requests (``gemini_request_to_chat`` ->, ``chat_request_to_gemini`` <-). Way: ``<->`` both,
``->``/``<-`` one way only, ``~`` approximated, ``drop`` dropped, ``400`` refused (InvalidRequest).
Fields are read in camelCase or snake_case, written in camelCase.

| Gemini                                        | chat                                         | way  | note |
|-----------------------------------------------|----------------------------------------------|------|------|
| path model, `:streamGenerateContent`          | `model`, `stream` + `include_usage`          | <->  | 1    |
| `systemInstruction` parts (or a string)       | first `system` message                       | <->  | 2    |
| -                                             | `system`/`developer` messages, anywhere      | <- ~ | 2    |
| `contents[]`, role `user` / `model`           | user / assistant messages                    | <->  | 3    |
| `text` part                                   | `text` part (one text part: a string)        | <->  |      |
| `inlineData` image/*                          | `image_url` with a `data:` URL               | <->  |      |
| `inlineData` audio/*                          | `input_audio`                                | <->  |      |
| `inlineData` other (PDF...)                   | `file` with `file_data`                      | <->  |      |
| `fileData` http(s) `fileUri`                  | `image_url` http(s) URL                      | <-> ~| 4    |
| `fileData` Files API URI                      | -                                            | 400  |      |
| `functionCall {id, name, args}` (model)       | `tool_calls[]`, arguments = JSON of `args`   | <->  | 5    |
| `functionResponse {id, name, response}`       | `role: tool` message                         | <->  | 6    |
| `thought: true` text part                     | `reasoning_content`                          | <->  | 7    |
| `thought` part with `thoughtSignature`        | signed `thinking_blocks` entry               | <->  | 7    |
| `thoughtSignature` on other parts             | -                                            | drop | 7    |
| -                                             | assistant thinking (history)                 | <- drop | 7 |
| -                                             | first tool call of a turn                    | <- ~ | 8    |
| `executableCode`, `codeExecutionResult`, model media | -                                     | drop |      |
| contents of which no message is left          | -                                            | 400  |      |
| `tools[].functionDeclarations[]`              | function `tools`                             | <->  | 9    |
| `parameters` (OpenAPI Schema)                 | `parameters` (JSON Schema)                   | -> ~ | 10   |
| `parametersJsonSchema`                        | `parameters`                                 | <->  |      |
| `googleSearch`, `codeExecution`, `urlContext`... | -                                         | drop |      |
| `toolConfig` mode AUTO / ANY / NONE           | `tool_choice` auto / required / none         | <->  |      |
| mode ANY with one `allowedFunctionNames`      | `tool_choice` function                       | <->  |      |
| mode ANY with several names, VALIDATED        | required / auto                              | -> ~ |      |
| -                                             | `parallel_tool_calls`                        | <- drop |   |
| `temperature`, `topP`, `seed`, penalties      | `temperature`, `top_p`, `seed`, penalties    | <->  |      |
| `topK`                                        | -                                            | drop | 11   |
| `maxOutputTokens`                             | `max_tokens` / `max_completion_tokens`       | <->  |      |
| `stopSequences`                               | `stop`                                       | <->  |      |
| `candidateCount`                              | `n`                                          | <->  |      |
| `responseMimeType` application/json + schema  | `response_format` json_schema                | <->  | 10   |
| `responseMimeType` application/json alone     | `response_format` json_object                | <->  |      |
| other `responseMimeType` (text/x.enum)        | -                                            | 400  |      |
| `thinkingConfig` budget / level               | `reasoning_effort`                           | <-> ~| 12   |
| `cachedContent`, logprobs, non-text modalities | -                                           | 400  | 13   |
| -                                             | `logprobs`, audio output                     | 400  | 13   |
| `safetySettings`, `labels`, `mediaResolution` | -                                            | drop |      |
| -                                             | `user`, `metadata`, `store`, `logit_bias`... | drop |      |

1. Raceway holds a Gemini request as its body with the path's model and the endpoint's
   streaming as ``model`` and ``stream``; the Gemini provider moves them back into the URL.
2. Text parts joined by a blank line; a role on `systemInstruction` is ignored.
3. A content without a role is the user's (the `function` role of old, too). Towards Gemini,
   consecutive contents of one role merge (tool results gather in one user content).
4. Towards Gemini the MIME type of a URL is guessed from its name (image/jpeg by default).
5. A call without an `id` (Gemini 2.x sends none) gets `call_<turn>_<position>` in a request
   and `call_<responseId>_<candidate>_<position>` in an answer: chat needs ids. Chat arguments
   that are not a JSON object: 400 naming `messages[i].tool_calls[j]...`.
6. A response answers the call of its `id`, else the first waiting call of its `name`. Its
   `response` (Gemini's documented keys) becomes the tool message's text: `output` as it is,
   `error` prefixed `"Error: "`, anything else as JSON; back, the text is `{"output": text}`,
   named after the call it answers. `functionResponse.parts` are dropped.
7. Thought text is reasoning both ways. A signature on a thought part travels with it as a
   signed thinking block (so a Messages upstream's signed thinking reaches a Gemini client and
   comes back); Gemini's own signatures sit on other parts and only Gemini can check them, which
   same-dialect pass-through keeps. Chat's thinking history does not go to Gemini (its
   signatures are not Gemini's).
8. The first function call of each model turn carries Google's documented stand-in signature
   `skip_thought_signature_validator` (Gemini 3 refuses calls in history without a signature).
9. All tools' declarations gather in one chat `tools` list; back, one Gemini tool holds them.
10. Gemini's Schema as JSON Schema: types lower-cased, `nullable` as a `null` type,
    `propertyOrdering` and `example` dropped. Chat's JSON Schemas go as `parametersJsonSchema`
    / `responseJsonSchema`. A `responseJsonSchema` of `true` constrains nothing (dropped),
    any other that is not an object: 400.
11. Chat has no top-k; Gemini CLI sends one with every request.
12. `thinkingLevel` MINIMAL / LOW / MEDIUM / HIGH as the same effort; a budget as the Messages
    translation reads one (<= 2048 low, <= 16384 medium, else high; -1 medium); a budget of 0
    or `includeThoughts` alone sends no effort. Back: `thinkingBudget` 128 / 1024 / 8192 / 24576
    for minimal / low / medium / high, with `includeThoughts`; `none` sends no thinking config.
13. The client expects what the target cannot give (Google's server-side cache, logprobs,
    images or speech out).

Answers (``gemini_answer_to_chat``, ``chat_answer_to_gemini``) and streams
(``GeminiEventsToChat``, ``ChatEventsToGemini``):

| Gemini                                        | chat                                         | way  | note |
|-----------------------------------------------|----------------------------------------------|------|------|
| `responseId`, `modelVersion`                  | `id` (`chatcmpl-` added), `model`            | <->  |      |
| `candidates[]` (`index`)                      | `choices[]`                                  | <->  |      |
| text / thought parts, function calls          | `content`, `reasoning_content`, `tool_calls` | <->  | 5, 7 |
| `finishReason` STOP                           | `stop`, or `tool_calls` with function calls  | <->  | 14   |
| MAX_TOKENS                                    | `length`                                     | <->  |      |
| SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY | `content_filter`     | <-> ~|      |
| other reasons (OTHER, MALFORMED_FUNCTION_CALL...) | `stop`                                   | -> ~ |      |
| no candidate (`promptFeedback.blockReason`)   | one empty choice, `content_filter`           | -> ~ |      |
| `promptTokenCount` (+ `toolUsePromptTokenCount`) | `prompt_tokens`                           | <->  |      |
| `cachedContentTokenCount`                     | `prompt_tokens_details.cached_tokens`        | <->  |      |
| `candidatesTokenCount` + `thoughtsTokenCount` | `completion_tokens`                          | <->  | 15   |
| `thoughtsTokenCount`                          | `completion_tokens_details.reasoning_tokens` | <->  |      |
| -                                             | `cache_creation_input_tokens`                | drop | 15   |
| the event whose candidates all finish         | finish chunks, usage chunk, `[DONE]`         | <->  | 16   |
| `data: {"error": {code, message, status}}`    | `{"error": {...}}` event                     | <->  | 17   |

14. Back, every chat finish but `length` and `content_filter` is STOP (Gemini has no
    tool-call finish); an answer with nothing to say is one empty text part.
15. Gemini does not count thoughts among the candidates' tokens; chat counts reasoning in
    the completion. Cache writes stay in the prompt count, priced as input.
16. Chat's tool call pieces are gathered and sent whole (Gemini has no partial calls) in the
    last event, with every candidate's finish and the usage.
17. Nothing is emitted after it; Gemini's `status` becomes chat's `type`.
"""

from __future__ import annotations

from router.dialects.translate.gemini.answers import chat_answer_to_gemini, gemini_answer_to_chat
from router.dialects.translate.gemini.common import (
    FINISH_FROM_CHAT,
    FINISH_TO_CHAT,
    SKIP_SIGNATURE,
    STREAM_FIELDS,
)
from router.dialects.translate.gemini.request_from_chat import THINKING_BUDGETS, chat_request_to_gemini
from router.dialects.translate.gemini.request_to_chat import gemini_request_to_chat
from router.dialects.translate.gemini.stream_from_chat import ChatEventsToGemini
from router.dialects.translate.gemini.stream_to_chat import GeminiEventsToChat

__all__ = [
    "FINISH_FROM_CHAT",
    "FINISH_TO_CHAT",
    "SKIP_SIGNATURE",
    "STREAM_FIELDS",
    "THINKING_BUDGETS",
    "ChatEventsToGemini",
    "GeminiEventsToChat",
    "chat_answer_to_gemini",
    "chat_request_to_gemini",
    "gemini_answer_to_chat",
    "gemini_request_to_chat",
]
