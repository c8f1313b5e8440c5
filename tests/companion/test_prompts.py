"""The just-in-time prompt rule, its micro-randomisation, the study file's companion tables,
and the proximal effect estimate (checked against statsmodels' cluster-robust OLS)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from companion_support import STUDY_TOML
from scipy import stats as sps

from stresstrack.analysis.proximal import (
    DecisionOutcome,
    decision_outcomes,
    proximal_effect,
    store_proximal,
)
from stresstrack.cli import main
from stresstrack.companion.prompts import DECISION, PromptPolicy
from stresstrack.companion.settings import (
    PromptRule,
    guided_protocol,
    load_companion,
    parse_companion,
)
from stresstrack.errors import ImportFormatError
from stresstrack.pipeline.results import Session, StressRow
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
T0 = 1_780_000_000 * NS - (1_780_000_000 % 86400) * NS + 10 * 3600 * NS  # 10:00 UTC


def row(t_s: float, index: float | None, confidence: float = 0.8, p: str = "P1") -> StressRow:
    return StressRow(
        time_ns=T0 + round(t_s * NS), participant=p, study="s", index=index,
        confidence=confidence, components={}, version="1.1",
    )  # fmt: skip


def run(policy: PromptPolicy, rows: list[StressRow]) -> list[int]:
    """Seconds after T0 of the decision points."""
    out = []
    for r in rows:
        d = policy.update(r)
        if d is not None:
            out.append(round((d.time_ns - T0) / NS))
    return out


def test_threshold_confidence_duration_and_gap() -> None:
    rule = PromptRule(threshold=70, min_confidence=0.7, sustained_s=300, min_gap_s=3600)
    rows = [row(5 * i, 80) for i in range(0, 200)]  # 1000 s high
    assert run(PromptPolicy(rule), rows) == [300]  # after 5 min; the gap holds off the rest
    broken = [row(5 * i, 80 if i != 30 else 60) for i in range(0, 200)]  # a dip at 150 s
    assert run(PromptPolicy(rule), broken) == [455]
    unsure = [row(5 * i, 80, confidence=0.6) for i in range(0, 200)]
    assert run(PromptPolicy(rule), unsure) == []
    missing = [row(5 * i, 80 if i % 20 else None) for i in range(0, 200)]  # no index: restart
    assert run(PromptPolicy(rule), missing) == []
    hours = [row(5 * i, 80) for i in range(0, 4 * 720)]  # 4 h high: one per hour
    assert run(PromptPolicy(rule), hours) == [300, 3900, 7500, 11100]


def test_daily_limit_quiet_hours_and_sessions() -> None:
    rule = PromptRule(threshold=70, sustained_s=0, min_gap_s=600, max_per_day=2)
    day = [row(60 * i, 90) for i in range(0, 60)]
    assert run(PromptPolicy(rule), day) == [0, 600]
    quiet = PromptRule(threshold=70, sustained_s=0, min_gap_s=600,
                       quiet_start=dt.time(9, 30), quiet_end=dt.time(10, 30))  # fmt: skip
    assert run(PromptPolicy(quiet), day) == [1800, 2400, 3000]
    paris = PromptRule(threshold=70, sustained_s=0, min_gap_s=600, timezone="Europe/Paris",
                       quiet_start=dt.time(11, 30), quiet_end=dt.time(12, 30))  # fmt: skip
    assert run(PromptPolicy(paris), day) == [1800, 2400, 3000]  # 10:00 UTC = 12:00 in Paris
    policy = PromptPolicy(PromptRule(threshold=70, sustained_s=0, min_gap_s=0))
    policy.session(Session(participant="P1", study="s", kind="rest", start_ns=T0, end_ns=None))
    assert run(policy, day[:3]) == []
    policy.session(Session(participant="P1", study="s", kind="rest", start_ns=T0, end_ns=T0))
    assert run(policy, day[3:5]) == [180, 240]


def test_micro_randomisation_is_reproducible_with_probability_p() -> None:
    rule = PromptRule(threshold=70, sustained_s=0, min_gap_s=0, max_per_day=10**6,
                      probability=0.3)  # fmt: skip
    rows = [row(60 * i, 90, p=f"P{i % 7}") for i in range(4000)]
    first = [PromptPolicy(rule).update(r) for r in rows]
    again = [PromptPolicy(rule).update(r) for r in rows]
    assert first == again
    prompted = sum(d is not None and d.prompted for d in first)
    # Binomial(4000, 0.3): the exact two-sided 99.9 % acceptance region (scipy).
    lo, hi = sps.binom.ppf([0.0005, 0.9995], 4000, 0.3)
    assert lo <= prompted <= hi
    d0 = first[0]
    assert d0 is not None and d0.markers(rule)[0].kind == DECISION


def test_study_file_companion_tables(tmp_path: Path) -> None:
    s = parse_companion(STUDY_TOML, "study.toml")
    assert s.consent_version == "v2-companion" and s.show_stress
    assert [b.title for b in s.sessions] == ["Serum ritual", "Rest"]
    assert s.prompt is not None and s.prompt.sustained_s == 60 and s.prompt.threshold == 65
    for bad, message in [
        ("threshold = 65", "threshold = 165"),
        ("probability = 1.0", "probability = 1.5"),
        ("min_gap_min = 5", 'quiet_hours = ["22:00"]'),
        ("max_per_day = 4", 'timezone = "Mars/Olympus"'),
        ('mode = "solo"\nmessage', 'mode = "alone"\nmessage'),
        ("[prompt]", "[prompt]\nthreshhold = 3"),
    ]:
        with pytest.raises(ImportFormatError, match=r"study.toml: \[prompt\]"):
            parse_companion(STUDY_TOML.replace(bad, message), "study.toml")
    with pytest.raises(ImportFormatError, match="unknown table"):
        parse_companion(STUDY_TOML + "\n[promt]\n", "study.toml")


def test_study_file_guided_protocol(tmp_path: Path) -> None:
    """``[companion] protocol``: a protocol file beside the study file, or a shipped one by
    name; each participant gets their counterbalanced order; errors name the study file."""
    (tmp_path / "mine.toml").write_text(
        '[[phase]]\nkind = "rest"\nminutes = 2\nprompt = "Sit."\n'
        '[[phase]]\nkind = "breathing"\nduration_s = 90\n',
        encoding="utf-8",
    )
    study = tmp_path / "study.toml"
    with_protocol = STUDY_TOML.replace(
        "show_stress = true", 'show_stress = true\nprotocol = "mine.toml"'
    )
    study.write_text(with_protocol, encoding="utf-8")
    guided = guided_protocol(load_companion(study), "P001")
    assert guided is not None and guided["phases"] == [
        {"kind": "rest", "mode": "", "label": "", "instruction": "Sit.", "seconds": 120.0},
        {"kind": "breathing", "mode": "", "label": "", "instruction": "", "seconds": 90.0},
    ]
    assert guided_protocol(parse_companion(STUDY_TOML, "study.toml"), "P001") is None
    # A shipped crossover: P001 (first in the file) in the order A B, P002 in B A.
    shipped = STUDY_TOML.replace(
        "show_stress = true", 'show_stress = true\nprotocol = "stress-selfcare-vs-rest"'
    )
    settings = parse_companion(shipped, "study.toml")
    orders = [guided_protocol(settings, p)["order"] for p in ("P001", "P002")]  # type: ignore[index]
    assert orders == [["self-care", "rest"], ["rest", "self-care"]]
    for value, message in [('"no-such-protocol"', "no such file"), ("3", "a protocol's name")]:
        bad = STUDY_TOML.replace("show_stress = true", f"show_stress = true\nprotocol = {value}")
        with pytest.raises(ImportFormatError, match=rf"study.toml: \[companion\].*{message}"):
            parse_companion(bad, "study.toml")


def _outcomes(seed: int, effect: float) -> list[DecisionOutcome]:
    """A micro-randomised study: 8 participants, 40 decision points each, p = 0.4, outcomes
    with a participant effect and noise; prompting changes the outcome by ``effect``."""
    rng = np.random.default_rng(seed)
    out = []
    for p in range(8):
        base = rng.normal(0, 4)
        for i in range(40):
            a = bool(rng.random() < 0.4)
            y = base - 3.0 + effect * a + rng.normal(0, 6)
            out.append(DecisionOutcome(f"P{p}", i * NS, a, 0.4, float(y)))
    return out


def test_proximal_effect_equals_statsmodels_cluster_robust_ols() -> None:
    for seed in range(5):
        outcomes = _outcomes(seed, effect=-5.0)
        est = proximal_effect(outcomes)
        x = sm.add_constant(np.array([float(o.prompted) - o.probability for o in outcomes]))
        y = np.array([o.outcome for o in outcomes])
        groups = np.array([int(o.participant[1:]) for o in outcomes])
        ref = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
        assert est.effect == pytest.approx(ref.params[1], rel=1e-10)
        assert est.se == pytest.approx(ref.bse[1], rel=1e-10)
        lo, hi = ref.conf_int(0.05)[1]
        assert (est.ci_low, est.ci_high) == (
            pytest.approx(lo, rel=1e-9),
            pytest.approx(hi, rel=1e-9),
        )
        assert est.p_value == pytest.approx(ref.pvalues[1], rel=1e-8)
        assert est.df == 7


def test_proximal_effect_coverage_on_simulated_studies() -> None:
    """The 95 % CI holds the true effect in about 95 % of simulated studies."""
    hits = sum(
        est.ci_low <= -5.0 <= est.ci_high  # type: ignore[operator]
        for est in (proximal_effect(_outcomes(100 + s, -5.0)) for s in range(300))
    )
    assert sps.binom.cdf(hits, 300, 0.95) > 0.001  # not significantly below 95 %


def test_analyze_reports_the_proximal_effect(tmp_path: Path) -> None:
    """Decision markers and stress rows in a store: ``stresstrack analyze`` writes
    proximal.csv with the effect a direct computation from the stored rows gives."""
    from stresstrack.companion.prompts import Decision

    rule = PromptRule(probability=0.5)
    store_path = tmp_path / "s.db"
    rng = np.random.default_rng(3)
    with Store(store_path) as store:
        rows, markers = [], []
        for p in range(3):
            for k in range(12):
                t = T0 + k * 3600 * NS
                prompted = bool(rng.random() < 0.5)
                d = Decision(t, f"P{p}", "s", prompted, 0.5, 75.0, 0.8)
                markers += d.markers(rule)
                level = 75.0 - (12.0 if prompted else 4.0) + rng.normal(0, 3)
                rows += [
                    StressRow(time_ns=t + i * 5 * NS, participant=f"P{p}", study="s",
                              index=level if i else 75.0, confidence=0.8, components={},
                              version="1.1")
                    for i in range(0, 361)
                ]  # fmt: skip
        store.add_events(markers)
        store.add_results(stress=rows)
        est = store_proximal(store)
    assert est is not None and est.effect is not None
    direct = proximal_effect(decision_outcomes([m for m in markers if m.kind == DECISION], rows))
    assert est == direct
    assert est.ci_low < -8.0 < est.ci_high  # type: ignore[operator]
    assert main(["analyze", str(store_path), "--out", str(tmp_path / "a")]) == 0
    text = (tmp_path / "a" / "proximal.csv").read_text()
    assert f"{est.effect}" in text and json.dumps(est.n_decisions) in text
