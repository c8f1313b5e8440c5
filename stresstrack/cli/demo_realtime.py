"""``stresstrack demo --realtime``: the simulated study on the wall clock, flushed every second.

The same simulated devices, collectors and pipeline as the fast demo; only the clock differs
(the system clock instead of a virtual-time loop), so ``--lsl`` consumers (LabRecorder, a
notebook with pylsl) see the study as it would happen, and the store is at most a second
behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from stresstrack.clock import WallClock
from stresstrack.runtime import Runtime
from stresstrack.runtime.live import flush_until_done
from stresstrack.simulators.study import StudyPlan, run_simulated_study

__all__ = ["run_realtime"]


def run_realtime(plan: StudyPlan, runtime: Runtime, on_progress: Callable[[float], None]) -> None:
    """Run the study in real time; Ctrl-C stops it with what was collected stored."""
    study = run_simulated_study(plan, runtime, WallClock(), on_progress=on_progress)
    try:
        asyncio.run(flush_until_done(runtime, study))
    except KeyboardInterrupt:
        print("\ninterrupted: what was collected is stored", flush=True)
