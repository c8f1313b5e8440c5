"""End to end through the CLI: demo, replay, export, report."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stresstrack.cli import main
from stresstrack.store import Store

SHORT_TOML = """
name = "short"
[[phase]]
kind = "baseline"
minutes = 3
[[phase]]
kind = "stressor"
minutes = 2.5
[[phase]]
kind = "self-care"
mode = "solo"
minutes = 3
simulated_stress = 0.0
[[phase]]
kind = "recovery"
minutes = 2
"""


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    protocol = out / "short.toml"
    protocol.write_text(SHORT_TOML)
    assert (
        main(
            [
                "demo",
                "--out",
                str(out),
                "--participants",
                "3",
                "--seed",
                "5",
                "--protocol",
                str(protocol),
            ]
        )
        == 0
    )
    return out


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="") as f:
        return list(csv.reader(f))


def test_demo_writes_store_and_report(demo_dir: Path) -> None:
    assert (demo_dir / "stresstrack.db").stat().st_size > 0
    html = (demo_dir / "report.html").read_text()
    assert html.count('class="stress-line"') == 3
    with Store(demo_dir / "stresstrack.db", readonly=True) as store:
        assert store.participants() == ["sim-001", "sim-002", "sim-003"]
        assert store.integrity_check() == "ok"
        kinds = sorted({s.kind for s in store.sessions()})
        assert kinds == ["baseline", "recovery", "self-care", "stressor"]


def test_stressor_raises_and_self_care_lowers_the_index(demo_dir: Path) -> None:
    """The protocol gives self-care a large known effect (true level 0.3 -> 0.0, HR about
    -4.5 bpm): the default self-care effect of the simulated people is realistic (dz 0.3-0.6,
    docs/simulators.md), too small to show in each of 3 participants."""
    with Store(demo_dir / "stresstrack.db", readonly=True) as store:
        for pid in store.participants():
            stress = [s for s in store.stress(pid) if s.index is not None]
            means = {}
            for session in store.sessions(pid):
                assert session.end_ns is not None
                # Skip the first minute of each phase: 60 s windows straddle the change.
                vals = [
                    s.index for s in stress if session.start_ns + 60e9 < s.time_ns <= session.end_ns
                ]
                means[session.kind] = float(np.mean(vals))
            assert means["baseline"] == pytest.approx(50, abs=10), (pid, means)
            assert means["stressor"] > means["baseline"] + 20, (pid, means)
            assert means["self-care"] < means["baseline"], (pid, means)
            assert means["self-care"] < means["stressor"] - 30, (pid, means)


def test_replay_of_a_store_gives_identical_rows(demo_dir: Path, tmp_path: Path) -> None:
    replayed = tmp_path / "r.db"
    assert main(["replay", str(demo_dir / "stresstrack.db"), "--store", str(replayed)]) == 0
    for table in ("stress", "features", "sessions"):
        a, b = tmp_path / f"a-{table}.csv", tmp_path / f"b-{table}.csv"
        assert (
            main(["export", str(demo_dir / "stresstrack.db"), "--table", table, "--out", str(a)])
            == 0
        )
        assert main(["export", str(replayed), "--table", table, "--out", str(b)]) == 0
        rows_a, rows_b = _read(a), _read(b)
        assert len(rows_a) > 10 or table == "sessions"
        assert rows_a == rows_b, table


def test_export_columns_and_participant_filter(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.csv"
    assert (
        main(
            [
                "export",
                str(demo_dir / "stresstrack.db"),
                "--table",
                "features",
                "--participant",
                "sim-002",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = _read(out)
    header = rows[0]
    assert header[:3] == ["time", "participant", "study"]
    assert {"mean_hr_bpm", "rmssd_ms", "sdnn_ms", "pnn50_pct", "scl_us", "scr_per_min"} <= set(
        header
    )
    assert {r[1] for r in rows[1:]} == {"sim-002"}
    assert rows[1][0].endswith("Z") and "T" in rows[1][0]


def test_demo_is_deterministic_for_a_seed(demo_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    assert (
        main(
            [
                "demo",
                "--out",
                str(again),
                "--participants",
                "3",
                "--seed",
                "5",
                "--protocol",
                str(demo_dir / "short.toml"),
            ]
        )
        == 0
    )
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    main(["export", str(demo_dir / "stresstrack.db"), "--table", "stress", "--out", str(a)])
    main(["export", str(again / "stresstrack.db"), "--table", "stress", "--out", str(b)])
    assert _read(a) == _read(b)


def test_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_text("this is not a database" * 50)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stresstrack.cli",
            "export",
            str(bad),
            "--table",
            "stress",
            "--out",
            str(tmp_path / "x.csv"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "not a stresstrack store" in result.stderr and str(bad) in result.stderr


@pytest.mark.parametrize("command", ["demo", "replay", "export", "report"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: stresstrack" in capsys.readouterr().out


@pytest.fixture(scope="module")
def live_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulated collections stored live (collector → Recorder(Store, Pipeline))."""
    from support_protocols import SHORT_PROTOCOL

    from stresstrack.pipeline.engine import Pipeline
    from stresstrack.session.recorder import Recorder
    from stresstrack.simulators.study import StudyPlan, simulate_study

    folder = tmp_path_factory.mktemp("live")
    for seed, prefix in enumerate(("a", "b", "c")):
        with Store(folder / f"{prefix}.db") as store:
            recorder = Recorder(store, Pipeline())
            plan = StudyPlan(participants=1, seed=seed, protocol=SHORT_PROTOCOL, prefix=prefix)
            simulate_study(plan, recorder)
            recorder.close()
    return folder


def _export(store: Path, table: str, participant: str, out: Path) -> list[list[str]]:
    args = ["export", str(store), "--table", table, "--participant", participant]
    assert main([*args, "--out", str(out), "--force"]) == 0
    return _read(out)


def test_a_folder_of_stores_replayed_in_parallel_gives_the_live_rows(
    live_folder: Path, tmp_path: Path
) -> None:
    """The folder replayed in parallel, and each store replayed alone, give exactly the rows
    the live pipeline stored."""
    parallel = tmp_path / "parallel.db"
    args = ["replay", str(live_folder), "--store", str(parallel), "--workers", "2"]
    assert main([*args, "--speed", "0"]) == 0
    for prefix in ("a", "b", "c"):
        live = live_folder / f"{prefix}.db"
        alone = tmp_path / f"alone-{prefix}.db"
        assert main(["replay", str(live), "--store", str(alone)]) == 0
        pid = f"{prefix}-001"
        for table in ("features", "stress", "sessions"):
            rows = _export(live, table, pid, tmp_path / f"live-{prefix}-{table}.csv")
            assert len(rows) > 10 or table == "sessions"
            assert _export(alone, table, pid, tmp_path / "x.csv") == rows, (prefix, table)
            assert _export(parallel, table, pid, tmp_path / "y.csv") == rows, (prefix, table)
    with Store(parallel, readonly=True) as store:
        assert store.participants() == ["a-001", "b-001", "c-001"]
