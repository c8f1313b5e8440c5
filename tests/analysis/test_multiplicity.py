"""Multiplicity across secondary outcomes: Holm (default) or Benjamini-Hochberg, each equal to
statsmodels' ``multipletests`` called directly, on lists of p-values and on a study's
controlled secondary rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from stresstrack.analysis import AnalysisSettings, analyze
from stresstrack.analysis.stats import adjust_p, benjamini_hochberg
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.session.protocol import Design

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
P = st.floats(1e-6, 1.0)
REFERENCE = {"holm": "holm", "bh": "fdr_bh"}


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(P, st.just(math.nan)), min_size=1, max_size=12))
def test_adjusted_p_equal_statsmodels_multipletests(p: list[float]) -> None:
    """NaN stays NaN and is not counted in the family; the rest equal multipletests."""
    finite = [x for x in p if math.isfinite(x)]
    for method, ref in REFERENCE.items():
        got = adjust_p(p, method)
        assert [math.isnan(x) for x in got] == [math.isnan(x) for x in p]
        if finite:
            want = multipletests(finite, method=ref)[1]
            assert [x for x in got if math.isfinite(x)] == pytest.approx(list(want), rel=1e-12)


def test_benjamini_hochberg_is_less_strict_than_holm() -> None:
    p = [0.01, 0.02, 0.03, 0.04]
    assert benjamini_hochberg(p) == pytest.approx([0.04] * 4)
    assert adjust_p(p, "holm") == pytest.approx([0.04, 0.06, 0.06, 0.06])  # by hand


def _participant(pid: str, first: str, rng: np.random.Generator) -> tuple[Any, ...]:
    """Two 5-min sessions (self-care, rest) in the order ``first``, each after 5 min of pre;
    index and features constant within each 5-min piece, self-care lowering HR by ~3 bpm,
    the other features noise."""
    order = ("self-care", "rest") if first == "self-care" else ("rest", "self-care")
    pieces = []
    for k, kind in enumerate(order):
        start = 10 + 15 * k
        pre = {"hr": 70 + rng.normal(0, 2), "rmssd": 40 + rng.normal(0, 4)}
        pre["scl"] = 4.0 + rng.normal(0, 0.3)
        during = {
            "hr": pre["hr"] - (3.0 if kind == "self-care" else 0.0) + rng.normal(0, 1),
            "rmssd": pre["rmssd"] + rng.normal(0, 4),
            "scl": 4.0 + rng.normal(0, 0.3),
        }
        pieces += [(start - 5, start, pre, 50.0), (start, start + 5, during, 50 - 2 * k)]
    stress, features = [], []
    for i in range(1, 40 * 12 + 1):
        t_min, t = i / 12, T0 + i * 5 * NS
        piece = next((p for p in pieces if p[0] < t_min <= p[1]), None)
        v = piece[2] if piece else {"hr": 70.0, "rmssd": 40.0, "scl": 4.0}
        index = piece[3] + rng.normal(0, 1) if piece else 50.0
        stress.append(
            StressRow(time_ns=t, participant=pid, study="s", index=index, confidence=0.9,
                      components={}, version="1")
        )  # fmt: skip
        values = {"mean_hr_bpm": v["hr"], "rmssd_ms": v["rmssd"], "scl_us": v["scl"]}
        features.append(FeatureRow(time_ns=t, participant=pid, study="s", values=values))
    sessions = [
        Session(participant=pid, study="s", kind=kind, start_ns=T0 + (10 + 15 * k) * 60 * NS,
                end_ns=T0 + (15 + 15 * k) * 60 * NS)
        for k, kind in enumerate(order)
    ]  # fmt: skip
    return pid, sessions, stress, features


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_study_secondary_rows_are_adjusted_by_the_design_method(method: str) -> None:
    rng = np.random.default_rng(5)
    data = [_participant(f"P{i:02d}", ("self-care", "rest")[i % 2], rng) for i in range(12)]
    design = Design(
        conditions=("self-care", "rest"), control="rest", secondary=("hr", "rmssd", "scl"),
        multiplicity=method,
    )  # fmt: skip
    fx = analyze(data, AnalysisSettings(boot=0, design=design)).effects
    rows = [e for e in fx.effects if e.controlled and not e.primary]
    assert {e.outcome for e in rows} == {"hr", "rmssd", "scl"}
    p = [e.p for e in rows]
    assert all(math.isfinite(x) for x in p), rows
    want = multipletests(p, method=REFERENCE[method])[1]
    assert [e.p_adjusted for e in rows] == pytest.approx(list(want), rel=1e-12)
    primary = fx.primary
    assert primary is not None and primary.p_adjusted == primary.p
