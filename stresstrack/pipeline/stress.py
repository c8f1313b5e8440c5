"""The stress index: 0-100, 50 = the participant's own baseline. See docs/stress-index.md.

Each component is a window feature turned into a z-score against the participant's baseline
windows, signed so that a positive z means "more stressed than at baseline":

    z_c = sign_c · (x_c - mean_baseline_c) / max(sd_baseline_c, floor_c)

The index is ``100 · Φ(z̄ / 2)``, z̄ the weighted mean of the components available in the
window (each clipped to ±Z_CLIP), where Φ is the standard normal CDF: 50 at baseline, about
84 when the components sit on average two baseline SDs on the stressed side, about 16 two SDs
on the calm side.

Confounds (version 2): the HR component is the *additional* heart rate when an accelerometer
is worn (HR above what movement predicts, ``movement.py``); the vagal component is withheld
when breathing is slow (``respiration.py``); the tonic skin conductance is taken relative to
its own slow trailing mean, so electrode drift does not read as stress; windows dominated by
movement keep only the additional HR. :class:`StressState` holds what this needs per
participant; windows must reach it in time order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from stresstrack.pipeline.movement import AdditionalHeartRate
from stresstrack.pipeline.respiration import SLOW_BREATHING_PER_MIN

__all__ = [
    "COMPONENTS",
    "STRESS_INDEX_VERSION",
    "Z_CLIP",
    "Baseline",
    "Component",
    "Derived",
    "StressState",
    "confidence",
    "contributions",
    "stress_index",
]

STRESS_INDEX_VERSION: Final = "2.1"  # 2.1: ns-SCR rate (0.05 µS), precision share; see docs


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
# baseline does not blow up the z-scores: 3 bpm, 15 % of RMSSD (ln 0.15), 0.5 µS of tonic
# level, 2 SCRs per minute.
COMPONENTS: Final = (
    Component("hr", "mean_hr_bpm", +1.0, 3.0),
    Component("ln_rmssd", "rmssd_ms", -1.0, 0.15, log=True),
    Component("scl", "scl_us", +1.0, 0.5, family="eda"),
    # Non-specific SCRs by the absolute 0.05 µS rule (eda.ns_scr_peaks; 1-3/min at rest), not
    # scr_per_min's relative nk.eda_peaks rule, which counts a calm window's noise ripples
    # (~100/min on a flat signal). A Poisson count: a 60 s rate is noisy, so it counts half.
    Component("scr_rate", "ns_scr_per_min", +1.0, 2.0, family="eda", weight=0.5),
)
_BY_NAME: Final = {c.name: c for c in COMPONENTS}
# A component's z-score is clipped to ±Z_CLIP before averaging, so one extreme feature
# (an artefact the correction missed) cannot carry the index alone.
Z_CLIP: Final = 4.0
# Baevsky's SI and EDASymp are reported as features, not components (docs/stress-index.md).
MIN_BASELINE_WINDOWS: Final = 6
# The spread needs independent windows: at least this many non-overlapping ones, else the
# floor is the SD and the confidence is lowered.
MIN_INDEPENDENT_WINDOWS: Final = 3
FULL_INDEPENDENT_WINDOWS: Final = 4  # a 5-min baseline of 60 s windows after settling
# An EDA non-responder shows (almost) no SCRs and a very low tonic level at baseline
# (Dawson, Schell & Filion 2017, Handbook of Psychophysiology, ch. 10): their EDA
# components are left out rather than read as calm, and the index rests on the cardiac ones
# with a confidence judged against them (_precision_share). "No SCRs" is judged by amplitude:
# a non-responder's baseline windows never hold responses of 0.01 µS, the smallest customary
# SCR amplitude (Boucsein et al. 2012, Psychophysiology 49:1017); simulated non-responders
# stay <= 0.006 µS, responders' largest window reaches >= 0.067 µS (10 + 10 people, seed 3).
NON_RESPONDER_MAX_SCR_AMPLITUDE_US: Final = 0.01
NON_RESPONDER_MAX_SCL_US: Final = 1.0
# Electrode drift: the SCL component is the 60 s tonic level minus its exponential trailing
# mean with this time constant. A steady drift of r µS/min then reads as r·τ (0.5 µS at
# 0.1 µS/min) instead of growing without bound; a 3-min stressor keeps ~55 % of its rise.
SCL_TAU_S: Final = 300.0
# Movement: a window moving in more than half of its seconds keeps only the additional HR;
# a baseline window moving in more than a fifth of them is rejected.
MOVING_DOMINATED: Final = 0.5
BASELINE_MAX_MOVING: Final = 0.2
# Slow breathing from the RR series alone (no accelerometer): a sharp RSA peak below 9/min
# (respiration.py) that also carries 3x the baseline's 0.04-0.15 Hz power, so ordinary Mayer
# waves do not count.
SLOW_POWER_RATIO: Final = 3.0
# Components disagree when some point clearly to stress and others clearly to calm: the
# conflict is the smaller of the largest positive z and the largest negative |z|. Components'
# z-scores at baseline are roughly independent N(0, 1): four of them give a conflict above
# 1.25 about one time in ten. Larger conflicts lower the confidence; components that agree
# in direction but differ in size (HR +4, RMSSD +1 under a stressor) do not.
AGREEMENT_CONFLICT: Final = 1.25


def _value(c: Component, values: dict[str, float | None]) -> float | None:
    x = values.get(c.feature)
    if x is None or not math.isfinite(x):
        return None
    if c.log:
        return math.log(x) if x > 0 else None
    return x


def _finite(values: dict[str, float | None], key: str) -> float | None:
    x = values.get(key)
    return x if x is not None and math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class Derived:
    """What one window brings to the index, after the participant's running state."""

    time_ns: int
    inputs: dict[str, float | None]  # component name -> value (HR raw, SCL drift-corrected)
    scl_us: float | None  # the tonic level itself (non-responder check)
    activity_mg: float | None
    moving_share: float | None
    resp_rate_bpm: float | None
    resp_from_acc: bool
    ln_slow_power: float | None
    scr_amplitude_us: float | None = None  # mean SCR amplitude (non-responder check)


