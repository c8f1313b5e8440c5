"""End to end on a simulated cohort (issue 21's done-when): self-report that follows the
latent stress with known noise converges with the stress index as the simulation implies;
a placebo effect on self-report alone shows in the controlled analysis of self-report and
not in physiology; the CLI and the report carry the endpoints.

The cohort (``validation/endpoints_cohort.py``, which prints the figures): the crossover of
``validation/session_effect.py`` (baseline 5 min; AB/BA blocks
of stressor 2 min, self-care or rest 3 min, recovery 1 min; self-care at the rest level, so
no physiological effect), clean signals through the real pipeline, self-report and cortisol
from :mod:`stresstrack.simulators.selfreport` (stress VAS = 10 + 80·s + b + e, e ~ N(0, 8²),
b ~ N(0, 10²); cortisol lag 20 min).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "validation"))

from endpoints_cohort import (
    ENDPOINTS,
    PLACEBO,
    SETTINGS,
    Cohort,
    analysis,
    build_cohort,
    expected_within_r,
)

from stresstrack.cli import main
from stresstrack.report import render_report
from stresstrack.store.sqlite import Store

PHYSIOLOGY = ("stress_index", "hr", "rmssd", "scl", "cortisol")
N = 16


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Cohort:
    return build_cohort(N, tmp_path_factory.mktemp("cohort"))


def test_within_person_correlation_with_the_index_is_recovered(cohort: Cohort) -> None:
    expected, clipped = expected_within_r(cohort)
    assert clipped < 0.03  # the attenuation formula ignores clipping: it must be rare
    a = analysis(cohort.plain)
    assert a.endpoints is not None
    rows = {(c.outcome, c.measure): c for c in a.endpoints.convergence}
    got = rows[("sr_stress", "stress_index")].within
    assert expected > 0.3, expected  # a real association to recover
    assert got.ci[0] <= expected <= got.ci[1], (got, expected)
    assert got.n_participants == N
    # Self-reported calm goes the other way; HR goes with stress, RMSSD against it.
    assert rows[("sr_calm", "stress_index")].within.ci[1] < 0
    assert rows[("sr_stress", "hr")].within.ci[0] > 0
    assert rows[("sr_stress", "rmssd")].within.ci[1] < 0


def test_a_placebo_on_self_report_shows_in_self_report_only(cohort: Cohort) -> None:
    """Self-report after self-care is 15 VAS points calmer than the body: the controlled
    estimate of sr_stress (self-care vs rest) is below 0 with a CI that covers −15; every
    physiological outcome (and cortisol) is the same as without the placebo, and none shows
    an effect (Holm-adjusted p >= 0.05, CI covering 0)."""
    plain, placebo = analysis(cohort.plain), analysis(cohort.placebo)
    contrast = "self-care vs rest"
    fx = {e.outcome: e for e in placebo.effects.effects if e.controlled and e.contrast == contrast}
    before = {
        e.outcome: e for e in plain.effects.effects if e.controlled and e.contrast == contrast
    }
    sr = fx["sr_stress"]
    # The same answers but for the placebo: the estimate moves by the placebo, within 10 %
    # (REML re-estimates the variance components, which reweights the participants).
    assert sr.estimate - before["sr_stress"].estimate == pytest.approx(-PLACEBO, rel=0.1)
    assert sr.ci[1] < 0 and sr.p_adjusted < 0.05, sr
    assert sr.ci[0] <= -PLACEBO <= sr.ci[1], sr  # seeded: a 95 % CI misses 1 in 20
    assert before["sr_stress"].ci[0] <= 0 <= before["sr_stress"].ci[1], before["sr_stress"]
    for outcome in PHYSIOLOGY:
        e = fx[outcome]
        assert e.estimate == pytest.approx(before[outcome].estimate), outcome
        assert e.ci[0] <= 0 <= e.ci[1] and e.p_adjusted >= 0.05, e
    assert fx["stress_index"].primary and sum(e.primary for e in fx.values()) == 1


def test_analyze_and_report_carry_the_endpoints(
    cohort: Cohort, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tmp_path / "study.toml"
    study.write_text(
        '[study]\nname = "validation"\n\n[endpoints]\nprimary = "stress_index"\n'
        'secondary = ["hr", "sr_stress", "cortisol"]\n\n[lab]\nlag_minutes = {cortisol = 20}\n',
        encoding="utf-8",
    )
    out = tmp_path / "analysis"
    args = ["analyze", str(cohort.placebo), "--out", str(out), "--study", str(study),
            "--protocol", "stress-selfcare-vs-rest", "--pre", "120", "--post", "60",
            "--boot", "0"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "sr_stress" in printed and "stress (self-report) ~ stress index: within" in printed
    sessions = pd.read_csv(out / "endpoints.csv")
    assert {"sr_stress_pre", "sr_stress_during", "cortisol_aucg", "cortisol_auci"} <= set(
        sessions.columns
    )
    assert len(pd.read_csv(out / "convergence.csv")) >= 8
    effects = pd.read_csv(out / "effects.csv")
    assert set(effects[effects["controlled"]]["outcome"]) == {
        "stress_index", "hr", "sr_stress", "cortisol"
    }  # fmt: skip
    page = tmp_path / "report.html"
    with Store(cohort.placebo, readonly=True) as store:
        render_report(store, page, settings=SETTINGS, endpoints=ENDPOINTS)
    html = page.read_text(encoding="utf-8")
    assert '<section id="body-and-mind">' in html and 'id="convergence"' in html
    # Scatters of the pairs with a within-person correlation: self-reported stress and calm
    # against the index (cortisol has one sample per person beside physiology: none).
    assert html.count('<svg class="chart scatter"') == 2
    per_kind: dict[str, int] = defaultdict(int)
    for row in html.split('id="endpoint-sessions"')[1].split("</table>")[0].split("<tr")[2:]:
        per_kind[row.split("<td>")[2].split("<")[0].split(" · ")[0]] += 1
    assert per_kind["self-care"] == N and per_kind["rest"] == N
