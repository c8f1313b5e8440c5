"""``stresstrack doctor``: check the configured InfluxDB (reachable, auth, write, query)."""

from __future__ import annotations

import argparse
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from stresstrack.cli.common import add_influx_options, influx_target
from stresstrack.sinks.influx_client import InfluxTarget, InfluxWriteError, InfluxWriter

NAME = "doctor"
# The point written to prove the bucket is writable (docs/schema.md).
DOCTOR_MEASUREMENT: Final = "stresstrack_doctor"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="check the InfluxDB connection: reachable, credentials, bucket writable/queryable",
        description="Check the configured InfluxDB: /ping, /health, a test write (one point "
        f"in measurement {DOCTOR_MEASUREMENT}) and reading it back with InfluxQL, the "
        "language of the Grafana dashboards. Exits 1 when a check fails.",
    )
    add_influx_options(p, required=True)
    p.set_defaults(run=run)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


def run(args: argparse.Namespace) -> int:
    target = influx_target(args)
    assert target is not None  # --influx-url is required
    print(f"InfluxDB {target.describe()}:")
    failed = False
    for check in diagnose(target):
        print(f"  [{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        failed |= not check.ok
    print("InfluxDB is ready for stresstrack" if not failed else "InfluxDB is NOT ready")
    return 1 if failed else 0


def diagnose(target: InfluxTarget) -> list[Check]:
    """Every check in order; stops after the first one the others depend on fails."""
    checks: list[Check] = []
    status, headers, body = influx_http(target, "GET", "/ping")
    if status is None:
        checks.append(Check("reachable", False, f"no answer from {target.url} ({body})"))
        return checks
    version = headers.get("X-Influxdb-Version", "unknown version")
    checks.append(
        Check("reachable", 200 <= status < 300, f"/ping answered {status} (InfluxDB {version})")
    )
    status, _headers, body = influx_http(target, "GET", "/health")
    if status == 404:
        checks.append(Check("health", True, "no /health endpoint (InfluxDB 1.x before 1.8)"))
    elif status is not None:
        checks.append(Check("health", 200 <= status < 300, f"{status} {_short(body)}"))
    now = time.time_ns()
    writer = InfluxWriter(target)
    try:
        writer.write([f"{DOCTOR_MEASUREMENT},check=doctor ok=1i {now}"])
    except InfluxWriteError as err:
        # 1.x before 1.8 answers Go's bare "404 page not found": no such endpoint.
        if err.status == 404 and _too_old(version) and "database" not in err.message:
            detail = f"InfluxDB {version} has no /api/v2/write: InfluxDB 1.8 or newer is needed"
        else:
            detail = _explain(err.status, err.message, target)
        checks.append(Check("write", False, detail))
        return checks
    finally:
        writer.close()
    checks.append(Check("write", True, f"wrote a test point to {target.bucket!r}"))
    checks.append(_query_back(target, now))
    return checks


def _query_back(target: InfluxTarget, time_ns: int) -> Check:
    db, _, rp = target.bucket.partition("/")
    params = {"db": db, "epoch": "ns"}
    if rp:
        params["rp"] = rp
    params["q"] = f'SELECT "ok" FROM "{DOCTOR_MEASUREMENT}" WHERE time = {time_ns}'
    status, _headers, body = influx_http(target, "GET", "/query", params)
    name = "query (InfluxQL)"
    if status is None or not 200 <= status < 300:
        detail = "no answer" if status is None else _explain(status, _short(body), target)
        return Check(name, False, detail)
    try:
        answer = json.loads(body)
        results = answer.get("results", [{}])
        error = results[0].get("error") if results else None
        found = bool(results and results[0].get("series"))
    except (ValueError, AttributeError, IndexError):
        return Check(name, False, f"unexpected answer: {_short(body)}")
    if error:
        return Check(name, False, str(error))
    if not found:
        return Check(
            name,
            False,
            "the test point is not readable with InfluxQL; on InfluxDB 2.x, map the bucket "
            "to a database and retention policy (DBRP) for Grafana's InfluxQL queries",
        )
    return Check(name, True, "read the test point back")


def _too_old(version: str) -> bool:
    """InfluxDB 1.x before 1.8, which has no /api/v2/write (``1.6.7~rc0`` -> True).

    >>> [_too_old(v) for v in ("1.6.7~rc0", "1.8.10", "v2.7.11", "unknown version")]
    [True, False, False, False]
    """
    m = re.match(r"v?(\d+)\.(\d+)", version)
    return m is not None and (int(m.group(1)), int(m.group(2))) < (1, 8)


def _explain(status: int | None, message: str, target: InfluxTarget) -> str:
    if status in (401, 403):
        return f"{status}: the token was refused ({message}); for InfluxDB 1.x use user:password"
    if status == 404:
        return f"404: bucket/database {target.bucket!r} or org {target.org!r} not found ({message})"
    return f"{status}: {message}" if status is not None else message


def _short(body: str) -> str:
    return body.strip().replace("\n", " ")[:300]


def influx_http(
    target: InfluxTarget,
    method: str,
    path: str,
    params: dict[str, str] | None = None,
    body: Mapping[str, object] | None = None,
) -> tuple[int | None, dict[str, str], str]:
    """``(status, headers, body)``, status ``None`` with the reason when there is no answer."""
    params = dict(params or {})
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if target.token:
        user, sep, password = target.token.partition(":")
        if sep and path == "/query":
            params.update(u=user, p=password)  # InfluxDB 1.x credentials
        else:
            headers["Authorization"] = f"Token {target.token}"
    url = target.url.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = json.dumps(dict(body)).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=target.timeout_s) as r:
            return int(r.status), dict(r.headers.items()), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        return exc.code, dict(exc.headers.items()), target.hide(text)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, {}, target.hide(str(reason))
