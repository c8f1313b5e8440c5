"""Kubios HRV RR text files: export with correction flags, import of Kubios-style files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stresstrack.cli import main
from stresstrack.events import Beat
from stresstrack.pipeline.beats import KubiosCorrector
from stresstrack.store.sqlite import Store

NS = 1_000_000_000


def test_kubios_export_is_the_corrected_series_with_flags(demo_store: Path, tmp_path: Path) -> None:
    """Read with numpy.loadtxt as Kubios's custom ASCII import reads it (7 header lines, tab
    separated): RR column = the beats after artefact correction, flags where it changed them,
    Time = each beat's recorded time since the start."""
    assert main(["export", str(demo_store), "--kubios", str(tmp_path)]) == 0
    with Store(demo_store, readonly=True) as store:
        pid = store.participants()[0]
        beats = sorted((e for e in store.iter_events(pid) if isinstance(e, Beat)),
                       key=lambda b: b.time_ns)  # fmt: skip
    path = tmp_path / f"{pid}_rr.txt"
    assert path.stat().st_mode & 0o077 == 0
    table = np.loadtxt(path, skiprows=7, delimiter="\t")
    corrector = KubiosCorrector()
    clean = [c for b in beats for c in corrector.add(b.time_ns, b.rr_ms)] + corrector.flush()
    np.testing.assert_allclose(table[:, 1], [round(c.rr_ms, 1) for c in clean])
    assert table[:, 2].tolist() == [float(c.corrected) for c in clean]
    assert 0 < table[:, 2].sum() < len(clean) * 0.2  # the demo's strap has a few artefacts
    start = clean[0].time_ns - round(clean[0].rr_ms * 1e6)
    np.testing.assert_allclose(table[:, 0], [(c.time_ns - start) / NS for c in clean], atol=6e-4)
    # Times are the recorded beat times: within a segment they follow the RR chain closely.
    steps = np.diff(table[:, 0])[table[1:, 3] == 0]
    assert np.median(np.abs(steps - table[1:, 1][table[1:, 3] == 0] / 1000.0)) < 0.002


def test_kubios_rr_file_imports_as_beats(tmp_path: Path) -> None:
    """The single-column RR text layout Kubios imports and exports (seconds, ``#`` header lines;
    pyhrv 0.4 ``kubios.export_nni`` writes the same) replays as beats at the running sum of
    intervals from ``--start``, and gives HRV features."""
    rng = np.random.default_rng(5)
    rr_s = 0.8 + 0.05 * np.sin(np.arange(400) / 4) + rng.normal(0, 0.01, 400)
    path = tmp_path / "P9.txt"
    path.write_text("# SIGNAL/SERIES EXPORT - KUBIOS\n# Device:\tn/a\n"
                    + "".join(f"{v:.3f}\n" for v in rr_s))  # fmt: skip
    out = tmp_path / "out.db"
    assert main(["replay", str(path), "--format", "kubios", "--start", "2026-01-05T09:00:00Z",
                 "--store", str(out)]) == 0  # fmt: skip
    with Store(out, readonly=True) as s:
        beats = [e for e in s.iter_events() if isinstance(e, Beat)]
        features = s.features()
    start = 1_767_603_600 * NS
    assert [b.rr_ms for b in beats] == pytest.approx([round(v, 3) * 1000 for v in rr_s])
    expected = start + np.round(np.cumsum(np.round(rr_s, 3)) * NS)
    assert [b.time_ns for b in beats] == pytest.approx(expected.tolist(), abs=2000)
    assert beats[0].participant == "P9"
    assert any(f.values.get("rmssd_ms") for f in features)


def test_kubios_import_without_a_date_says_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.txt"
    path.write_text("812\n790\n")
    assert main(["replay", str(path), "--format", "kubios", "--store", str(tmp_path / "o.db")]) != 0
    assert "give the start time of the first beat (--start)" in capsys.readouterr().err


def test_kubios_export_reimports_to_the_same_beats(demo_store: Path, tmp_path: Path) -> None:
    """Our export read back by the importer: the corrected intervals, at their times."""
    assert main(["export", str(demo_store), "--kubios", str(tmp_path)]) == 0
    path = sorted(tmp_path.glob("*_rr.txt"))[0]
    out = tmp_path / "back.db"
    assert main(["replay", str(path), "--store", str(out)]) == 0  # recognised by its header
    with Store(out, readonly=True) as s:
        beats = [e for e in s.iter_events() if isinstance(e, Beat)]
    table = np.loadtxt(path, skiprows=7, delimiter="\t")
    assert [b.rr_ms for b in beats] == table[:, 1].tolist()
