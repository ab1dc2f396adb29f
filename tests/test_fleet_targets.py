"""What a deployment's model accepts: its own config first, then litellm's bundled table."""

from __future__ import annotations

import pytest

from router.config.load import parse_config
from router.config.model import Deployment
from router.dialects.translate.targets import ANY_TARGET, TargetLimits
from router.fleet.targets import target_limits
from router.spend.pricing import litellm_table_for


def deployment(text: str) -> Deployment:
    config = parse_config(f"deployments: [{text}]\nmodels: [{{name: m, deployments: [d]}}]\n".encode(), {})
    return config.deployments["d"]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # The table's max_output_tokens; supports_reasoning, absent for gpt-4o (then: none).
        ("gpt-4o", TargetLimits(max_output_tokens=16384, reasoning=False)),
        ("gpt-5", TargetLimits(max_output_tokens=128000, reasoning=True)),
        ("a-local-model-the-table-does-not-know", ANY_TARGET),
    ],
)
def test_the_table_says_what_a_known_model_accepts(model: str, expected: TargetLimits) -> None:
    asked = deployment(f"{{name: d, provider: openai, model: {model}}}")
    found = target_limits(asked, litellm_table_for([asked]))
    assert found == expected


def test_the_deployment_overrides_the_table() -> None:
    configured = deployment(
        "{name: d, provider: openai, model: gpt-4o, max_output_tokens: 4000, reasoning: true}"
    )
    assert configured.max_output_tokens == 4000 and configured.reasoning is True
    assert target_limits(configured, litellm_table_for([configured])) == TargetLimits(
        max_output_tokens=4000, reasoning=True
    )
    local = deployment(
        "{name: d, provider: vllm, base_url: 'http://127.0.0.1:1/v1', model: qwen, reasoning: false}"
    )
    assert target_limits(local, {}) == TargetLimits(reasoning=False)
