"""The official SDKs' clients on a running gateway, as the integration tests build them.

Every client is made with ``max_retries=0`` (a test sees the gateway's own answer, never an SDK
retry) and is closed when the test ends (the ``sdks`` fixture of tests/conftest.py owns them).
The synchronous ones time out after 10 s unless told otherwise; the async ones keep the SDK's
default unless told otherwise, as the tests that use them always did.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import httpx
from anthropic import NOT_GIVEN as ANTHROPIC_DEFAULT
from anthropic import Anthropic, AsyncAnthropic
from anthropic import NotGiven as AnthropicDefault
from google.genai import Client as GenaiClient
from google.genai.types import HttpOptions
from openai import NOT_GIVEN as OPENAI_DEFAULT
from openai import AsyncOpenAI, OpenAI
from openai import NotGiven as OpenAIDefault

if TYPE_CHECKING:
    from tests.conftest import RunningGateway

UNUSED_KEY = "unused"  # for a gateway without keys: the SDKs insist on one


class Sdks:
    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack

    def openai(self, gateway: RunningGateway, *, key: str = UNUSED_KEY, timeout: float = 10) -> OpenAI:
        sdk = OpenAI(base_url=gateway.api_url, api_key=key, max_retries=0, timeout=timeout)
        self._stack.callback(sdk.close)
        return sdk

    def anthropic(self, gateway: RunningGateway, *, key: str = UNUSED_KEY, timeout: float = 10) -> Anthropic:
        sdk = Anthropic(base_url=gateway.base_url, api_key=key, max_retries=0, timeout=timeout)
        self._stack.callback(sdk.close)
        return sdk

    def async_openai(
        self,
        gateway: RunningGateway,
        *,
        key: str = UNUSED_KEY,
        timeout: float | OpenAIDefault = OPENAI_DEFAULT,
    ) -> AsyncOpenAI:
        sdk = AsyncOpenAI(base_url=gateway.api_url, api_key=key, max_retries=0, timeout=timeout)
        self._stack.push_async_callback(sdk.close)
        return sdk

    def async_anthropic(
        self,
        gateway: RunningGateway,
        *,
        key: str = UNUSED_KEY,
        timeout: float | AnthropicDefault = ANTHROPIC_DEFAULT,
    ) -> AsyncAnthropic:
        sdk = AsyncAnthropic(base_url=gateway.base_url, api_key=key, max_retries=0, timeout=timeout)
        self._stack.push_async_callback(sdk.close)
        return sdk

    def genai(self, gateway: RunningGateway, *, key: str) -> GenaiClient:
        """google-genai's client (used through ``.aio``), on the gateway's root URL."""
        sdk = GenaiClient(api_key=key, http_options=HttpOptions(base_url=gateway.base_url))
        self._stack.push_async_callback(sdk.aio.aclose)
        return sdk

    def http(self, gateway: RunningGateway) -> httpx.AsyncClient:
        """A plain async HTTP client on the gateway's root URL, for what no SDK sends."""
        client = httpx.AsyncClient(base_url=gateway.base_url, timeout=10)
        self._stack.push_async_callback(client.aclose)
        return client
