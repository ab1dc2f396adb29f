"""The dialect conformance matrix, through the real gateway with the official SDKs over sockets.

Every client dialect (chat, Messages, Responses, Gemini) against a deployment of every wire
API (the same four), from one scripted upstream (``tests/upstream.py``) that answers every wire
and checks what it received in its own wire's shape. ``matrix`` holds the cells and the
gateway's config, ``conftest`` the gateway and one client per SDK; the tests are
``test_matrix`` (answers, tool calls, thinking, errors, each as JSON and as a stream),
``test_midway`` (streams that fail after their first content) and ``test_across_wires``
(cost with prompt-cache prices, a race across wires, count_tokens, the cache's replays).
"""
