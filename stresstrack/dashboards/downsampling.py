"""Downsampled series for dashboards at cohort scale, kept by InfluxDB itself.

A participant-hour is ~125k points, 92 % of them raw EDA samples (docs/schema.md); a cohort
panel over 1000 participants cannot read that. InfluxDB computes per-minute (results) and
10-second (signals) means as data arrives: continuous queries on InfluxDB 1.x, tasks on 2.x,
created by ``stresstrack influx setup`` (idempotent: run it again after an upgrade). The
downsampled measurements are written next to the raw ones with the same tags, kept as long
as the bucket keeps data (indefinitely by default); docs/schema.md lists them.

Raw samples stay in the bucket as the sink writes them (the sink has one bucket for all
measurements, so they share its retention; routing them elsewhere is the sink's to do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DOWNSAMPLED",
    "Downsample",
    "backfill_statement",
    "cq_statement",
    "flux_task",
    "same_query",
]


@dataclass(frozen=True, slots=True)
class Downsample:
    """``target`` = mean of ``fields`` of ``source`` per ``every``, per ``tags``; or, with
    ``quantiles_of``, those percentiles of one field over all series of a study (``fields``
    then names them), recomputed over ``resample_for`` (its source is itself downsampled)."""

    target: str
    source: str
    fields: tuple[str, ...]
    every: str
    tags: tuple[str, ...] = ("study", "participant")
    quantiles_of: str = ""
    resample_for: str = ""

    def select(self) -> str:
        if self.quantiles_of:
            return ", ".join(
                f'percentile("{self.quantiles_of}", {_PERCENT[f]}) AS "{f}"' for f in self.fields
            )
        return ", ".join(f'mean("{f}") AS "{f}"' for f in self.fields)


_PERCENT: Final = {"p10": 10, "median": 50, "p90": 90}


DOWNSAMPLED: Final = (
    Downsample("stress_1m", "stress", ("stress_index", "stress_confidence"), "1m"),
    Downsample(
        "features_1m",
        "features",
        (
            "mean_hr_bpm",
            "rmssd_ms",
            "scl_us",
            "scr_per_min",  # NeuroKit2's relative rule, as in `features`
            "ns_scr_per_min",  # the stress index's SCR component (≥ 0.05 µS)
            "hrv_coverage",
            "eda_coverage",
            "contact_lost_share",
            "valid_features",
        ),
        "1m",
    ),
    Downsample("heart_rate_10s", "heart_rate", ("bpm",), "10s", ("study", "participant", "device")),
    Downsample("eda_10s", "eda", ("conductance_us",), "10s", ("study", "participant", "device")),
    # The cohort's stress distribution per minute: a 1000-participant band reads 1 series,
    # not 1000 (percentile over stress_1m took 14 s for 8 h, benchmarks/cohort_scale.py).
    Downsample(
        "stress_cohort_1m",
        "stress_1m",
        ("p10", "median", "p90"),
        "1m",
        ("study",),
        quantiles_of="stress_index",
        resample_for="3m",
    ),
)


def _group_by(d: Downsample, every: str) -> str:
    return f"GROUP BY time({every}), " + ", ".join(f'"{t}"' for t in d.tags)


def cq_statement(db: str, d: Downsample) -> str:
    """The InfluxDB 1.x continuous query computing ``d``.

    >>> print(cq_statement("s", DOWNSAMPLED[0]))  # doctest: +NORMALIZE_WHITESPACE
    CREATE CONTINUOUS QUERY "stress_1m" ON "s" BEGIN SELECT mean("stress_index") AS
    "stress_index", mean("stress_confidence") AS "stress_confidence" INTO "stress_1m" FROM
    "stress" GROUP BY time(1m), "study", "participant" END
    """
    resample = f"RESAMPLE FOR {d.resample_for} " if d.resample_for else ""
    return (
        f'CREATE CONTINUOUS QUERY "{d.target}" ON "{db}" {resample}BEGIN SELECT {d.select()} '
        f'INTO "{d.target}" FROM "{d.source}" {_group_by(d, d.every)} END'
    )


def backfill_statement(d: Downsample, from_ms: int, to_ms: int) -> str:
    """The CQ's query over a past range (a CQ only covers data arriving after it exists)."""
    return (
        f'SELECT {d.select()} INTO "{d.target}" FROM "{d.source}" '
        f"WHERE time >= {from_ms}ms AND time < {to_ms}ms {_group_by(d, d.every)}"
    )


