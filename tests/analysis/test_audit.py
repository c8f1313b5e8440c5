"""Fairness audit: optical beat loss, per-participant counts, and simulated groups end to end.

The cohorts are simulated through the real collector and pipeline: optical hearts (Polar
Verity Sense PPI) and an EDA band; participants of Fitzpatrick types V-VI get a sensor that
misses pulses and loses contact more often (stresstrack.simulators.groups), the others none.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from stresstrack.analysis.audit import (
    METRICS,
    audit,
    compare_groups,
    optical_beat_loss,
    participant_quality,
)
from stresstrack.analysis.audit_store import store_audit
from stresstrack.analysis.sessions import AnalysisSettings
from stresstrack.cli import main
from stresstrack.events import Beat, BeatSource, EventIds, Marker, MarkerAction
from stresstrack.pipeline.engine import Pipeline
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.session.protocol import Design, Phase, Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.faults import Faults
from stresstrack.simulators.groups import GroupQuality, heart_faults
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.sinks.outbox import store_points
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
PEOPLE = 12
SEEDS = (21, 22)
EXCLUSION = ("hrv_excluded", "optical_beat_loss")
PROTOCOL = Protocol(
    "audit-crossover",
    (
        Phase("baseline", 240.0),
        Phase("stressor", 60.0, block="A"),
        Phase("self-care", 120.0, mode="solo", block="A"),
        Phase("recovery", 30.0, block="A"),
        Phase("stressor", 60.0, block="B"),
        Phase("rest", 120.0, block="B"),
        Phase("recovery", 30.0, block="B"),
    ),
    design=Design(conditions=("self-care", "rest"), control="rest"),
)
SETTINGS = AnalysisSettings(boot=0, pre_s=60.0, post_s=30.0, design=PROTOCOL.design)
# The worse group's optical sensor: a missed pulse a minute, and 6 s without contact about
# every 2.5 min.
WORSE = GroupQuality(
    "skin_type",
    frozenset({"V", "VI"}),
    Faults(missed_per_min=1.0, contact_loss_every_s=150.0, contact_loss_for_s=6.0),
)


def _ids() -> list[str]:
    return [f"sim-{i + 1:03d}" for i in range(PEOPLE)]


def _attributes() -> dict[str, dict[str, str]]:
    """Skin types II, II, V, V, ...: each group holds both orders of the crossover (the
    order alternates with the participant), so group and order are not confounded."""
    return {
        p: {"skin_type": "V" if (i // 2) % 2 else "II", "sex": "f"} for i, p in enumerate(_ids())
    }


def _study_file(path: Path) -> Path:
    people = "".join(
        f'[[participant]]\nid = "{p}"\nconsent_date = 2026-01-02\nconsent_version = "v1"\n\n'
        for p in _ids()
    )
    attrs = "".join(
        f'[attributes.{p}]\nconsent = true\nskin_type = "{a["skin_type"]}"\nage_band = "30-39"\n\n'
        for p, a in _attributes().items()
    )
    path.write_text(f'[study]\nname = "audit"\n\n{people}{attrs}', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    tmp = tmp_path_factory.mktemp("audit")
    out = {}
    for seed in SEEDS:
        path = tmp / f"cohort-{seed}.db"
        with Store(path) as store:
            store.set_meta("study", "audit")
            recorder = Recorder(store, Pipeline())
            plan = StudyPlan(
                participants=PEOPLE, seed=seed, protocol=PROTOCOL, study="audit", optical=True,
                heart_faults=heart_faults(_attributes(), [WORSE]),
            )  # fmt: skip
            simulate_study(plan, recorder)
            recorder.close()
        out[seed] = path
    _study_file(tmp / "study.toml")
    return out


def _study(cohorts: dict[int, Path]) -> Path:
    return cohorts[SEEDS[0]].parent / "study.toml"


def test_optical_beat_loss_counts_missed_and_discarded_pulses() -> None:
    """800 ms beats; beat 10's pulse missed (its interval merged into beat 11's: 1600 ms),
    beats 30-32 discarded (not emitted), a 40 s link gap after beat 60 (not optical loss):
    4 of the 4 + emitted beats are lost."""
    rr = np.full(100, 800.0)
    t = np.cumsum(rr)
    keep = np.ones(100, dtype=bool)
    keep[[10, 30, 31, 32]] = False
    rr[11] = 1600.0
    t[61:] += 40_000.0
    times = (t[keep] * 1e6).astype(np.int64).tolist()
    lost, expected = optical_beat_loss(times, rr[keep].tolist())
    assert (lost, expected) == (4.0, 96.0 + 4.0)


def test_participant_counts_by_hand() -> None:
    """Four windows: one without an index, one below the confidence cut-off; HRV withheld
    in one, EDA in two; two windows of the baseline; two prompts, one high window (5 s)."""
    ids: EventIds = {"participant": "P1", "study": "s", "device": "d"}
    stress = [
        StressRow(
            time_ns=k * 5 * NS,
            index=x,
            confidence=c,
            components={},
            version="1",
            participant="P1",
            study="s",
        )
        for k, (x, c) in enumerate([(40.0, 0.9), (None, 0.0), (80.0, 0.8), (44.0, 0.3)], 1)
    ]
    features = [
        FeatureRow(time_ns=k * 5 * NS, values={}, quality={"hrv_coverage": 1.0,
                   "eda_coverage": 1.0}, reasons=r, participant="P1", study="s")
        for k, r in enumerate([{}, {"hrv": "gap", "eda": "x"}, {"eda": "x"}, {}], 1)
    ]  # fmt: skip
    sessions = [Session(kind="baseline", start_ns=0, end_ns=16 * NS, participant="P1", study="s")]
    prompt = Marker(time_ns=16 * NS, action=MarkerAction.EVENT, kind="jit-prompt", **ids)
    beat = Beat(time_ns=NS, rr_ms=900.0, source=BeatSource.HRS, **ids)
    q = participant_quality(
        "P1", stress, features, sessions, [prompt, prompt, beat],
        min_confidence=0.5, high=(70.0, 0.7), prompt_kind="jit-prompt",
    )  # fmt: skip
    assert (q.windows, q.index_excluded, q.hrv_excluded, q.eda_excluded) == (4, 2, 1, 2)
    assert q.baseline_spread == pytest.approx(np.std([40.0, 80.0], ddof=1))
    assert q.confidence == pytest.approx((0.9 + 0.0 + 0.8 + 0.3) / 4)
    assert (q.prompts, q.optical_expected) == (2, 0.0)
    assert q.high_hours == pytest.approx(5 / 3600)


def test_worse_optical_signal_is_flagged(cohorts: dict[int, Path]) -> None:
    """Skin types V vs II with the worse sensor on V: exclusion and beat loss are flagged
    with their CI, in both simulated cohorts; the attribute without a difference (sex, one
    group) is not compared."""
    for seed, path in cohorts.items():
        with Store(path, readonly=True) as store:
            result = store_audit(store, _study(cohorts), SETTINGS)
        assert set(result.groups) == {"skin_type"}  # sex and age band have one value
        by = {c.metric: c for c in result.comparisons}
        for metric in EXCLUSION:
            c = by[metric]
            assert (c.group, c.other) == ("II", "V")
            assert c.flagged and c.difference.ci[1] < -c.bound / 2, (seed, metric, c)
        effect = by["session_effect"]  # the group × condition row (too wide to flag here)
        assert effect.note or effect.difference.ci[0] < effect.difference.estimate


def test_equal_groups_are_left_unflagged(cohorts: dict[int, Path]) -> None:
    """Equal groups: random halves of the participants that share a sensor quality, 30
    splits per cohort and quality, 120 null comparisons per metric. Flags must stay within
    the binomial 99.9 % quantile of 120 comparisons at the nominal 5 % (a bound from the
    false-flag rate, not from these seeds; the splits of one cohort are not independent, so
    the bound is loose rather than tight)."""
    rng = np.random.default_rng(3)
    counts = {m.name: 0 for m in METRICS if m.name in (*EXCLUSION, "index_excluded")}
    comparisons = 0
    for path in cohorts.values():
        with Store(path, readonly=True) as store:
            attrs = _attributes()
            qualities = {
                p: participant_quality(p, store.stress(p), store.features(p), store.sessions(p),
                                       store.iter_events(p), min_confidence=0.5,
                                       high=(70.0, 0.7), prompt_kind="jit-prompt")
                for p in _ids()
            }  # fmt: skip
        for skin in ("II", "V"):
            same = [p for p in _ids() if attrs[p]["skin_type"] == skin]
            for _ in range(30):
                half = set(rng.permutation(same)[: len(same) // 2].tolist())
                values = {"x": sorted(half), "y": sorted(set(same) - half)}
                comparisons += 1
                for c in compare_groups("split", values, qualities):
                    if c.metric in counts:
                        counts[c.metric] += c.flagged
    bound = stats.binom.ppf(0.999, comparisons, 0.05)
    assert comparisons == 120 and all(n <= bound for n in counts.values()), counts


def test_audit_command_and_report_section(
    cohorts: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, study = cohorts[SEEDS[0]], _study(cohorts)
    out = tmp_path / "audit"
    assert main(["audit", "--store", str(store), "--study", str(study), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        "skin_type: II (6), V (6)" in printed
        and "FLAGGED skin_type II vs V, hrv_excluded" in printed
    )
    rows = list(csv.DictReader((out / "audit.csv").read_text(encoding="utf-8").splitlines()))
    assert {r["metric"] for r in rows if r["flagged"] == "true"} >= set(EXCLUSION)
    assert "sim-001" not in (out / "audit.csv").read_text(encoding="utf-8")  # aggregates only
    assert not (out / "audit_participants.csv").exists()
    assert main(["audit", "--store", str(store), "--study", str(study), "--out", str(out),
                 "--participants"]) == 0  # fmt: skip
    text = (out / "audit_participants.csv").read_text(encoding="utf-8")
    people = list(csv.DictReader(text.splitlines()))
    first = [(r["participant"], r["skin_type"]) for r in people[:2]]
    assert first == [("sim-001", "II"), ("sim-002", "II")]
    assert (out / "audit_participants.csv").stat().st_mode & 0o777 == 0o600
    page = tmp_path / "r.html"
    assert (
        main(["report", str(store), "--out", str(page), "--boot", "0", "--study", str(study)]) == 0
    )
    html = page.read_text(encoding="utf-8")
    assert 'id="fairness-audit"' in html and "Bent et al. 2020" in html and "FLAGGED" in html


def test_attributes_never_reach_influxdb(
    cohorts: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A live (simulated) collection with a study file holding attributes: no line of the
    InfluxDB line protocol, and nothing in the store, carries them."""
    study = _study(cohorts)
    store = tmp_path / "live.db"
    assert main(["collect", "--simulate", "--participant", "sim-002", "--store", str(store),
                 "--study", str(study), "--duration", "8"]) == 0  # fmt: skip
    with Store(store, readonly=True) as s:
        lines = "\n".join(store_points(s, raw=True))
        assert lines.count("\n") > 10 and "sim-002" in lines
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("live.db*"))
    for word in ("skin_type", "age_band", "30-39", "attributes"):
        assert word not in lines and word.encode() not in raw


