"""litellm's bundled table, read entry by entry: the same entries a whole parse gives, only those asked."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import orjson
import pytest

from router.config.model import Deployment, Price
from router.spend.pricing import entries_of, litellm_table_for, names_in, price_of


def installed_table() -> Path:
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"


def test_every_entry_of_the_installed_table_is_read_as_a_whole_parse_reads_it() -> None:
    text = installed_table().read_text(encoding="utf-8")
    whole = orjson.loads(text)
    assert entries_of(text, set(whole)) == whole


def test_only_the_entries_asked_for_are_kept() -> None:
    text = '{ "a": {"x": 1},\n"b" :[1, {"a": 2}] , "c": "}" ,"d":null}'
    assert entries_of(text, {"b", "c", "d", "absent"}) == {"b": [1, {"a": 2}], "c": "}", "d": None}
    assert entries_of("{}", {"a"}) == {}


@pytest.mark.parametrize("text", ["[1]", '{"a": 1', '{"a" 1}', '{"a": 1 "b": 2}', "{1: 2}", ""])
def test_what_is_not_a_json_object_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        entries_of(text, {"a"})


def test_the_table_is_read_only_for_models_not_looked_up_yet(tmp_path: Path) -> None:
    table = tmp_path / "table.json"
    table.write_text('{"openai/m": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}, "n": {}}')
    m = Deployment(name="a", provider="openai", model="m")
    known = litellm_table_for([m], path=table)
    assert known == {"openai/m": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}, "m": None}
    assert price_of(m, known) == Price(input=1.0, output=2.0)
    table.unlink()  # read again, it would raise
    configured = Deployment(
        name="b", provider="x", model="y", price=Price(input=1, output=1), max_output_tokens=9, reasoning=True
    )
    assert litellm_table_for([m, configured], known, path=table) == known
    with pytest.raises(FileNotFoundError):
        litellm_table_for([Deployment(name="c", provider="openai", model="n")], known, path=table)


def test_a_table_that_never_names_the_model_is_not_parsed(tmp_path: Path) -> None:
    table = tmp_path / "table.json"
    table.write_text('{"openai/m": {"input_cost_per_token": 1e-06}, broken')
    local = Deployment(name="a", provider="vllm", model="qwen")
    assert litellm_table_for([local], path=table) == {"vllm/qwen": None, "qwen": None}
    with pytest.raises(ValueError):  # named: it is read, and found broken
        litellm_table_for([Deployment(name="b", provider="openai", model="m")], path=table)


@pytest.mark.parametrize(
    ("written", "key"),
    [
        (r"openai\/m", "openai/m"),
        (r"op\u0065nai/m", "openai/m"),
        ("openai/m", "openai/m"),
        (r"a\"b", 'a"b'),
        (r"a\\b", "a\\b"),
    ],
)
def test_a_name_written_with_escapes_is_found(tmp_path: Path, written: str, key: str) -> None:
    text = '{"other": {"a": "' + r"\\" + '"}, "' + written + '": {"input_cost_per_token": 2e-06}}'
    assert key in names_in(text.encode(), {key})
    assert entries_of(text, {key}) == {key: {"input_cost_per_token": 2e-06}}
