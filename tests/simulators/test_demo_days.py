"""``stresstrack demo --days N``: its option checks and the feed of simulated days into the
recorder (the pipeline itself is tested in tests/pipeline; a full demo week is a benchmark)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stresstrack.cli import main
from stresstrack.cli.demo_days import days_config, run_days
from stresstrack.events import Marker
from stresstrack.pipeline import PipelineConfig
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.days import DaysPlan, simulate_days
from stresstrack.store import Store


@pytest.mark.parametrize("days", ["0", "400"])
def test_days_out_of_range_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    assert main(["demo", "--days", days, "--out", str(tmp_path / "d")]) == 2
    assert "--days must be between 1 and 366" in capsys.readouterr().err
    assert not (tmp_path / "d" / "stresstrack.db").exists()


def test_days_refuses_lab_study_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["demo", "--days", "2", "--out", str(tmp_path / "d"), "--protocol", "partner-session"]
    assert main(argv) == 2
    assert "--protocol and --realtime apply to a lab study only" in capsys.readouterr().err


def test_the_simulated_days_reach_the_store_in_order(tmp_path: Path) -> None:
    """Every simulated event is stored once (raw events only here), the markers included;
    progress reaches 1; the demo's configuration is the rolling baseline."""
    plan = DaysPlan(days=1, seed=2, eda_hz=4.0, acc_hz=5.0, chunk_s=21_600.0)
    progress: list[float] = []
    with Store(tmp_path / "s.db") as store:
        recorder = Recorder(store, None)
        (truth,) = run_days(plan, recorder, progress.append)
        recorder.close()
        stored = list(store.iter_events(truth.participant))
    (_,), chunks = simulate_days(plan)
    expected = [e for chunk in chunks for e in chunk]
    assert len(stored) == len(expected)
    assert [m for m in stored if isinstance(m, Marker)] == [
        m for m in expected if isinstance(m, Marker)
    ]
    assert progress == [0.25, 0.5, 0.75, 1.0]
    assert days_config(PipelineConfig()).baseline_mode == "rolling"