@dataclass
class Baseline:
    """Per-component baseline statistics from baseline windows: mean over the settled
    windows, SD over non-overlapping ones."""

    samples: dict[str, list[tuple[int, float]]] = field(
        default_factory=lambda: {c.name: [] for c in COMPONENTS}
    )
    settled: dict[str, list[tuple[int, float]]] = field(
        default_factory=lambda: {c.name: [] for c in COMPONENTS}
    )
    raw_scl: list[float] = field(default_factory=list)
    scr_amplitude: list[float] = field(default_factory=list)
    activity: list[float] = field(default_factory=list)
    slow_power: list[float] = field(default_factory=list)
    frozen: bool = False
    eda_non_responder: bool = False
    mean: dict[str, float] = field(default_factory=dict)
    sd: dict[str, float] = field(default_factory=dict)
    independent: dict[str, int] = field(default_factory=dict)
    offered: int = 0  # baseline windows seen
    rejected: int = 0  # of which rejected (movement, paced breathing)
    n_windows: int = 0
    activity_ref: float = 0.0
    ln_slow_power: float | None = None

    def add(self, d: Derived, *, settled: bool = True) -> None:
        self.offered += 1
        moving = d.moving_share is not None and d.moving_share > BASELINE_MAX_MOVING
        paced = (
            d.resp_from_acc
            and d.resp_rate_bpm is not None
            and d.resp_rate_bpm < SLOW_BREATHING_PER_MIN
        )
        if moving or paced:
            self.rejected += 1
            return
        self.n_windows += 1
        if d.scl_us is not None:
            self.raw_scl.append(d.scl_us)
        if d.scr_amplitude_us is not None:
            self.scr_amplitude.append(d.scr_amplitude_us)
        if d.activity_mg is not None:
            self.activity.append(d.activity_mg)
        if d.ln_slow_power is not None:
            self.slow_power.append(d.ln_slow_power)
        for name, x in d.inputs.items():
            if x is not None:
                self.samples[name].append((d.time_ns, x))
                if settled:
                    self.settled[name].append((d.time_ns, x))

    def freeze(self, window_ns: int) -> None:
        """Compute the statistics; ``window_ns`` is the window length (windows whose ends
        lie a window apart do not overlap)."""
        for c in COMPONENTS:
            xs = self.settled[c.name]
            if len(xs) < MIN_BASELINE_WINDOWS:
                xs = self.samples[c.name]  # settling would leave too little: keep it all
            if len(xs) < MIN_BASELINE_WINDOWS:
                continue
            self.mean[c.name] = float(np.mean([x for _, x in xs]))
            ind = _non_overlapping(xs, window_ns)
            self.independent[c.name] = len(ind)
            sd = float(np.std(ind, ddof=1)) if len(ind) >= MIN_INDEPENDENT_WINDOWS else 0.0
            self.sd[c.name] = max(sd, c.floor)
        self.activity_ref = float(np.median(self.activity)) if self.activity else 0.0
        self.ln_slow_power = float(np.median(self.slow_power)) if self.slow_power else None
        scl = _mean_raw_scl(self)
        self.eda_non_responder = (
            bool(self.scr_amplitude)
            and scl is not None
            and max(self.scr_amplitude) < NON_RESPONDER_MAX_SCR_AMPLITUDE_US
            and scl <= NON_RESPONDER_MAX_SCL_US
        )
        self.frozen = True


