"""docs/schema.md against what the code writes: the field names of every measurement of a
simulated study in the real influxd (tests/dashboards/dashboard_study.py), and the
downsampled measurements of ``stresstrack influx setup``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from dashboard_study import LoadedStudy

from stresstrack.dashboards.downsampling import DOWNSAMPLED

pytestmark = pytest.mark.influx
DOC = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
# Documented fields a simulated study (HRS straps and EDA bands, no ECG/PPG device) does not
# produce, each with why; anything else documented must appear.
NOT_IN_A_SIMULATED_STUDY = {
    "rr_ticks",  # written only when the strap sends raw ticks
    "activity_mg",  # features: only with an accelerometer (Polar H10 ACC)
    "moving_share",
    "energy_kj",  # when the strap sends energy expended
    "detail",  # device_status: a status with a message
    "gap_start_ms",  # device_status: a gap
    "contact",  # device_status: contact reported with the status
    "reason",  # stress: when the index is missing or degraded
    "hrv_reason",  # features: when no HRV window value (engine.py: reasons["hrv"])
    "eda_reason",  # features: when no EDA window value (engine.py: reasons["eda"])
    "p10",  # stress_cohort_1m: the nearest rank of 10 % needs 5 participants (the study has 3)
}


def documented() -> dict[str, set[str]]:
    """measurement -> the field names of its table row (backticked, outside parentheses)."""
    out: dict[str, set[str]] = {}
    for line in DOC.read_text("utf-8").splitlines():
        m = re.match(r"\| `(\w+)` \|[^|]*\|[^|]*\| (.*) \|$", line)
        if m is None:
            continue
        cell = m.group(2)
        while re.search(r"\([^()]*\)", cell):
            cell = re.sub(r"\([^()]*\)", "", cell)
        out[m.group(1)] = set(re.findall(r"`([a-z][a-z0-9_]*)`", cell))
    return out


def test_every_field_written_is_documented_and_every_documented_field_exists(
    loaded_study: LoadedStudy,
) -> None:
    doc = documented()
    measurements = {r["name"] for r in loaded_study.rows("SHOW MEASUREMENTS")}
    assert measurements >= {"beat", "heart_rate", "eda", "device_status", "features", "stress"}
    for m in sorted(measurements):
        assert m in doc, f"measurement {m!r} is not in docs/schema.md"
        actual = {str(r["fieldKey"]) for r in loaded_study.rows(f'SHOW FIELD KEYS FROM "{m}"')}
        assert actual - doc[m] == set(), (
            f"{m}: written but not documented: {sorted(actual - doc[m])}"
        )
        missing = doc[m] - actual - NOT_IN_A_SIMULATED_STUDY
        assert missing == set(), f"{m}: documented but never written: {sorted(missing)}"


def test_downsampled_measurements_are_documented() -> None:
    doc = documented()
    for d in DOWNSAMPLED:
        assert doc.get(d.target) == set(d.fields), d.target
