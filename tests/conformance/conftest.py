"""The gateway serving the matrix (one per test module) and a client of each SDK on it."""

from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai

from tests.conformance.matrix import DIALECTS, KEY, client_of, gateway_config
from tests.conftest import Gateways, RunningGateway
from tests.dialect_clients import (
    Client,
)
from tests.sdks import Sdks
from tests.upstream import FakeUpstream


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(gateway_config(module_upstream), workers=1)


@pytest.fixture
def gpt(gateway: RunningGateway, sdks: Sdks) -> openai.AsyncOpenAI:
    return sdks.async_openai(gateway, key=KEY)


@pytest.fixture
def claude(gateway: RunningGateway, sdks: Sdks) -> anthropic.AsyncAnthropic:
    return sdks.async_anthropic(gateway, key=KEY)


@pytest.fixture
def google(gateway: RunningGateway, sdks: Sdks) -> genai.Client:
    return sdks.genai(gateway, key=KEY)


@pytest.fixture
def dialects(
    gpt: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, google: genai.Client
) -> dict[str, Client]:
    return {dialect: client_of(dialect, gpt, claude, google) for dialect in DIALECTS}
