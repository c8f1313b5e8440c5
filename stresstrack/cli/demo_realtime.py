"""``stresstrack demo --realtime``: the simulated study on the wall clock, flushed every second.

The same simulated devices, collectors and pipeline as the fast demo; only the clock differs
(the system clock instead of a virtual-time loop), so ``--lsl`` consumers (LabRecorder, a
notebook with pylsl) see the study as it would happen, and the store is at most a second
behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Final

from stresstrack.clock import WallClock
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.study import StudyPlan, run_simulated_study

__all__ = ["run_realtime"]

FLUSH_EVERY_S: Final = 1.0


async def _run(plan: StudyPlan, recorder: Recorder, on_progress: Callable[[float], None]) -> None:
    study = asyncio.create_task(
        run_simulated_study(plan, recorder, WallClock(), on_progress=on_progress)
    )
    while not study.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(study), timeout=FLUSH_EVERY_S)
        recorder.flush()
    await study


def run_realtime(plan: StudyPlan, recorder: Recorder, on_progress: Callable[[float], None]) -> None:
    """Run the study in real time; Ctrl-C stops it with what was collected stored."""
    try:
        asyncio.run(_run(plan, recorder, on_progress))
    except KeyboardInterrupt:
        print("\ninterrupted: what was collected is stored", flush=True)
