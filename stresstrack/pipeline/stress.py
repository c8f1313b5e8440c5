"""The stress index: 0-100, 50 = the participant's own baseline. See docs/stress-index.md.

Each component is a window feature turned into a z-score against the participant's baseline
windows, signed so that a positive z means "more stressed than at baseline":

    z_c = sign_c · (x_c - mean_baseline_c) / max(sd_baseline_c, floor_c)

The index is ``100 · Φ(z̄ / 2)``, z̄ the weighted mean of the components available in the
window (each clipped to ±Z_CLIP), where
Φ is the standard normal CDF: 50 at baseline, about 84 when the components sit on average
two baseline SDs on the stressed side, about 16 two SDs on the calm side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np

__all__ = [
    "COMPONENTS",
    "STRESS_INDEX_VERSION",
    "Z_CLIP",
    "Baseline",
    "Component",
    "contributions",
    "stress_index",
]

STRESS_INDEX_VERSION: Final = "1.1"  # 1.1: weights, clipping, Kubios correction


@dataclass(frozen=True, slots=True)
class Component:
    name: str  # the component's name in StressRow.components
    feature: str  # the window feature it reads
    sign: float  # +1: higher = more stress; -1: lower = more stress
    floor: float  # smallest SD used: the least change that counts as one unit
    log: bool = False  # use ln(feature), for right-skewed features such as RMSSD
    family: str = "hrv"
    weight: float = 1.0  # weight in the mean of z-scores


# Floors are about the smallest physiologically meaningful change, so that a very stable
# baseline (overlapping windows make baseline SDs small) does not blow up the z-scores:
# 3 bpm, 15 % of RMSSD (ln 0.15), 1 unit of √SI (rest ≈ 10, stress ×1.5-2 in SI), 0.5 µS of
# tonic level, 2 SCRs per minute.
COMPONENTS: Final = (
    Component("hr", "mean_hr_bpm", +1.0, 3.0),
    Component("ln_rmssd", "rmssd_ms", -1.0, 0.15, log=True),
    Component("scl", "scl_us", +1.0, 0.5, family="eda"),
    # SCRs are a Poisson count: a 60 s rate is noisy, so it counts half.
    Component("scr_rate", "scr_per_min", +1.0, 2.0, family="eda", weight=0.5),
)
# A component's z-score is clipped to ±Z_CLIP before averaging, so one extreme feature
# (an artefact the correction missed) cannot carry the index alone.
Z_CLIP: Final = 4.0
# Baevsky's SI and EDASymp are reported as features, not components: on simulated cohorts
# (validation/stress_index.py) SI from 60 s histograms follows the true stress level with
# Spearman ρ 0.35-0.7 where HR and ln RMSSD reach 0.92-0.98, and EDASymp's 120 s window
# reads the slow return of the tonic level after a stressor as sympathetic activity.
MIN_BASELINE_WINDOWS: Final = 6
# An EDA non-responder shows (almost) no SCRs and a very low tonic level at baseline
# (Dawson, Schell & Filion 2017, Handbook of Psychophysiology, ch. 10): their EDA
# components are left out rather than read as calm.
NON_RESPONDER_MAX_SCR_PER_MIN: Final = 0.5
NON_RESPONDER_MAX_SCL_US: Final = 1.0


def _value(c: Component, values: dict[str, float | None]) -> float | None:
    x = values.get(c.feature)
    if x is None or not math.isfinite(x):
        return None
    if c.log:
        return math.log(x) if x > 0 else None
    return x


@dataclass
class Baseline:
    """Per-component baseline statistics, accumulated from baseline windows."""

    samples: dict[str, list[float]] = field(
        default_factory=lambda: {c.name: [] for c in COMPONENTS}
    )
    frozen: bool = False
    eda_non_responder: bool = False
    mean: dict[str, float] = field(default_factory=dict)
    sd: dict[str, float] = field(default_factory=dict)
    n_windows: int = 0

    def add(self, values: dict[str, float | None]) -> None:
        self.n_windows += 1
        for c in COMPONENTS:
            x = _value(c, values)
            if x is not None:
                self.samples[c.name].append(x)

    def freeze(self) -> None:
        for c in COMPONENTS:
            xs = self.samples[c.name]
            if len(xs) >= MIN_BASELINE_WINDOWS:
                self.mean[c.name] = float(np.mean(xs))
                self.sd[c.name] = max(float(np.std(xs, ddof=1)), c.floor)
        scr = self.mean.get("scr_rate")
        scl = self.mean.get("scl")
        self.eda_non_responder = (
            scr is not None
            and scl is not None
            and scr <= NON_RESPONDER_MAX_SCR_PER_MIN
            and scl <= NON_RESPONDER_MAX_SCL_US
        )
        self.frozen = True


def stress_index(
    values: dict[str, float | None], quality: dict[str, float], baseline: Baseline
) -> tuple[float | None, float, dict[str, float | None], str]:
    """Index, confidence (0-1), component z-scores and, when there is no index, why."""
    if not baseline.mean:
        return None, 0.0, {c.name: None for c in COMPONENTS}, "no usable baseline"
    z: dict[str, float | None] = {}
    for c in COMPONENTS:
        x = _value(c, values)
        if (
            c.name not in baseline.mean
            or x is None
            or (c.family == "eda" and baseline.eda_non_responder)
        ):
            z[c.name] = None
        else:
            z[c.name] = c.sign * (x - baseline.mean[c.name]) / baseline.sd[c.name]
    used = [c for c in COMPONENTS if z[c.name] is not None]
    if not used:
        return None, 0.0, z, "no component available in this window"
    zbar = sum(v for v in contributions(z).values() if v is not None)
    index = 100.0 * 0.5 * (1.0 + math.erf(zbar / 2.0 / math.sqrt(2.0)))
    usable = [c for c in COMPONENTS if not (c.family == "eda" and baseline.eda_non_responder)]
    share = sum(c.weight for c in used) / sum(c.weight for c in usable)
    q = [
        quality.get(f"{fam}_coverage", 0.0)
        for fam in sorted({c.family for c in COMPONENTS if z[c.name] is not None})
    ]
    clean = 1.0 - quality.get("hrv_corrected_share", 0.0)
    base = min(1.0, baseline.n_windows / (2 * MIN_BASELINE_WINDOWS))
    confidence = share * float(np.mean(q)) * clean * base
    return index, round(max(0.0, min(1.0, confidence)), 4), z, ""


def contributions(components: dict[str, float | None]) -> dict[str, float | None]:
    """Each component's weighted, clipped share of the mean z-score the index is built from;
    they add up to that mean."""
    used = [c for c in COMPONENTS if components.get(c.name) is not None]
    total = sum(c.weight for c in used)
    out: dict[str, float | None] = {c.name: None for c in COMPONENTS}
    for c in used:
        z = components[c.name]
        assert z is not None
        out[c.name] = c.weight * max(-Z_CLIP, min(Z_CLIP, z)) / total
    return out
