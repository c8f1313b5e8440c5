"""The days dashboard as Grafana 11.6 shows it, on a simulated multi-day participant in a
real influxd.

A simulated day and night (``stresstrack.simulators.days``, 07:00 to 07:00 UTC: two UTC
days) run through the pipeline (rolling baseline, 30 s hops) into a store,
the store goes to influxd through the real sink, and the downsampled series are computed by
the continuous queries' own statements (as tests/dashboards/dashboard_study.py does). Each
panel then goes through the Grafana harness (the InfluxDB plugin's frontend and backend,
ported, and ``@grafana/data`` by Node), and what Grafana would draw, bar by bar, is compared
with the same aggregates computed in Python from the store's rows: per UTC day, the mean
stress index, the minutes above the threshold, and the lowest hourly mean heart rate.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from grafana_harness.grafana import Dashboard, node_available, render
from influx_adapter import InfluxAdapter
from servers import InfluxServer

from stresstrack.dashboards import build_dashboards
from stresstrack.dashboards.days import THRESHOLD_DEFAULT
from stresstrack.dashboards.downsampling import DOWNSAMPLED, backfill_statement
from stresstrack.dashboards.provisioning import dashboard_json
from stresstrack.pipeline import Pipeline, PipelineConfig
from stresstrack.session.recorder import Recorder
from stresstrack.simulators.days import DaysPlan, DaysTruth, simulate_days
from stresstrack.sinks import InfluxTarget, sync_store
from stresstrack.store import Store

pytestmark = [
    pytest.mark.influx,
    pytest.mark.skipif(
        not node_available() and os.environ.get("CI", "").lower() not in ("1", "true", "yes"),
        reason="scripts/test installs @grafana/data",
    ),
]

NS = 1_000_000_000
MS = 1_000_000
DAY_MS = 86_400_000
PLAN = DaysPlan(days=1, seed=3, eda_hz=4.0, acc_hz=10.0)


@dataclass(frozen=True)
class DaysStudy:
    server: InfluxServer
    db: str
    store: Path
    truth: DaysTruth


@pytest.fixture(scope="module")
def days_study(
    influx_server: InfluxServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DaysStudy]:
    path = tmp_path_factory.mktemp("days") / "days.db"
    config = PipelineConfig(baseline_mode="rolling", hop_s=30.0, slow_hop_s=60.0,
                            edasymp_hop_s=60.0)  # fmt: skip
    (truth,), chunks = simulate_days(PLAN)
    with Store(path) as store:
        recorder = Recorder(store, Pipeline(config), store_raw=False)
        for chunk in chunks:
            recorder.emit(chunk)
        recorder.close()
    db = "dashboards_days"
    influx_server.query(f'CREATE DATABASE "{db}"')
    adapter = InfluxAdapter(influx_server.url).start()
    try:
        target = InfluxTarget(url=adapter.url, bucket=db, token=influx_server.token)
        report = sync_store(path, target, batch_points=5000)
        assert report.delivered and report.dead_points == 0, report
    finally:
        adapter.stop()
    for d in DOWNSAMPLED:
        influx_server.query(
            backfill_statement(d, truth.start_ns // MS - DAY_MS, truth.end_ns // MS + DAY_MS),
            db=db,
        )
    try:
        yield DaysStudy(influx_server, db, path, truth)
    finally:
        influx_server.query(f'DROP DATABASE "{db}"')


def show(study: DaysStudy, **url: str) -> Dashboard:
    board: dict[str, Any] = json.loads(dashboard_json(build_dashboards()["days"]))
    s = study.server
    return render(
        board,
        url=s.url,
        db=study.db,
        auth=(s.user, s.password),
        from_ms=study.truth.start_ns // MS,
        to_ms=study.truth.end_ns // MS,
        variables={"participant": study.truth.participant, **url},
    )


def bars(d: Dashboard, title: str) -> dict[int, float]:
    """Day start (ms) -> the bar's value, as Grafana's frame holds them."""
    panel = d.panels[title]
    assert panel.errors == [], panel.errors
    (frame,) = panel.frames
    times = next(f["values"] for f in frame["fields"] if f["type"] == "time")
    (values,) = [f["values"] for f in frame["fields"] if f["type"] != "time"]
    return {int(t): v for t, v in zip(times, values, strict=True) if v is not None}


def _day(time_ns: int) -> int:
    return time_ns // MS // DAY_MS * DAY_MS


def test_daily_bars_are_the_stores_daily_aggregates(days_study: DaysStudy) -> None:
    """Mean stress per day, minutes above 70 and nightly HR, as Grafana would
    draw them, equal the aggregates of the store's rows; the series carry their aliases."""
    d = show(days_study)
    assert d.annotation_errors == {}
    assert d.variables["threshold"].value == THRESHOLD_DEFAULT
    names = {t: p.display_names() for t, p in d.panels.items()}
    assert names == {
        "Mean stress index per day": ["mean stress"],
        "Minutes above threshold per day": ["minutes above"],
        "Nightly heart rate": ["nightly HR"],
    }
    pid = days_study.truth.participant
    with Store(days_study.store, readonly=True) as store:
        stress = [r for r in store.stress(pid) if r.index is not None]
        features = store.features(pid)
    by_minute: dict[int, list[float]] = defaultdict(list)  # what stress_1m holds
    for r in stress:
        by_minute[r.time_ns // (60 * NS)].append(float(r.index or 0.0))
    per_day: dict[int, list[float]] = defaultdict(list)
    above: dict[int, int] = defaultdict(int)
    for m, values in by_minute.items():
        per_day[_day(m * 60 * NS)].append(float(np.mean(values)))
        if np.mean(values) > float(THRESHOLD_DEFAULT):
            above[_day(m * 60 * NS)] += 1
    got = bars(d, "Mean stress index per day")
    assert sorted(got) == sorted(per_day) and len(got) == 2  # the first day, the night
    for day, values in per_day.items():
        assert got[day] == pytest.approx(np.mean(values), rel=1e-9)
    minutes = bars(d, "Minutes above threshold per day")
    assert {k: v for k, v in minutes.items() if v} == dict(above)
    assert sum(above.values()) > 0
    minute_hr: dict[int, list[float]] = defaultdict(list)  # features_1m, then hourly means
    for f in features:
        hr = f.values.get("mean_hr_bpm")
        if hr is not None:
            minute_hr[f.time_ns // (60 * NS)].append(hr)
    hourly: dict[int, list[float]] = defaultdict(list)
    for m, values in minute_hr.items():
        hourly[m * 60_000 // 3_600_000 * 3_600_000].append(float(np.mean(values)))
    nightly: dict[int, float] = {}
    for hour, values in hourly.items():
        day = hour // DAY_MS * DAY_MS
        nightly[day] = min(nightly.get(day, np.inf), float(np.mean(values)))
    got_hr = bars(d, "Nightly heart rate")
    assert got_hr == pytest.approx(nightly, rel=1e-9)
    first = min(got_hr)  # the lowest hour of the daytime is still above the night's
    assert got_hr[max(got_hr)] < got_hr[first]


def test_threshold_variable_changes_the_minutes_and_refuses_other_values(
    days_study: DaysStudy,
) -> None:
    """A lower threshold counts at least as many minutes; a crafted URL value falls back to
    the default (the variable takes only its options)."""
    at_60 = bars(show(days_study, threshold="60"), "Minutes above threshold per day")
    at_70 = bars(show(days_study), "Minutes above threshold per day")
    assert sum(at_60.values()) > sum(at_70.values())
    crafted = show(days_study, threshold="0 OR 1=1")
    assert crafted.variables["threshold"].value == THRESHOLD_DEFAULT
    assert all("1=1" not in q for q in crafted.queries)