def same_query(a: str, b: str) -> bool:
    """Equal up to quoting, case, spaces and ``db.rp.`` prefixes (InfluxDB 1.x shows CQs
    re-formatted, its measurements qualified).

    >>> same_query('SELECT a INTO "m" FROM "s"', "select a into db.autogen.m from db.autogen.s")
    True
    """

    def norm(s: str) -> str:
        s = re.sub(r"[\s\"]+", " ", s).lower()
        s = re.sub(r"\b(into|from) [\w-]+\.[\w-]*\.", r"\1 ", s)
        return s.replace(" ", "")

    return norm(a) == norm(b)


def flux_task(bucket: str, org: str, d: Downsample) -> str:
    """The InfluxDB 2.x task computing ``d`` every ``d.every`` over the last two periods.

    Each mean is stamped at its window's start (``timeSrc: "_start"``; Flux's default is the
    stop), as a 1.x continuous query stamps it, so both versions give the same series."""
    if d.quantiles_of:
        return _flux_quantiles(bucket, org, d)
    fields = " or ".join(f'r._field == "{f}"' for f in d.fields)
    m = re.fullmatch(r"(\d+)([a-z]+)", d.every)
    assert m is not None, d.every
    twice = f"{2 * int(m.group(1))}{m.group(2)}"  # late points of the previous period too
    keep = ", ".join(f'"{c}"' for c in ("_start", "_stop", "_time", "_value", "_field", *d.tags))
    return (
        f'option task = {{name: "stresstrack {d.target}", every: {d.every}, offset: 10s}}\n\n'
        f'from(bucket: "{bucket}")\n'
        f"    |> range(start: -{twice})\n"
        f'    |> filter(fn: (r) => r._measurement == "{d.source}" and ({fields}))\n'
        f"    |> keep(columns: [{keep}])\n"
        f"    |> aggregateWindow(every: {d.every}, fn: mean, createEmpty: false, "
        'timeSrc: "_start")\n'
        f'    |> set(key: "_measurement", value: "{d.target}")\n'
        f'    |> to(bucket: "{bucket}", org: "{org}")\n'
    )


def _flux_quantiles(bucket: str, org: str, d: Downsample) -> str:
    tags = ", ".join(f'"{t}"' for t in d.tags)
    head = f'option task = {{name: "stresstrack {d.target}", every: {d.every}, offset: 30s}}\n\n'
    head += (
        f'data = from(bucket: "{bucket}")\n'
        f"    |> range(start: -{d.resample_for})\n"
        f'    |> filter(fn: (r) => r._measurement == "{d.source}" and '
        f'r._field == "{d.quantiles_of}")\n'
        f'    |> group(columns: ["_time", {tags}])\n'
    )
    parts = []
    for f in d.fields:
        parts.append(
            f'{f} = data |> quantile(q: {_PERCENT[f] / 100}, method: "exact_selector")'
            f' |> set(key: "_field", value: "{f}")'
        )
    return (
        head
        + "\n".join(parts)
        + f"\n\nunion(tables: [{', '.join(d.fields)}])\n"
        + f'    |> group(columns: [{tags}, "_field"])\n'
        + f'    |> set(key: "_measurement", value: "{d.target}")\n'
        + f'    |> to(bucket: "{bucket}", org: "{org}")\n'
    )
