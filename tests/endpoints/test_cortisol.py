"""Cortisol reactivity: AUCg and AUCi against a hand computation, and the lag offset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stresstrack.analysis.sessions import AnalysisSettings, analyze_store
from stresstrack.endpoints.config import parse_endpoints
from stresstrack.endpoints.cortisol import auc, level_at, session_reactivity
from stresstrack.events import LabSample
from stresstrack.pipeline.results import Session
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS  # 2026-01-05 09:00 UTC
MIN = 60 * NS


def test_auc_equals_the_hand_computation() -> None:
    """Five salivary cortisol samples (nmol/L) at 0, 10, 20, 30 and 45 min:
    8.0, 12.5, 15.0, 11.0, 9.0. Pruessner et al. (2003), formulas (2) and (3), by hand:

    AUCg = (8.0 + 12.5)/2·10 + (12.5 + 15.0)/2·10 + (15.0 + 11.0)/2·10 + (11.0 + 9.0)/2·15
         = 102.5 + 137.5 + 130.0 + 150.0 = 520.0 nmol/L·min
    AUCi = AUCg − 8.0 · (10 + 10 + 10 + 15) = 520.0 − 360.0 = 160.0 nmol/L·min

    numpy's trapezoid rule (an independent implementation) gives the same AUCg."""
    minutes, values = [0.0, 10.0, 20.0, 30.0, 45.0], [8.0, 12.5, 15.0, 11.0, 9.0]
    g, i = auc(minutes, values)
    assert g == pytest.approx(520.0) and i == pytest.approx(160.0)
    assert g == pytest.approx(float(np.trapezoid(values, minutes)))


def test_auc_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(ValueError, match="at least two"):
        auc([0.0], [1.0])
    with pytest.raises(ValueError, match="increase"):
        auc([0.0, 10.0, 10.0], [1.0, 2.0, 3.0])


def test_lag_moves_the_samples_a_session_is_judged_on() -> None:
    """Session 09:00-09:10; samples at 09:00, 09:10, 09:20, 09:30, 09:40 of
    8, 9, 14, 12, 9 nmol/L.

    Lag 15 min: the lagged session is 09:15-09:25; the samples surrounding it are 09:10
    (last at or before 09:15), 09:20 and 09:30 (first at or after 09:25):
    AUCg = (9 + 14)/2·10 + (14 + 12)/2·10 = 115 + 130 = 245; AUCi = 245 − 9·20 = 65.
    Lag 0: 09:00 and 09:10 only: AUCg = (8 + 9)/2·10 = 85; AUCi = 85 − 8·10 = 5."""
    times = [T0 + k * 10 * MIN for k in range(5)]
    values = [8.0, 9.0, 14.0, 12.0, 9.0]
    lagged = session_reactivity(times, values, T0, T0 + 10 * MIN, 15 * MIN)
    assert lagged is not None
    assert (lagged.aucg, lagged.auci, lagged.samples) == pytest.approx((245.0, 65.0, 3))
    now = session_reactivity(times, values, T0, T0 + 10 * MIN, 0)
    assert now is not None and (now.aucg, now.auci) == pytest.approx((85.0, 5.0))
    # No sample after the lagged end: no AUC.
    assert session_reactivity(times, values, T0 + 20 * MIN, T0 + 30 * MIN, 15 * MIN) is None
    assert level_at(times, values, T0 + 15 * MIN) == pytest.approx(11.5)
    assert level_at(times, values, T0 + 41 * MIN) is None


def test_the_study_files_lag_reaches_the_analysis(tmp_path: Path) -> None:
    """The same store analysed with ``[lab] lag_minutes = {cortisol = 15}`` and with a lag
    of 0: the session's AUCs are the hand values of the test above, and the pre/during
    cortisol levels are read at start + 15 min (11.5) and end + 15 min (13.0)."""
    store_path = tmp_path / "s.db"
    with Store(store_path) as store:
        store.add_results(
            sessions=[
                Session(
                    participant="P1", study="x", kind="stressor", start_ns=T0, end_ns=T0 + 10 * MIN
                )
            ],
        )
        store.add_events(
            [
                LabSample(time_ns=T0 + k * 10 * MIN, participant="P1", study="x",
                          analyte="cortisol", value=v, unit="nmol/L")
                for k, v in enumerate([8.0, 9.0, 14.0, 12.0, 9.0])
            ]
        )  # fmt: skip
        results = {}
        for lag in (15, 0):
            cfg = parse_endpoints(f"[lab]\nlag_minutes = {{cortisol = {lag}}}\n", "study.toml")
            a = analyze_store(store, AnalysisSettings(pre_s=60, boot=0), endpoints=cfg)
            assert a.endpoints is not None
            (s,) = a.endpoints.sessions
            results[lag] = s
    react = results[15].reactivity["cortisol"]
    assert (react.aucg, react.auci) == pytest.approx((245.0, 65.0))
    assert results[15].result.value("cortisol", "pre") == pytest.approx(11.5)
    assert results[15].result.value("cortisol", "during") == pytest.approx(13.0)
    zero = results[0].reactivity["cortisol"]
    assert (zero.aucg, zero.auci) == pytest.approx((85.0, 5.0))
