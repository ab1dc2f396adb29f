"""A worker's garbage collector: startup's objects frozen, young collections only for real garbage."""

import subprocess
import sys
from pathlib import Path

from router.http.app import create_app
from router.runtime.collector import YOUNG_THRESHOLD
from router.runtime.worker import Supervision

from .test_app import CONFIG, serving


def test_settle_freezes_what_exists_and_raises_the_young_threshold() -> None:
    # In a process of its own: freezing this one would keep the test run's garbage for good.
    probe = (
        "import gc; from router.runtime import collector\n"
        "kept = [object() for _ in range(10)]; before = gc.get_threshold()\n"
        "collector.settle()\n"
        "print(gc.get_freeze_count() > 0, gc.get_threshold()[0], gc.get_threshold()[1:] == before[1:])"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    )
    assert shown.stdout.split() == ["True", str(YOUNG_THRESHOLD), "True"]


async def test_a_supervised_worker_settles_once_its_state_is_built(tmp_path: Path) -> None:
    built: list[bool] = []
    supervision = Supervision(
        tmp_path / "snapshot", announce=lambda: None, started=lambda: built.append(app.started)
    )
    app = create_app(CONFIG, supervision=supervision)
    async with serving(app) as client:
        assert built == [True]  # called once, after the lifespan built the worker
        assert (await client.get("/ready")).status_code == 200
    assert built == [True]
