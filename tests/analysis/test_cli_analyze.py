"""``stresstrack analyze``: the CSV tables, their provenance columns, options and errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from stresstrack import __version__
from stresstrack.analysis import MEASURES, TABLE_FILES
from stresstrack.analysis.tables import EFFECTS_COLUMNS
from stresstrack.cli import main
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
# Self-care change of the stress index per participant; P5's session is never stopped.
CHANGES = {"P1": -10.0, "P2": -4.0, "P3": -7.0, "P4": -13.0, "P5": -5.0}


def _store(path: Path) -> Path:
    with Store(path) as store:
        store.set_meta("study", "calm-2026")
        store.set_meta("arm/P1", "serum")
        for pid, change in CHANGES.items():
            stress, features = [], []
            for k in range(25 * 12 + 1):
                m = k / 12
                x = 50.0 + (change if 10 < m <= 15 else 0.0) + (3.0 if m > 20 else 0.0)
                t = T0 + k * 5 * NS
                stress.append(StressRow(time_ns=t, participant=pid, study="calm-2026", index=x,
                                        confidence=0.8, components={"hr": (x - 50) / 10},
                                        version="1.1"))  # fmt: skip
                features.append(FeatureRow(time_ns=t, participant=pid, study="calm-2026",
                                           values={"mean_hr_bpm": 60 + x / 10}))  # fmt: skip
            end = None if pid == "P5" else T0 + 900 * NS
            sessions = [
                Session(participant=pid, study="calm-2026", kind="baseline", start_ns=T0,
                        end_ns=T0 + 300 * NS),
                Session(participant=pid, study="calm-2026", kind="self-care", mode="solo",
                        label="serum", start_ns=T0 + 600 * NS, end_ns=end),
            ]  # fmt: skip
            store.add_results(features=features, stress=stress, sessions=sessions)
    return path


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_analyze_writes_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path / "study.db")
    assert main(["analyze", str(store), "--boot", "500", "--seed", "3"]) == 0
    out = tmp_path / "analysis"
    assert sorted(p.name for p in out.iterdir()) == sorted(TABLE_FILES)
    printed = capsys.readouterr().out
    assert printed.startswith(f"study calm-2026, stress index 1.1, stresstrack {__version__}\n")
    assert "5 sessions, 1 excluded" in printed

    sessions = _read(out / "sessions.csv")
    assert [(r["participant"], r["arm"], r["included"], r["reason"]) for r in sessions] == [
        ("P1", "serum", "true", ""),
        ("P2", "", "true", ""),
        ("P3", "", "true", ""),
        ("P4", "", "true", ""),
        ("P5", "", "false", "not closed (no stop marker)"),
    ]
    p2 = sessions[1]
    assert p2["start"] == "2026-01-05T09:10:00.000000Z" and p2["duration_min"] == "5"
    assert (p2["stress_index_pre"], p2["stress_index_during"], p2["stress_index_post"]) == (
        "50", "46", "50",
    )  # fmt: skip
    assert (p2["stress_index_delta"], p2["stress_index_post_delta"]) == ("-4", "0")
    assert p2["hr_z_delta"] == "-0.4" and float(p2["hr_delta"]) == pytest.approx(-0.4)
    for m in MEASURES:
        assert {f"{m.name}_pre", f"{m.name}_delta", f"{m.name}_post_delta"} <= set(p2)
    for table in TABLE_FILES[1:]:  # effects.csv has exactly its 13 columns (below)
        rows = _read(out / table)
        assert rows, table
        assert {r["stress_index_version"] for r in rows} == {"1.1"}
        assert {r["stresstrack_version"] for r in rows} == {__version__}
        if "study" in rows[0]:
            assert {r["study"] for r in rows} == {"calm-2026"}

    summary = _read(out / "summary.csv")
    assert [(r["kind"], r["arm"], r["n"], r["n_sessions"], r["n_excluded"]) for r in summary] == [
        ("self-care", "serum", "1", "1", "0"),
        ("self-care", "", "3", "4", "1"),
    ]
    s = summary[1]
    assert float(s["mean_delta"]) == pytest.approx(-8.0)  # P2 -4, P3 -7, P4 -13
    assert float(s["mean_pre"]) == 50.0 and float(s["mean_during"]) == pytest.approx(42.0)
    assert s["excluded_reasons"] == "not closed (no stop marker) (1)"
    assert s["post_mean_delta"] == "0" and s["wilcoxon_p"] == "0.25"
    assert s["pre_s"] == "300" and s["seed"] == "3"
    # The noncentral-t dz interval exists from 2 participants: it holds dz.
    assert float(s["ci_low"]) < float(s["dz"]) < float(s["ci_high"])

    measures = _read(out / "measures.csv")
    assert len(measures) == 2 * len(MEASURES) * 2  # 2 groups, during and post

    # No control: effects.csv holds only during - pre rows, none primary, none controlled.
    assert "no controlled estimate" in printed and "not a causal estimate" in printed
    with (out / "effects.csv").open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert tuple(header) == EFFECTS_COLUMNS
    effects = _read(out / "effects.csv")
    assert {(r["primary"], r["controlled"]) for r in effects} == {("false", "false")}
    (row,) = [
        r
        for r in effects
        if r["outcome"] == "stress_index"
        and r["contrast"] == "during − pre: self-care · solo · serum"
    ]
    assert float(row["estimate"]) == pytest.approx(-8.0) and row["n_participants"] == "3"
    assert {r["contrast"] for r in measures} == {"during", "post"}


def test_study_file_gives_the_arms(tmp_path: Path) -> None:
    store = _store(tmp_path / "study.db")
    study = tmp_path / "study.toml"
    arms = {"P1": "serum", "P2": "serum", "P3": "placebo", "P4": "placebo", "P5": "placebo"}
    entries = "".join(f'[[participant]]\nid = "{p}"\narm = "{a}"\n' for p, a in arms.items())
    study.write_text(f'[study]\nname = "calm-2026"\n{entries}', encoding="utf-8")
    out = tmp_path / "tables"
    assert main(["analyze", str(store), "--out", str(out), "--study", str(study)]) == 0
    summary = _read(out / "summary.csv")
    assert [(r["arm"], r["n"], r["mean_delta"]) for r in summary] == [
        ("serum", "2", "-7"),
        ("placebo", "2", "-10"),
    ]


def test_control_kind_adds_the_contrast(tmp_path: Path) -> None:
    store = _store(tmp_path / "study.db")
    assert (
        main(["analyze", str(store), "--control", "nothing-such", "--out", str(tmp_path / "a")])
        == 0
    )
    (row, _) = _read(tmp_path / "a" / "summary.csv")
    assert row["control_kind"] == "nothing-such" and row["control_n"] == "0"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--min-coverage", "1.5"], "min coverage must be within 0-1, got 1.5"),
        (["--pre", "0"], "the pre window must be > 0 s, got 0"),
        (["--boot", "-1"], "bootstrap resamples must be >= 0, got -1"),
    ],
)
def test_bad_options_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str], message: str
) -> None:
    store = _store(tmp_path / "study.db")
    assert main(["analyze", str(store), *option]) == 2
    assert capsys.readouterr().err == f"stresstrack analyze: error: {message}\n"


def test_missing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "nope.db")]) == 2
    assert "nope.db: no such store" in capsys.readouterr().err
