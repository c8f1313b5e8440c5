"""The simulated people against published values: the table of docs/simulators.md.

Each row gives a published range (Nunan et al. 2010 short-term HRV norms, Dawson et al. 2017
and Boucsein 2012 for EDA, Kim et al. 2018 for stress effects; sources in the table). The
test recomputes every figure over 40 simulated participants and fails if any leaves its
range, or if the table's "simulated" column no longer says what the simulator does.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "validation"))

from simulator_norms import cohort_statistics

ROOT = Path(__file__).resolve().parents[2]

_ROW = re.compile(r"^\| (\w+) \| [^|]+ \| ([^|]+) \| ([^|]+) \| [^|]+ \|$")


def _number(text: str) -> float:
    return float(text.strip().replace("−", "-").replace("+", ""))


def _table() -> dict[str, tuple[float, float, float]]:
    rows = {}
    for line in (ROOT / "docs" / "simulators.md").read_text().splitlines():
        m = _ROW.match(line)
        if m and m.group(1) != "key":
            lo, hi = m.group(3).split(" – ")
            rows[m.group(1)] = (_number(m.group(2)), _number(lo), _number(hi))
    return rows


@pytest.fixture(scope="module")
def stats() -> dict[str, float]:
    return cohort_statistics(40, seed=0)


def test_every_figure_is_in_the_table() -> None:
    table = _table()
    assert len(table) >= 20
    assert set(table) == _keys()


def _keys() -> set[str]:
    return {
        "rest_hr", "rest_sdnn", "rest_rmssd", "sdnn_gt_rmssd", "rest_lf", "rest_hf",
        "rest_lf_hf", "rest_dfa", "rest_scl", "rest_scr", "non_responders", "stress_dhr",
        "stress_drmssd", "stress_dscl", "stress_scr", "selfcare_dz", "specificity_r",
        "move_dhr", "move_dscl", "move_acc_ratio", "eda_drift",
    }  # fmt: skip


def test_simulated_people_stay_within_published_ranges(stats: dict[str, float]) -> None:
    assert set(stats) == _keys()
    outside = {
        key: (stats[key], lo, hi) for key, (_, lo, hi) in _table().items()
        if not lo <= stats[key] <= hi
    }  # fmt: skip
    assert not outside, outside


def test_the_table_says_what_the_simulator_does(stats: dict[str, float]) -> None:
    """The "simulated" column, rounded as printed, within 5 %."""
    for key, (documented, _, _) in _table().items():
        assert stats[key] == pytest.approx(documented, rel=0.05, abs=0.006), key
