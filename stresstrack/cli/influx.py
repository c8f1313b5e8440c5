"""``stresstrack influx setup``: the downsampled series of the cohort dashboards, in InfluxDB.

Creates (or brings up to date) one continuous query per downsampled measurement on InfluxDB
1.x, one task on 2.x (``stresstrack.dashboards.downsampling``); running it again changes
nothing. ``--backfill-hours`` also computes them for the past hours (1.x), since a continuous
query only covers data that arrives after it exists. Needs an operator (admin) token.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

from stresstrack.cli.common import add_influx_options, finite_float, influx_target
from stresstrack.cli.doctor import influx_http
from stresstrack.dashboards.downsampling import (
    DOWNSAMPLED,
    backfill_statement,
    cq_statement,
    flux_task,
    same_query,
)
from stresstrack.sinks.influx_client import InfluxTarget

NAME = "influx"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(NAME, help="set up InfluxDB for the dashboards (downsampled series)")
    actions = p.add_subparsers(dest="influx_command", required=True, metavar="ACTION")
    s = actions.add_parser(
        "setup",
        help="create the continuous queries (1.x) or tasks (2.x) of the downsampled series",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    add_influx_options(s, required=True)
    s.add_argument(
        "--backfill-hours",
        type=finite_float,
        default=0.0,
        metavar="H",
        help="also compute the downsampled series for the last H hours (InfluxDB 1.x)",
    )
    s.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Action:
    name: str
    what: str  # created, updated, unchanged, backfilled


class SetupError(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    target = influx_target(args)
    assert target is not None  # --influx-url is required
    try:
        actions = setup(target, backfill_hours=args.backfill_hours)
    except SetupError as err:
        print(f"influx setup: {err}")
        return 1
    for a in actions:
        print(f"  {a.name}: {a.what}")
    return 0


def setup(target: InfluxTarget, *, backfill_hours: float = 0.0) -> list[Action]:
    status, headers, body = influx_http(target, "GET", "/ping")
    if status is None:
        raise SetupError(f"no answer from {target.url} ({body})")
    version = headers.get("X-Influxdb-Version", "")
    if version.lstrip("v").startswith("1."):
        return _setup_1x(target, backfill_hours)
    return _setup_2x(target)


def _query(target: InfluxTarget, q: str, db: str | None = None) -> list[list[object]]:
    """InfluxQL on 1.x; the rows of the answer's series (``name`` first)."""
    params = {"q": q}
    if db:
        params["db"] = db
    status, _h, body = influx_http(target, "POST", "/query", params)
    if status is None or not 200 <= status < 300:
        raise SetupError(f"{q[:60]}...: {status} {body[:300]}")
    result = json.loads(body)["results"][0]
    if "error" in result:
        raise SetupError(f"{q[:60]}...: {result['error']}")
    return [[s.get("name"), *v] for s in result.get("series", []) for v in s.get("values", [])]


def _setup_1x(target: InfluxTarget, backfill_hours: float) -> list[Action]:
    db = target.bucket.partition("/")[0]
    existing = {
        str(row[1]): str(row[2])
        for row in _query(target, "SHOW CONTINUOUS QUERIES")
        if row[0] == db
    }
    out = []
    for d in DOWNSAMPLED:
        statement = cq_statement(db, d)
        if d.target in existing and same_query(existing[d.target], statement):
            out.append(Action(d.target, "unchanged"))
            continue
        if d.target in existing:
            _query(target, f'DROP CONTINUOUS QUERY "{d.target}" ON "{db}"')
        _query(target, statement)
        out.append(Action(d.target, "updated" if d.target in existing else "created"))
    if backfill_hours > 0:
        to_ms = int(time.time() * 1000)
        from_ms = to_ms - int(backfill_hours * 3_600_000)
        for d in DOWNSAMPLED:
            _query(target, backfill_statement(d, from_ms, to_ms), db)
            out.append(Action(d.target, f"backfilled {backfill_hours:g} h"))
    return out


def _setup_2x(target: InfluxTarget) -> list[Action]:
    """Tasks through the v2 API (GET/POST/PATCH /api/v2/tasks)."""
    out = []
    for d in DOWNSAMPLED:
        flux = flux_task(target.bucket, target.org or "", d)
        name = f"stresstrack {d.target}"
        status, _h, body = influx_http(
            target, "GET", "/api/v2/tasks", {"name": name, "org": target.org or ""}
        )
        if status is None or not 200 <= status < 300:
            raise SetupError(f"listing tasks: {status} {body[:300]}")
        tasks = [t for t in json.loads(body).get("tasks", []) if t.get("name") == name]
        if tasks and tasks[0].get("flux") == flux:
            out.append(Action(d.target, "unchanged"))
            continue
        if tasks:
            path, method, payload = f"/api/v2/tasks/{tasks[0]['id']}", "PATCH", {"flux": flux}
        else:
            path, method, payload = "/api/v2/tasks", "POST", {"org": target.org, "flux": flux}
        status, _h, body = influx_http(target, method, path, body=payload)
        if status is None or not 200 <= status < 300:
            raise SetupError(f"task {name}: {status} {body[:300]}")
        out.append(Action(d.target, "updated" if tasks else "created"))
    return out
