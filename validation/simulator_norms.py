"""Simulated people against published norms: resting and stressed statistics of a cohort.

Each participant of ``ParticipantParams.draw`` lives 5 min of baseline, a 5-min stressor,
5 min of recovery and 5 min of self-care. Statistics are computed with stresstrack's own
feature functions (equal to NeuroKit2's, tests/pipeline/test_hrv.py) on the phases' last
4.5 min (HRV) and 60 s EDA windows, and compared with the published ranges of
docs/simulators.md (the test, tests/simulators/test_physiology_norms.py, reads that table).

Run: python validation/simulator_norms.py [--participants 40] [--seed 0]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Final

import numpy as np
import scipy.signal

from stresstrack.pipeline.eda import eda_decompose, eda_features
from stresstrack.pipeline.hrv import hrv_dfa_alpha1, hrv_frequency, hrv_time
from stresstrack.pipeline.window import beat_window
from stresstrack.session.protocol import Phase, Protocol
from stresstrack.simulators.physiology import (
    Episode,
    ParticipantModel,
    ParticipantParams,
    simulate_acc,
    simulate_beats,
    simulate_eda,
)

NORMS_PROTOCOL: Final = Protocol(
    "norms",
    (
        Phase("baseline", 300.0),
        Phase("stressor", 300.0),
        Phase("recovery", 300.0),
        Phase("self-care", 300.0),
    ),
)
_PHASES: Final = {"rest": 0, "stress": 1, "recovery": 2, "selfcare": 3}
_EDA_HZ: Final = 8.0
# Published NS-SCR rates (Dawson et al. 2017; Boucsein et al. 2012) count responses that rise
# at least an absolute 0.01-0.05 µS; the pipeline's scr_per_min follows nk.eda_peaks's
# relative rule (10 % of the window's largest), which counts calm windows' ripples. The norms
# are checked against their own definition, at the conservative 0.05 µS.
NS_SCR_MIN_US: Final = 0.05


def ns_scr_per_min(x: np.ndarray, fs: float) -> float:
    """Responses rising >= NS_SCR_MIN_US from the closest trough before them, per minute."""
    _, phasic = eda_decompose(x, fs)
    peaks, _ = scipy.signal.find_peaks(phasic)
    troughs, _ = scipy.signal.find_peaks(-phasic)
    before = np.searchsorted(troughs, peaks, side="left") - 1
    has = before >= 0
    rise = phasic[peaks[has]] - phasic[troughs[before[has]]]
    return float(np.count_nonzero(rise >= NS_SCR_MIN_US) / (x.size / fs / 60.0))


def _phase_stats(
    bt: np.ndarray, rr: np.ndarray, et: np.ndarray, eda: np.ndarray, k: int
) -> dict[str, float]:
    a, b = 300.0 * k + 30.0, 300.0 * (k + 1)
    sel = (bt > a) & (bt <= b)
    r = rr[sel]
    # The window the pipeline would build from these beats (one unbroken segment).
    none = np.zeros(r.size, dtype=bool)
    w = beat_window(
        "sim", (bt[sel] * 1e9).astype(np.int64), r, none, none, {},
        start_ns=int(a * 1e9), end_ns=int(b * 1e9),
    )  # fmt: skip
    out: dict[str, float] = {}
    for name, v in {**hrv_time(w), **hrv_frequency(w)}.items():
        if v is not None:
            out[name] = float(v)
    out["dfa_alpha1"] = float(hrv_dfa_alpha1(r) or np.nan)
    x = eda[(et >= a) & (et < b)]
    n = int(60 * _EDA_HZ)
    chunks = [x[j : j + n] for j in range(0, x.size - n + 1, n)]
    out["scl_us"] = float(np.mean([eda_features(c, _EDA_HZ)["scl_us"] for c in chunks]))
    out["ns_scr_per_min"] = float(np.mean([ns_scr_per_min(c, _EDA_HZ) for c in chunks]))
    return out


def cohort_statistics(n: int = 40, seed: int = 0) -> dict[str, float]:
    """The figures of docs/simulators.md's table, keyed as its ``key`` column."""
    rng = np.random.default_rng(seed)
    per: list[dict[str, dict[str, float]]] = []
    responders: list[bool] = []
    move_dhr: list[float] = []
    move_dscl: list[float] = []
    move_acc: list[float] = []
    drift: list[float] = []
    for i in range(n):
        p = ParticipantParams.draw(rng)
        model = ParticipantModel(NORMS_PROTOCOL, p, seed * 1000 + i)
        bt, rr = simulate_beats(model)
        et, eda = simulate_eda(model, _EDA_HZ)
        per.append({ph: _phase_stats(bt, rr, et, eda, k) for ph, k in _PHASES.items()})
        responders.append(p.eda_responder)
        drift.append(p.eda_drift_us_per_min)
        # A 60 s episode of moderate movement (0.4) at rest, same person, no stress.
        rest = Protocol("rest", (Phase("rest", 240.0),))
        still = replace(p, movement_every_s=None)
        moved = ParticipantModel(rest, still, seed * 1000 + i, activity=(Episode(120, 180, 0.4),))
        calm = ParticipantModel(rest, still, seed * 1000 + i)
        (bm, rm), (bc, rc) = simulate_beats(moved), simulate_beats(calm)
        hr_m = 60000.0 / np.mean(rm[(bm > 140) & (bm <= 180)])
        hr_c = 60000.0 / np.mean(rc[(bc > 140) & (bc <= 180)])
        move_dhr.append(float(hr_m - hr_c))
        (em, xm), (_, xc) = simulate_eda(moved, _EDA_HZ), simulate_eda(calm, _EDA_HZ)
        late = (em > 150) & (em <= 200)
        move_dscl.append(float(np.mean(xm[late]) - np.mean(xc[late])))
        at, xyz = simulate_acc(moved)
        mag = np.sqrt(np.sum(xyz * xyz, axis=1))
        move_acc.append(float(np.std(mag[(at > 130) & (at < 170)]) / np.std(mag[at < 100])))

    def col(phase: str, key: str, only: list[bool] | None = None) -> np.ndarray:
        v = np.array([p[phase][key] for p in per])
        return v[np.asarray(only)] if only is not None else v

    resp = responders
    dz = []
    for key in ("mean_hr_bpm", "rmssd_ms", "scl_us"):
        only = resp if key == "scl_us" else None
        a, b = col("selfcare", key, only), col("recovery", key, only)
        d = np.log(a) - np.log(b) if key == "rmssd_ms" else a - b
        dz.append(abs(float(d.mean() / d.std(ddof=1))))
    d_hr = col("stress", "mean_hr_bpm") - col("rest", "mean_hr_bpm")
    d_scl = col("stress", "scl_us", resp) - col("rest", "scl_us", resp)
    z_hr = (d_hr[np.asarray(resp)] - d_hr.mean()) / d_hr.std()
    z_scl = (d_scl - d_scl.mean()) / d_scl.std()
    return {
        "rest_hr": float(np.median(col("rest", "mean_hr_bpm"))),
        "rest_sdnn": float(np.median(col("rest", "sdnn_ms"))),
        "rest_rmssd": float(np.median(col("rest", "rmssd_ms"))),
        "sdnn_gt_rmssd": float(np.mean(col("rest", "sdnn_ms") > col("rest", "rmssd_ms"))),
        "rest_lf": float(np.median(col("rest", "lf_ms2"))),
        "rest_hf": float(np.median(col("rest", "hf_ms2"))),
        "rest_lf_hf": float(np.median(col("rest", "lf_hf"))),
        "rest_dfa": float(np.nanmedian(col("rest", "dfa_alpha1"))),
        "rest_scl": float(np.median(col("rest", "scl_us", resp))),
        "rest_scr": float(np.median(col("rest", "ns_scr_per_min", resp))),
        # ~10 % expected: counted over 400 draws, 40 would be too few to see it
        "non_responders": float(
            np.mean([not ParticipantParams.draw(rng).eda_responder for _ in range(400)])
        ),
        "stress_dhr": float(np.median(d_hr)),
        "stress_drmssd": float(
            100 * np.median(col("stress", "rmssd_ms") / col("rest", "rmssd_ms") - 1)
        ),
        "stress_dscl": float(np.median(d_scl)),
        "stress_scr": float(np.median(col("stress", "ns_scr_per_min", resp))),
        "selfcare_dz": float(np.mean(dz)),
        "specificity_r": float(np.corrcoef(z_hr, z_scl)[0, 1]),
        "move_dhr": float(np.median(move_dhr)),
        "move_dscl": float(np.median(move_dscl)),
        "move_acc_ratio": float(np.median(move_acc)),
        "eda_drift": float(np.median(drift)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for key, value in cohort_statistics(args.participants, args.seed).items():
        print(f"{key:<16} {value:10.3f}")


if __name__ == "__main__":
    main()
