"""``stresstrack export --bids``: the official BIDS validator, and the files read back."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stresstrack.cli import main
from stresstrack.events import EdaSamples
from stresstrack.store.sqlite import Store

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tools/bids-validator/node_modules/bids-validator/bin/bids-validator"
NS = 1_000_000_000


def _validate(folder: Path) -> dict[str, list[dict[str, object]]]:
    node = shutil.which("node")
    assert node and VALIDATOR.exists(), (
        "the BIDS validator is installed by scripts/test (npm ci in tools/bids-validator)"
    )
    done = subprocess.run(
        [node, str(VALIDATOR), str(folder), "--json"], capture_output=True, text=True, timeout=300
    )
    report: dict[str, list[dict[str, object]]] = json.loads(done.stdout)["issues"]
    return report


@pytest.fixture(scope="module")
def bids_dir(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bids") / "dataset"
    assert main(["export", str(demo_store), "--bids", str(out)]) == 0
    return out


def test_demo_bids_export_passes_the_official_validator(bids_dir: Path) -> None:
    """bids-validator 1.15.0 (npm, run with Node) finds no error in the demo's dataset."""
    issues = _validate(bids_dir)
    assert issues["errors"] == [], [e["key"] for e in issues["errors"]]
    assert {w["key"] for w in issues["warnings"]} <= {"NO_AUTHORS", "README_FILE_SMALL"}


def test_validator_catches_a_broken_dataset(bids_dir: Path, tmp_path: Path) -> None:
    """The check can fail: a sidecar without SamplingFrequency is an error."""
    broken = tmp_path / "broken"
    shutil.copytree(bids_dir, broken)
    sidecar = next(broken.glob("sub-*/beh/*_recording-eda_physio.json"))
    meta = json.loads(sidecar.read_text())
    del meta["SamplingFrequency"]
    sidecar.write_text(json.dumps(meta))
    assert _validate(broken)["errors"]


def test_bids_files_hold_the_store(bids_dir: Path, demo_store: Path) -> None:
    """Read with pandas: participants are pseudonyms, the EDA physio file holds every stored
    sample on its grid from StartTime, events hold the sessions and beats, and the features
    file has the columns of ``export --table features``."""
    parts = pd.read_csv(bids_dir / "participants.tsv", sep="\t")
    assert all(p.stat().st_mode & 0o077 == 0 for p in bids_dir.rglob("*"))  # owner-only
    with Store(demo_store, readonly=True) as store:
        pids = store.participants()
        assert list(parts["pseudonym"]) == pids
        pid = pids[0]
        eda = [e for e in store.iter_events(pid) if isinstance(e, EdaSamples)]
        first_ns = min(e.time_ns for e in store.iter_events(pid))
        sessions = store.sessions(pid)
        beats = sum(1 for e in store.iter_events(pid) if type(e).__name__ == "Beat")
    sub = bids_dir / str(parts["participant_id"][0])
    (physio,) = sub.glob("beh/*_recording-eda_physio.tsv.gz")
    meta = json.loads(physio.with_name(physio.name.replace(".tsv.gz", ".json")).read_text())
    data = pd.read_csv(physio, sep="\t", header=None, names=meta["Columns"], na_values="n/a")
    stored = np.concatenate([e.values_us for e in eda])
    assert meta["Columns"] == ["eda"] and meta["SamplingFrequency"] == eda[0].sampling_rate
    assert meta["StartTime"] == pytest.approx((eda[0].time_ns - first_ns) / NS)
    assert int(data["eda"].notna().sum()) == len(stored)
    np.testing.assert_allclose(data["eda"].dropna().to_numpy(), stored)

    (events_file,) = sub.glob("beh/*_events.tsv")
    events = pd.read_csv(events_file, sep="\t", na_values="n/a")
    marked = events[events["trial_type"] != "beat"]
    assert list(marked["trial_type"]) == [s.kind for s in sessions]
    assert marked["onset"].tolist() == pytest.approx(
        [(s.start_ns - first_ns) / NS for s in sessions]
    )
    assert int((events["trial_type"] == "beat").sum()) == beats

    (features,) = sub.glob("beh/*_recording-features_physio.tsv.gz")
    fmeta = json.loads(features.with_name(features.name.replace(".tsv.gz", ".json")).read_text())
    out = bids_dir.parent / "features.csv"
    assert main(["export", str(demo_store), "--table", "features", "--participant", pid,
                 "--out", str(out)]) == 0  # fmt: skip
    header = pd.read_csv(out, nrows=0).columns
    assert fmeta["Columns"] == [c for c in header if c not in ("time", "participant", "study",
                                                                "reasons")]  # fmt: skip


def test_bids_refuses_a_non_empty_folder_and_clashing_labels(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    assert main(["export", str(demo_store), "--bids", str(tmp_path / "x")]) != 0
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
    from stresstrack.events import Beat

    clash = tmp_path / "clash.db"
    with Store(clash) as s:
        s.add_events([Beat(time_ns=NS, participant=p, rr_ms=800.0) for p in ("p-01", "p01")])
    assert main(["export", str(clash), "--bids", str(tmp_path / "y")]) != 0
    assert "would both be sub-p01" in capsys.readouterr().err


def test_ecg_and_ppg_recordings_pass_the_validator(tmp_path: Path) -> None:
    """A store with ECG (250 Hz, µV) and PPG (64 Hz) waveforms, replayed from CSV (NeuroKit2's
    simulators), exports ``recording-ecg`` and ``recording-ppg`` physio files that the
    official validator accepts and that hold every sample on its grid."""
    import neurokit2 as nk

    folder = tmp_path / "csv"
    folder.mkdir()
    t0 = 1_767_603_600
    ecg_uv = np.round(nk.ecg_simulate(duration=90, sampling_rate=250, random_state=1) * 1000, 3)
    ppg = np.round(nk.ppg_simulate(duration=90, sampling_rate=64, random_state=1), 5)
    for name, column, rate, values in (("ecg", "ecg_uv", 250, ecg_uv), ("ppg", "ppg", 64, ppg)):
        times = [f"{t0 + i / rate:.6f}" for i in range(values.size)]
        pd.DataFrame({"time": times, column: values}).to_csv(folder / f"{name}.csv", index=False)
    store = tmp_path / "ecg.db"
    assert main(["replay", str(folder), "--format", "csv", "--participant", "p-07",
                 "--store", str(store)]) == 0  # fmt: skip
    out = tmp_path / "bids"
    assert main(["export", str(store), "--bids", str(out)]) == 0
    issues = _validate(out)
    assert issues["errors"] == [], [e["key"] for e in issues["errors"]]
    for signal, rate, values in (("ecg", 250.0, ecg_uv), ("ppg", 64.0, ppg)):
        (physio,) = out.glob(f"sub-p07/beh/*_recording-{signal}_physio.tsv.gz")
        meta = json.loads(physio.with_name(physio.name.replace(".tsv.gz", ".json")).read_text())
        assert (meta["Columns"], meta["SamplingFrequency"]) == ([signal], rate)
        data = pd.read_csv(physio, sep="\t", header=None, na_values="n/a")[0].to_numpy()
        np.testing.assert_allclose(data, values, rtol=1e-9)