def _mean_raw_scl(b: Baseline) -> float | None:
    return float(np.mean(b.raw_scl)) if b.raw_scl else None


def _non_overlapping(xs: list[tuple[int, float]], window_ns: int) -> list[float]:
    """Values of windows at least a window apart, latest first."""
    out: list[float] = []
    last: int | None = None
    for t, x in reversed(xs):
        if last is None or last - t >= window_ns:
            out.append(x)
            last = t
    return out


@dataclass
class StressState:
    """One participant's running state: baseline, SCL trailing mean, HR-activity relation."""

    baseline: Baseline = field(default_factory=Baseline)
    ahr: AdditionalHeartRate = field(default_factory=AdditionalHeartRate)
    scl_ref: float | None = None
    scl_ref_ns: int = 0

    def derive(self, time_ns: int, values: dict[str, float | None]) -> Derived:
        """The window's component inputs; call once per window, in time order."""
        inputs = {c.name: _value(c, values) for c in COMPONENTS}
        scl = inputs["scl"]
        if scl is not None:
            if self.scl_ref is None:
                self.scl_ref = scl
            else:
                a = 1.0 - math.exp(-(time_ns - self.scl_ref_ns) / 1e9 / SCL_TAU_S)
                self.scl_ref += a * (scl - self.scl_ref)
            self.scl_ref_ns = time_ns
            inputs["scl"] = scl - self.scl_ref
        activity = _finite(values, "activity_mg")
        hr = inputs["hr"]
        if activity is not None and hr is not None:
            self.ahr.update(activity, hr)
        power = _finite(values, "rr_slow_power_ms2")
        return Derived(
            time_ns=time_ns,
            inputs=inputs,
            scl_us=scl,
            scr_amplitude_us=_finite(values, "scr_amplitude_us"),
            activity_mg=activity,
            moving_share=_finite(values, "moving_share"),
            resp_rate_bpm=_finite(values, "resp_rate_bpm"),
            resp_from_acc=bool(values.get("resp_from_acc")),
            ln_slow_power=math.log(power) if power is not None and power > 0 else None,
        )


def _slow_breathing(d: Derived, b: Baseline) -> bool:
    rate = d.resp_rate_bpm
    if rate is None or rate >= SLOW_BREATHING_PER_MIN:
        return False
    if d.resp_from_acc:
        return True
    return (
        d.ln_slow_power is not None
        and b.ln_slow_power is not None
        and d.ln_slow_power - b.ln_slow_power > math.log(SLOW_POWER_RATIO)
    )


def stress_index(
    d: Derived, quality: dict[str, float], state: StressState
) -> tuple[float | None, float, dict[str, float | None], str]:
    """Index, confidence (0-1), component z-scores, and notes: why there is no index, or
    which confounds changed it."""
    b = state.baseline
    if not b.mean:
        return None, 0.0, {c.name: None for c in COMPONENTS}, "no usable baseline"
    notes: list[str] = []
    withheld: set[str] = set()
    dominated = d.moving_share is not None and d.moving_share > MOVING_DOMINATED
    if dominated:
        withheld |= {"ln_rmssd", "scl", "scr_rate"}
        notes.append(f"movement in {d.moving_share:.0%} of the window: only additional HR used")
    slow = _slow_breathing(d, b)
    if slow:
        withheld.add("ln_rmssd")
        notes.append(f"slow breathing {d.resp_rate_bpm:.1f}/min: vagal component withheld")
    inputs = dict(d.inputs)
    hr = inputs["hr"]
    if hr is not None and d.activity_mg is not None:
        inputs["hr"] = state.ahr.additional(hr, d.activity_mg, b.activity_ref)
    z: dict[str, float | None] = {}
    for c in COMPONENTS:
        x = inputs[c.name]
        if (
            c.name not in b.mean
            or x is None
            or c.name in withheld
            or (c.family == "eda" and b.eda_non_responder)
        ):
            z[c.name] = None
        else:
            z[c.name] = c.sign * (x - b.mean[c.name]) / b.sd[c.name]
    if all(v is None for v in z.values()):
        return None, 0.0, z, "; ".join(notes) or "no component available in this window"
    zbar = sum(v for v in contributions(z).values() if v is not None)
    index = 100.0 * 0.5 * (1.0 + math.erf(zbar / 2.0 / math.sqrt(2.0)))
    conf = confidence(z, quality, b, slow=slow, moving_share=d.moving_share)
    return index, conf, z, "; ".join(notes)


