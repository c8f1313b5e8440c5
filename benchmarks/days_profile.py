"""The days analysis on a week of one participant: CPU time and peak Python memory of
``profile(store, participant)`` (reads only the columns it uses) against the naive way
(decode every feature row, then profile the rows), in the same run.

Run: python benchmarks/days_profile.py [--days 7] [--hop 5]

The store holds synthetic rows (tests/days/days_synthetic.py) with 60 feature values a
window, as the pipeline writes (docs/schema.md lists ~60 features).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "days"))

from days_synthetic import multi_day

from stresstrack.days import DaysResult, ParticipantRows, profile
from stresstrack.store import Store

FILLER = 56  # with HR, RMSSD, activity and moving share: 60 values a window


def _measure(run: Callable[[], DaysResult]) -> tuple[float, float, DaysResult]:
    tracemalloc.start()
    t0 = time.process_time()
    result = run()
    wall = time.process_time() - t0  # CPU s: the 2 cores are shared
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return wall, peak, result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--hop", type=float, default=5.0)
    args = ap.parse_args()
    s = multi_day(days=args.days, hop_s=args.hop, seed=0)
    filler = {f"feature_{k:02d}": 1.0 + k / 7 for k in range(FILLER)}
    features = [replace(f, values={**f.values, **filler}) for f in s.features]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "week.db"
        with Store(path) as store:
            store.add_results(features, s.stress, s.sessions)
        del features, s
        with Store(path, readonly=True) as store:
            wall, peak, fast = _measure(lambda: profile(store, "p1"))

            def naive_run() -> DaysResult:
                rows = ParticipantRows(
                    store.features("p1"), store.stress("p1"), store.sessions("p1")
                )
                return profile(rows, "p1")

            naive_wall, naive_peak, naive = _measure(naive_run)
    assert fast.days == naive.days
    print(f"{args.days} days at a {args.hop:g} s hop ({fast.minutes.n} minutes)")
    print(f"{'':28} {'CPU s':>8} {'peak MB':>9}")
    print(f"{'profile(store) columns':28} {wall:8.2f} {peak:9.1f}")
    print(f"{'naive: decode rows':28} {naive_wall:8.2f} {naive_peak:9.1f}")
    print(f"ratio naive / columns: time x{naive_wall / wall:.1f}, memory x{naive_peak / peak:.1f}")


if __name__ == "__main__":
    main()
