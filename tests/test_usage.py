"""Token usage read from every dialect, and what it costs with the prompt cache in play."""

from __future__ import annotations

import pytest

from router.config.model import Price
from router.spend.pricing import cost_usd
from router.wire.usage import Usage, chat_usage, messages_usage, responses_usage


def test_chat_usage_counts_cache_reads_and_writes_inside_the_prompt() -> None:
    usage = chat_usage(
        {
            "usage": {
                "prompt_tokens": 1000,
                "completion_tokens": 20,
                "prompt_tokens_details": {"cached_tokens": 600},
                "cache_creation_input_tokens": 300,
            }
        }
    )
    assert usage == Usage(1000, 20, cache_read=600, cache_write=300)


def test_anthropic_input_tokens_leave_the_cache_out_and_are_added_back() -> None:
    usage = messages_usage(
        {
            "input_tokens": 100,
            "cache_read_input_tokens": 600,
            "cache_creation_input_tokens": 300,
            "output_tokens": 7,
        }
    )
    assert usage == Usage(1000, 7, cache_read=600, cache_write=300)


def test_a_message_delta_updates_the_output_and_keeps_the_input_of_message_start() -> None:
    started = messages_usage({"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1})
    assert messages_usage({"output_tokens": 42}, started) == Usage(15, 42, cache_read=5)


def test_responses_usage_reads_cached_input_tokens() -> None:
    usage = responses_usage(
        {"input_tokens": 50, "input_tokens_details": {"cached_tokens": 30}, "output_tokens": 9}
    )
    assert usage == Usage(50, 9, cache_read=30)


def test_responses_usage_reads_cache_writes_where_the_sdk_puts_them() -> None:
    usage = responses_usage(
        {
            "input_tokens": 50,
            "input_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 12},
            "output_tokens": 1,
        }
    )
    assert usage == Usage(50, 1, cache_read=30, cache_write=12)


def test_usage_that_is_not_usage_is_none() -> None:
    assert chat_usage({"usage": {"prompt_tokens": "many"}}) is None
    assert messages_usage("tokens") is None
    assert responses_usage({"output_tokens": 3}) is None


def test_cache_reads_and_writes_cost_their_own_price() -> None:
    price = Price(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
    usage = Usage(1000, 100, cache_read=600, cache_write=300)
    fresh, read, write, output = 100 * 3.0, 600 * 0.3, 300 * 3.75, 100 * 15.0
    assert cost_usd(price, usage) == pytest.approx((fresh + read + write + output) / 1e6)


def test_without_cache_prices_cached_tokens_cost_the_input_price() -> None:
    assert cost_usd(Price(input=2.0, output=4.0), Usage(1000, 10, cache_read=500)) == pytest.approx(
        (1000 * 2.0 + 10 * 4.0) / 1e6
    )
    assert cost_usd(None, Usage(1000, 10)) == 0.0
