"""The Python API: README examples, and tables against independent readers."""

from __future__ import annotations

import doctest
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import stresstrack
from stresstrack.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_readme_python_examples_run(demo_store: Path, tmp_path: Path) -> None:
    """Every ``>>>`` example of README.md, in the folder the demo writes by default."""
    (tmp_path / "stresstrack-demo").mkdir()
    shutil.copy(demo_store, tmp_path / "stresstrack-demo" / "stresstrack.db")
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, "README.md", str(ROOT / "README.md"), 0)
    assert len(test.examples) >= 15
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        runner.run(test)
    finally:
        os.chdir(cwd)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted == len(test.examples)


def test_study_tables_equal_the_csv_export(demo_store: Path, tmp_path: Path) -> None:
    """``features()``/``stress()``/``sessions()`` equal ``stresstrack export`` read by pandas,
    and ``events`` counts equal a direct SQL count of the store."""
    with stresstrack.open(demo_store) as study:
        for table in ("features", "stress", "sessions"):
            out = tmp_path / f"{table}.csv"
            assert main(["export", str(demo_store), "--table", table, "--out", str(out)]) == 0
            csv = pd.read_csv(out, keep_default_na=True)
            csv["time"] = pd.to_datetime(csv["time"], utc=True)
            csv = csv.set_index("time")
            api = getattr(study, table)()
            assert list(api.columns) == list(csv.columns)
            assert str(api.index.tz) == "UTC"
            numeric = api.select_dtypes("number").columns
            np.testing.assert_allclose(api[numeric].to_numpy(float), csv[numeric].to_numpy(float))
            assert (api.index == csv.index.as_unit(api.index.unit)).all()
        con = sqlite3.connect(demo_store)
        for kind in ("beat", "eda", "marker"):
            (n,) = con.execute("SELECT count(*) FROM events WHERE type = ?", (kind,)).fetchone()
            assert len(study.events(kind)) == n > 0
        con.close()
        with pytest.raises(ValueError, match="unknown event kind"):
            study.events("beats")


def test_process_equals_a_replay_of_the_same_arrays_as_csv(tmp_path: Path) -> None:
    """``process`` on arrays gives the features ``replay`` gives for the same data as the
    generic CSV layout."""
    rng = np.random.default_rng(1)
    rr = 780 + 50 * np.sin(np.arange(900) / 6) + rng.normal(0, 12, 900)
    eda = 3 + 0.2 * np.sin(np.arange(4 * 720) / 30) + rng.normal(0, 0.005, 4 * 720)
    start = pd.Timestamp("2026-01-05T09:00:00Z")
    marks = [(120, "start", "stressor"), (400, "stop", "stressor")]
    res = stresstrack.process(rr_ms=rr, eda=eda, eda_rate=4, start=start, markers=marks)
    folder = tmp_path / "csv"
    folder.mkdir()
    t0 = start.value / 1e9
    beat_t = t0 + np.round(np.cumsum(rr) * 1e6) / 1e9
    pd.DataFrame({"time": [f"{t:.6f}" for t in beat_t], "rr_ms": rr}).to_csv(
        folder / "rr.csv", index=False
    )
    eda_t = t0 + np.arange(len(eda)) / 4
    pd.DataFrame({"time": [f"{t:.6f}" for t in eda_t], "eda_us": eda}).to_csv(
        folder / "eda.csv", index=False
    )
    markers = {"time": [t0 + 120, t0 + 400], "action": ["start", "stop"], "kind": ["stressor"] * 2}
    pd.DataFrame(markers).to_csv(folder / "markers.csv", index=False)
    out = tmp_path / "r.db"
    assert main(["replay", str(folder), "--format", "csv", "--participant", "p1",
                 "--store", str(out)]) == 0  # fmt: skip
    with stresstrack.open(out) as replayed:
        features = replayed.features()
        sessions = replayed.sessions()
    assert len(res.features) == len(features) > 100
    numeric = features.select_dtypes("number").columns
    np.testing.assert_allclose(res.features[numeric].to_numpy(float),
                               features[numeric].to_numpy(float), rtol=1e-6, atol=1e-9)  # fmt: skip
    assert res.sessions[["kind", "duration_s"]].values.tolist() == [["stressor", 280.0]]
    assert sessions["kind"].tolist() == ["stressor"]
