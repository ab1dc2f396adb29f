"""A worker's deployments at run time, built from one config and carried over to the next."""

from __future__ import annotations

from pathlib import Path

from router.config.load import parse_config
from router.fleet.fleet import Fleet
from router.state.local import LocalState

CONFIG = """
deployments:
  - {name: a, provider: openai, model: m, api_key: "${A_KEY}", headers: {x-team-token: "${TOKEN}"}}
  - {name: b, provider: openai, model: m}
models: [{name: m, deployments: [a, b]}]
keys: [{name: k, key: "${GATEWAY_KEY}"}]
"""


async def test_every_provider_scrubs_every_secret_of_every_config_it_served(tmp_path: Path) -> None:
    """A deployment's errors are scrubbed of the whole config's secrets, not just its own; a reload
    adds the new ones (for kept providers too) and keeps the old ones (a rotated key is still a key)."""
    env = {"A_KEY": "a-key-value-1234", "TOKEN": "team-token-5678", "GATEWAY_KEY": "gateway-key-0000"}
    fleet = Fleet.build(parse_config(CONFIG.encode(), env), state=LocalState(tmp_path / "ledger"))
    try:
        scrub = fleet.factory.scrubber
        assert scrub("a-key-value-1234 team-token-5678 gateway-key-0000") == "*** *** ***"
        rotated = {**env, "GATEWAY_KEY": "rotated-gw-key-1111"}
        successor, retired = fleet.successor(parse_config(CONFIG.encode(), rotated))
        assert retired == [] and successor["b"] is fleet["b"]
        assert scrub("rotated-gw-key-1111 gateway-key-0000") == "*** ***"
    finally:
        await fleet.close()
