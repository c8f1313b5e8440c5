"""``stresstrack demo --days N``: simulated multi-day participants into the store.

The week is generated an hour at a time (:mod:`stresstrack.simulators.days`) and every
chunk goes through the same runtime and pipeline as live data, with the rolling baseline
(docs/days.md), so memory stays flat however many days are asked for.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from stresstrack.events import EventSink
from stresstrack.pipeline.engine import PipelineConfig
from stresstrack.simulators.days import DaysPlan, DaysTruth, simulate_days
from stresstrack.store.sqlite import Store

__all__ = ["STRESS_THRESHOLD", "days_config", "print_days_summary", "run_days"]

STRESS_THRESHOLD: Final = 70.0  # index above which a minute counts as stressed (summary)
NS: Final = 1_000_000_000


def days_config(config: PipelineConfig) -> PipelineConfig:
    """The demo's configuration for days: the rolling baseline."""
    return dataclasses.replace(config, baseline_mode="rolling")


def run_days(
    plan: DaysPlan, sink: EventSink, on_progress: Callable[[float], None]
) -> list[DaysTruth]:
    """Feed the simulated days to ``sink`` (a runtime) chunk by chunk; the truth about each
    person."""
    truths, chunks = simulate_days(plan)
    total = plan.duration_s / plan.chunk_s
    for k, chunk in enumerate(chunks):
        sink.emit(chunk)
        on_progress((k + 1) / total)
    return truths


def print_days_summary(store: Store, truths: list[DaysTruth]) -> None:
    """Per participant and day: mean index and minutes above the threshold, beside the
    simulated stressors' minutes."""
    print(f"\nper day: mean stress index, minutes above {STRESS_THRESHOLD:g}, simulated stressors")
    for truth in truths:
        days: dict[str, list[float]] = {}
        rows = store.stress(truth.participant)
        for r in rows:
            if r.index is not None:
                day = datetime.fromtimestamp(r.time_ns / NS, UTC).date().isoformat()
                days.setdefault(day, []).append(r.index)
        hop_min = (rows[1].time_ns - rows[0].time_ns) / NS / 60 if len(rows) > 1 else 0.0
        load = {d.isoformat(): v for d, v in truth.stress_load_min.items()}
        print(f"  {truth.participant}:")
        for day, values in sorted(days.items()):
            above = sum(v > STRESS_THRESHOLD for v in values) * hop_min
            print(
                f"    {day}  mean {sum(values) / len(values):5.1f}  above {above:5.0f} min  "
                f"stressors {load.get(day, 0.0):4.0f} min"
            )
