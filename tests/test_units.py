import pytest

from router.config.units import parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("60s", 60.0), ("2m", 120.0), ("1h", 3600.0), ("1.5s", 1.5), (3, 3.0), (0.5, 0.5)],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "10 parsecs", True, None, [1], "-1s"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("10MiB", 10 * 1024 * 1024), ("1KB", 1000), ("64kib", 65536), (4096, 4096), ("2GB", 2 * 10**9)],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["big", 0, -5, True, "10 MiBs"])
def test_bad_sizes(text: object) -> None:
    with pytest.raises(ValueError):
        parse_size(text)
