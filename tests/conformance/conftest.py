"""The gateway serving the matrix (one per test module) and a client of each SDK on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.conformance.matrix import DIALECTS, KEY, client_of, gateway_config
from tests.conftest import RunningGateway, serving
from tests.dialect_clients import (
    Client,
)
from tests.upstream import FakeUpstream


@pytest.fixture(scope="module")
def gateway(
    module_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    directory = tmp_path_factory.mktemp("conformance")
    with serving(gateway_config(module_upstream), directory, workers=1) as running:
        yield running


@pytest.fixture
async def gpt(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=gateway.api_url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def claude(gateway: RunningGateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=gateway.base_url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def google(gateway: RunningGateway) -> AsyncIterator[genai.Client]:
    sdk = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=gateway.base_url))
    try:
        yield sdk
    finally:
        await sdk.aio.aclose()


@pytest.fixture
def dialects(
    gpt: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, google: genai.Client
) -> dict[str, Client]:
    return {dialect: client_of(dialect, gpt, claude, google) for dialect in DIALECTS}
