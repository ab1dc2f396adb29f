"""Names a deployment's ``extra_params`` may never allow: plain data the config is checked against.

They route, authenticate, or change what litellm does around the call; the allow-list that
builds litellm's arguments from a request is ``router.providers.litellm_params``.
"""

from __future__ import annotations

# Names a deployment's ``extra_params`` may never allow: they route, authenticate, or change
# what litellm does around the call. (Anything beginning with ``litellm_`` is refused too.)
RESERVED_PARAMS = frozenset(
    {
        "api_base",
        "api_key",
        "api_type",
        "api_version",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "azure_ad_token",
        "base_url",
        "cache",
        "callbacks",
        "client",
        "context_window_fallback_dict",
        "custom_llm_provider",
        "deployment_id",
        "extra_headers",
        "failure_callback",
        "fallbacks",
        "headers",
        "input",
        "logger_fn",
        "max_retries",
        "messages",
        "metadata",
        "mock_response",
        "model",
        "model_list",
        "num_retries",
        "organization",
        "proxy_server_request",
        "shared_session",
        "stream",
        "success_callback",
        "timeout",
        "vertex_credentials",
    }
)


def is_reserved(name: str) -> bool:
    return name in RESERVED_PARAMS or name.startswith("litellm_")
