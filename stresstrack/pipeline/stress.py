"""The stress index: 0-100, 50 = the participant's own baseline. See docs/stress-index.md.

Each component is a window feature turned into a z-score against the participant's baseline
windows, signed so that a positive z means "more stressed than at baseline":

    z_c = sign_c · (x_c - mean_baseline_c) / max(sd_baseline_c, floor_c)

The index is ``100 · Φ(mean(z_c) / 2)`` over the components available in the window, where
Φ is the standard normal CDF: 50 at baseline, about 84 when the components sit on average
two baseline SDs on the stressed side, about 16 two SDs on the calm side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np

__all__ = ["COMPONENTS", "STRESS_INDEX_VERSION", "Baseline", "Component", "stress_index"]

STRESS_INDEX_VERSION: Final = "1.0"


@dataclass(frozen=True, slots=True)
class Component:
    name: str  # the component's name in StressRow.components
    feature: str  # the window feature it reads
    sign: float  # +1: higher = more stress; -1: lower = more stress
    floor: float  # smallest SD used: the least change that counts as one unit
    log: bool = False  # use ln(feature), for right-skewed features such as RMSSD
    family: str = "hrv"


# Floors are about the smallest physiologically meaningful change, so that a very stable
# baseline (overlapping windows make baseline SDs small) does not blow up the z-scores:
# 3 bpm, 15 % of RMSSD (ln 0.15), 0.5 µS of tonic level, 2 SCRs per minute.
COMPONENTS: Final = (
    Component("hr", "mean_hr_bpm", +1.0, 3.0),
    Component("ln_rmssd", "rmssd_ms", -1.0, 0.15, log=True),
    Component("scl", "scl_us", +1.0, 0.5, family="eda"),
    Component("scr_rate", "scr_per_min", +1.0, 2.0, family="eda"),
)
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
    available = [v for v in z.values() if v is not None]
    if not available:
        return None, 0.0, z, "no component available in this window"
    zbar = float(np.mean(available))
    index = 100.0 * 0.5 * (1.0 + math.erf(zbar / 2.0 / math.sqrt(2.0)))
    usable = [c for c in COMPONENTS if not (c.family == "eda" and baseline.eda_non_responder)]
    share = len(available) / len(usable)
    q = [
        quality.get(f"{fam}_coverage", 0.0)
        for fam in sorted({c.family for c in COMPONENTS if z[c.name] is not None})
    ]
    clean = 1.0 - quality.get("hrv_corrected_share", 0.0)
    base = min(1.0, baseline.n_windows / (2 * MIN_BASELINE_WINDOWS))
    confidence = share * float(np.mean(q)) * clean * base
    return index, round(max(0.0, min(1.0, confidence)), 4), z, ""