def test_prompt_rate_counts_the_companions_prompts(
    cohorts: dict[int, Path], tmp_path: Path
) -> None:
    """The companion's prompt policy run over a cohort's stress index (threshold 60, as the
    study file's [prompt] says) stores its prompts; the audit counts exactly those prompts
    and the windows at or above the threshold, and compares the groups' rates."""
    from stresstrack.companion.prompts import PromptPolicy
    from stresstrack.companion.settings import PromptRule

    path = tmp_path / "prompts.db"
    path.write_bytes(cohorts[SEEDS[1]].read_bytes())
    rule = PromptRule(threshold=60.0, min_confidence=0.5, sustained_s=30.0, min_gap_s=60.0,
                      max_per_day=100)  # fmt: skip
    policy = PromptPolicy(rule)
    prompted: dict[str, int] = {}
    high: dict[str, int] = {}
    with Store(path) as store:
        for p in _ids():
            rows = store.stress(p)
            high[p] = sum(r.index is not None and r.index >= 60 and r.confidence >= 0.5
                          for r in rows)  # fmt: skip
            for row in rows:
                d = policy.update(row)
                if d is not None:
                    store.add_events(d.markers(rule))
                    prompted[p] = prompted.get(p, 0) + d.prompted
        study = _study_file(tmp_path / "study.toml")
        study.write_text(
            study.read_text(encoding="utf-8") + "[prompt]\nthreshold = 60\nmin_confidence = 0.5\n",
            encoding="utf-8",
        )
        result = store_audit(store, study, SETTINGS)
    assert sum(prompted.values()) > 3
    for q in result.qualities:
        assert q.prompts == prompted.get(q.participant, 0)
        assert q.high_hours == pytest.approx(high[q.participant] * 5 / 3600)
    (rate,) = [c for c in result.comparisons if c.metric == "prompts_per_high_h"]
    assert rate.difference.a > 0 and rate.difference.ci[0] <= rate.difference.estimate


def test_audit_metrics_without_groups_say_so() -> None:
    result = audit([], {"P1": {"sex": "f"}})
    assert result.comparisons == [] and "no attribute has two groups" in result.notes[0]