def confidence(
    z: dict[str, float | None],
    quality: dict[str, float],
    b: Baseline,
    *,
    slow: bool = False,
    moving_share: float | None = None,
) -> float:
    """How far to trust one window's index (0-1), the product of (docs/stress-index.md):

    * the precision of the components available against that of all usable ones (for an
      EDA non-responder: the cardiac ones), ``_precision_share``;
    * the mean coverage of the families used and the share of uncorrected beats;
    * the baseline: √(independent windows / 4), at most 1, times the share not rejected;
    * agreement: with the conflict the smaller of the largest positive z and the largest
      negative |z|, 1 while it is within what baseline noise gives (1.25), then
      ``exp(-(conflict - 1.25))``;
    * confounds: 0.7 when breathing is slow, ``1 - moving share / 2`` with movement.

    >>> b = Baseline(independent={"hr": 4}, offered=10, eda_non_responder=True)
    >>> confidence({"hr": 1.0, "ln_rmssd": 1.5}, {"hrv_coverage": 1.0}, b)
    1.0
    >>> confidence({"hr": -2.0, "ln_rmssd": 2.0}, {"hrv_coverage": 1.0}, b)
    0.4724
    >>> confidence({"hr": 4.0, "ln_rmssd": 0.5}, {"hrv_coverage": 1.0}, b)
    1.0
    >>> confidence({"hr": 1.0, "ln_rmssd": 1.5}, {"hrv_coverage": 1.0}, b, slow=True)
    0.7
    >>> confidence({"hr": 1.0}, {"hrv_coverage": 1.0}, b)  # non-responder, HR alone
    0.7071
    >>> confidence({"hr": 1.0}, {"hrv_coverage": 1.0}, Baseline(independent={"hr": 4}))
    0.5151
    """
    used = [c for c in COMPONENTS if z.get(c.name) is not None]
    if not used:
        return 0.0
    usable = [c for c in COMPONENTS if not (c.family == "eda" and b.eda_non_responder)]
    share = _precision_share(used, usable)
    cov = float(np.mean([quality.get(f"{fam}_coverage", 0.0) for fam in {c.family for c in used}]))
    clean = 1.0 - quality.get("hrv_corrected_share", 0.0)
    ind = max(b.independent.values(), default=0)
    base = min(1.0, math.sqrt(ind / FULL_INDEPENDENT_WINDOWS))  # ~ the SE of its mean
    if b.offered:
        base *= 1.0 - b.rejected / b.offered
    zs = [max(-Z_CLIP, min(Z_CLIP, v)) for v in (z[c.name] for c in used) if v is not None]
    conflict = min(max(0.0, max(zs)), max(0.0, -min(zs)))
    agree = math.exp(-max(0.0, conflict - AGREEMENT_CONFLICT))
    confound = (0.7 if slow else 1.0) * (1.0 - 0.5 * (moving_share or 0.0))
    value = share * cov * clean * base * agree * confound
    return round(max(0.0, min(1.0, value)), 4)


def _precision_share(used: list[Component], usable: list[Component]) -> float:
    """How precise the window's z̄ is against one with every usable component: the ratio of
    the SDs of the weighted mean of independent unit z-scores, √Σw²/Σw (usable over used).
    A non-responder's usable components are the cardiac ones, so with both the factor is 1
    and with HR alone 0.71 (a responder with HR alone: 0.52)."""

    def sd(cs: list[Component]) -> float:
        return math.sqrt(sum(c.weight**2 for c in cs)) / sum(c.weight for c in cs)

    return sd(usable) / sd(used)


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
