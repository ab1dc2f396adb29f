"""Translation between dialects, with OpenAI Chat Completions as the pivot.

Every other dialect translates to and from chat (the packages ``anthropic`` and ``responses``,
the module ``completions_chat``); a pair without chat goes through it (Messages -> chat -> Responses).
Chat carries what plain chat cannot with the extensions litellm and vLLM made common: an
assistant message's ``reasoning_content`` and ``thinking_blocks``, and usage's
``prompt_tokens_details.cached_tokens`` (cache reads) and ``cache_creation_input_tokens``
(cache writes).

A translated request is then fitted to its target model (``targets``): output tokens clamped
to the model's limit, reasoning sent only to a model that takes it (notes ``T1`` of the
tables); identifiers longer than the target dialect allows are hashed (notes ``T2``). A request
in the deployment's own dialect is never fitted: it goes as the client wrote it.
"""
