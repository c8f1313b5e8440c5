"""A real InfluxDB holding a simulated study, shipped by the real sink, for the dashboards.

The fixture ``loaded_study`` (conftest.py) builds it with :func:`load_study`.

The study runs through the pipeline (simulate_study -> Recorder -> Store), then the store goes
to influxd 1.x through the InfluxDB sink and the test-only v2 write adapter, as in
tests/storage, with the raw signal samples (``--influx-raw``: the participant dashboard's
skin conductance panel draws them). One extra session is left open, as a study in progress
has. Each participant answers the ``stress`` and ``calm`` items at every phase boundary and
gives salivary cortisol every 10 minutes (stresstrack.simulators.selfreport, from the same
participant models as the physiology); sim-001 also gives one unprompted ``sam_valence``.
sim-002 has one more closed session that starts and ends between two milliseconds, as a live
session does (its bounds are marker times in ns), so the session variables are tested on it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from influx_adapter import InfluxAdapter
from servers import InfluxServer
from support_protocols import SHORT_PROTOCOL

from stresstrack.clock import VirtualClock
from stresstrack.dashboards.downsampling import DOWNSAMPLED, backfill_statement
from stresstrack.events import LabSample, SelfReport
from stresstrack.pipeline import Pipeline
from stresstrack.pipeline.results import Session
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.selfreport import (
    CortisolParams,
    SelfReportParams,
    simulate_cortisol,
    simulate_selfreport,
)
from stresstrack.simulators.study import StudyPlan, build_air, simulate_study
from stresstrack.sinks import InfluxTarget, sync_store
from stresstrack.store import Store

__all__ = ["PROTOCOL", "LoadedStudy", "endpoint_events", "load_study"]

PROTOCOL = replace(SHORT_PROTOCOL, name="dashboards")
PARTICIPANTS = 3
S = 1_000_000_000
_numbers = itertools.count(1)


@dataclass(frozen=True)
class LoadedStudy:
    server: InfluxServer
    db: str
    store: Path
    study: str
    participants: list[str]
    open_session: Session
    sub_ms_session: Session

    def rows(self, q: str) -> list[dict[str, object]]:
        return self.server.rows(q, db=self.db)


def endpoint_events(plan: StudyPlan) -> list[SelfReport | LabSample]:
    """Self-report answers and cortisol samples of the plan's participants."""
    start_ns = int(plan.start.timestamp() * S)
    _air, people = build_air(plan, VirtualClock(start_ns))
    out: list[SelfReport | LabSample] = []
    for i, p in enumerate(people):
        out += simulate_selfreport(
            p.participant, p.model, SelfReportParams(), np.random.default_rng([i, 1]),
            start_ns=start_ns, study=plan.study,
        )  # fmt: skip
        out += simulate_cortisol(
            p.participant, p.model, CortisolParams(), np.random.default_rng([i, 2]),
            start_ns=start_ns, study=plan.study,
        )  # fmt: skip
    first = people[0].participant
    out.append(
        SelfReport(time_ns=start_ns + 400 * S, participant=first, study=plan.study,
                   device="companion", item="sam_valence", value=6.0)
    )  # fmt: skip
    return out


def load_study(influx_server: InfluxServer, path: Path) -> LoadedStudy:
    """Simulate the study into the store at ``path`` and ship it to a new database."""
    plan = StudyPlan(participants=PARTICIPANTS, seed=3, protocol=PROTOCOL)
    with Store(path) as store:
        recorder = Recorder(store, Pipeline())
        simulate_study(plan, recorder)
        recorder.close()
        last_end = max(s.end_ns or 0 for s in store.sessions())
        open_session = Session(
            participant=plan.participant_ids()[-1],
            study=plan.study,
            kind="self-care",
            start_ns=last_end + 30 * S,
            end_ns=None,
            mode="partner",
            label="touch",
        )
        # Inside sim-002's stressor phase; start and end not on a millisecond (a live
        # marker's nanosecond): 0.654321 ms and, 60.0004 s later, 0.054321 ms past one.
        second = plan.participant_ids()[1]
        baseline = next(s for s in store.sessions(second) if s.kind == "baseline")
        sub_ms_start = baseline.start_ns + 200 * S + 987_654_321
        sub_ms_session = Session(
            participant=second,
            study=plan.study,
            kind="stressor",
            start_ns=sub_ms_start,
            end_ns=sub_ms_start + 60 * S + 400_000,
        )
        store.add_results(sessions=[open_session, sub_ms_session])
        store.add_events(endpoint_events(plan))
    db = f"dashboards_{next(_numbers)}"
    influx_server.query(f'CREATE DATABASE "{db}"')
    adapter = InfluxAdapter(influx_server.url).start()
    try:
        target = InfluxTarget(url=adapter.url, bucket=db, token=influx_server.token, raw=True)
        report = sync_store(path, target, batch_points=5000)
        assert report.delivered and report.dead_points == 0, report
    finally:
        adapter.stop()
    # The downsampled series of `stresstrack influx setup` (the cohort dashboard reads them),
    # computed over the study as its continuous queries would have.
    with Store(path, readonly=True) as store:
        times = [s.start_ns for s in store.sessions()] + [s.end_ns or 0 for s in store.sessions()]
    for d in DOWNSAMPLED:
        q = backfill_statement(
            d, min(times) // 1_000_000 - 3_600_000, max(times) // 1_000_000 + 3_600_000
        )
        influx_server.query(q, db=db)
    return LoadedStudy(
        influx_server, db, path, plan.study, plan.participant_ids(), open_session, sub_ms_session
    )
