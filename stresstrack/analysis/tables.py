"""The analysis as CSV tables: effects (the study's answer: one row per outcome × contrast),
sessions, participants, summary (stress index per group) and measures (every measure and
contrast per group).

effects.csv has exactly :data:`EFFECTS_COLUMNS`; every row of the other tables carries
``study``, ``stress_index_version`` and ``stresstrack_version`` columns, so
a table read on its own still says where it came from; the summary and measures tables also
carry the settings (windows, thresholds, bootstrap). Times are ISO 8601 UTC; undefined
values are empty.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from stresstrack.analysis.sessions import (
    MEASURES,
    Analysis,
    GroupSummary,
    ParticipantEffect,
    SessionResult,
)
from stresstrack.analysis.stats import PairedStats
from stresstrack.export.tables import iso_utc
from stresstrack.outputs import csv_safe, private_output

__all__ = [
    "EFFECTS_COLUMNS",
    "TABLE_FILES",
    "effects_rows",
    "measures_rows",
    "participants_rows",
    "sessions_rows",
    "summary_rows",
    "write_tables",
]

TABLE_FILES: Final = (
    "effects.csv", "sessions.csv", "participants.csv", "summary.csv", "measures.csv",
)  # fmt: skip
EFFECTS_COLUMNS: Final = (
    "outcome", "contrast", "estimate", "ci_low", "ci_high", "p", "p_adjusted", "dz",
    "dz_ci_low", "dz_ci_high", "n_participants", "primary", "controlled",
)  # fmt: skip
_GROUP: Final = ("kind", "mode", "label", "arm", "follows")  # follows: a recovery's previous kind
_VERSIONS: Final = ("stress_index_version", "stresstrack_version")
_SETTINGS: Final = ("pre_s", "post_s", "window_s", "min_coverage", "min_confidence", "boot", "seed")

Cell = str | int | float | None


def _cell(v: Cell) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "" if not math.isfinite(v) else format(v, ".10g")
    return str(v)


def _measure_columns() -> list[str]:
    cols = []
    for m in MEASURES:
        cols += [f"{m.name}_{x}" for x in ("pre", "during", "post", "delta", "post_delta")]
    return cols


def _versions(a: Analysis) -> list[Cell]:
    return [a.index_version, a.stresstrack_version]


def _settings(a: Analysis) -> list[Cell]:
    s = a.settings
    return [s.pre_s, s.post_s, s.window_s, s.min_coverage, s.min_confidence, s.boot, s.seed]


def _values(x: SessionResult | ParticipantEffect) -> list[Cell]:
    out: list[Cell] = []
    for m in MEASURES:
        out += [x.value(m.name, "pre"), x.value(m.name, "during"), x.value(m.name, "post")]
        out += [x.delta(m.name), x.delta(m.name, "post")]
    return out


def effects_rows(a: Analysis) -> Iterator[list[Cell]]:
    """Header (exactly :data:`EFFECTS_COLUMNS`), then one row per outcome × contrast.

    ``controlled`` is false for during − pre rows: they include natural recovery and time
    effects and are not causal estimates (their contrast names say ``during − pre``).
    """
    yield list(EFFECTS_COLUMNS)
    for e in a.effects.effects:
        yield [
            e.outcome, e.contrast, e.estimate, *e.ci, e.p, e.p_adjusted, e.dz, *e.dz_ci,
            e.n_participants, e.primary, e.controlled,
        ]  # fmt: skip


def sessions_rows(a: Analysis) -> Iterator[list[Cell]]:
    """Header, then one row per session."""
    yield [
        "study", "participant", *_GROUP, "start", "end", "duration_min", "note", "included",
        "reason", "pre_coverage", "during_coverage", "post_coverage", "post_note",
        *_measure_columns(), *_VERSIONS,
    ]  # fmt: skip
    for r in a.sessions:
        s = r.session
        duration = None if s.end_ns is None else (s.end_ns - s.start_ns) / 60e9
        yield [
            s.study, s.participant, *r.group, iso_utc(s.start_ns), iso_utc(s.end_ns), duration,
            s.note, r.included, r.reason, r.pre.coverage, r.during.coverage, r.post.coverage,
            r.post_note, *_values(r), *_versions(a),
        ]  # fmt: skip


def participants_rows(a: Analysis) -> Iterator[list[Cell]]:
    """Header, then one row per participant and group: the within-participant effect."""
    yield ["study", "participant", *_GROUP, "sessions", *_measure_columns(), *_VERSIONS]
    for e in a.participants:
        yield [e.study, e.participant, *e.group, e.sessions, *_values(e), *_versions(a)]


def _stats(s: PairedStats | None) -> list[Cell]:
    if s is None:
        return [None] * 8
    return [s.n, s.mean_delta, *s.mean_ci, s.dz, *s.dz_ci, s.wilcoxon_p]


def _reasons(g: GroupSummary) -> str:
    return "; ".join(f"{reason} ({n})" for reason, n in sorted(g.reasons.items()))


def summary_rows(a: Analysis, measure: str = "stress_index") -> Iterator[list[Cell]]:
    """Header, then one row per group: ``measure`` (default the stress index) before vs
    during, before vs after, and vs the control kind."""
    yield [
        "study", *_GROUP, "measure", "n", "mean_pre", "mean_during", "mean_delta", "sd",
        "mean_delta_ci_low", "mean_delta_ci_high", "dz", "ci_low", "ci_high", "wilcoxon_p",
        "ttest_p", "post_n", "post_mean_delta", "post_mean_delta_ci_low",
        "post_mean_delta_ci_high", "post_dz", "post_ci_low", "post_ci_high", "post_wilcoxon_p",
        "post_ttest_p", "control_kind", "control_n", "control_mean_diff",
        "control_mean_diff_ci_low", "control_mean_diff_ci_high", "control_dz",
        "control_ci_low", "control_ci_high", "control_wilcoxon_p", "control_ttest_p",
        "n_sessions", "n_excluded", "excluded_reasons", *_SETTINGS, *_VERSIONS,
    ]  # fmt: skip
    for g in a.groups:
        d, p = g.during[measure], g.post[measure]
        c = g.control.get(measure)
        yield [
            a.study, *g.key, measure, d.n, d.mean_before, d.mean_after, d.mean_delta,
            d.sd_delta, *d.mean_ci, d.dz, *d.dz_ci, d.wilcoxon_p, d.ttest_p,
            *_stats(p), p.ttest_p,
            a.settings.control if c is not None else None, *_stats(c),
            None if c is None else c.ttest_p,
            g.sessions, g.excluded, _reasons(g), *_settings(a), *_versions(a),
        ]  # fmt: skip


def measures_rows(a: Analysis) -> Iterator[list[Cell]]:
    """Header, then one row per group, measure and contrast (during, post, control)."""
    yield [
        "study", *_GROUP, "measure", "unit", "contrast", "n", "mean_before", "mean_after",
        "mean_delta", "sd", "mean_delta_ci_low", "mean_delta_ci_high", "dz", "ci_low",
        "ci_high", "wilcoxon_p", "ttest_p", *_SETTINGS, *_VERSIONS,
    ]  # fmt: skip
    for g in a.groups:
        for m in MEASURES:
            contrasts: list[tuple[str, PairedStats]] = [
                ("during", g.during[m.name]),
                ("post", g.post[m.name]),
            ]
            if m.name in g.control:
                contrasts.append((f"vs {a.settings.control}", g.control[m.name]))
            for name, s in contrasts:
                yield [
                    a.study, *g.key, m.name, m.unit, name, s.n, s.mean_before, s.mean_after,
                    s.mean_delta, s.sd_delta, *s.mean_ci, s.dz, *s.dz_ci, s.wilcoxon_p,
                    s.ttest_p, *_settings(a), *_versions(a),
                ]  # fmt: skip


def _write(path: Path, rows: Iterator[list[Cell]]) -> int:
    n = -1
    with private_output(path, newline="") as f:
        w = csv.writer(f)
        for row in rows:
            w.writerow([csv_safe(_cell(v)) for v in row])
            n += 1
    return n


def write_tables(a: Analysis, out: Path) -> dict[str, int]:
    """Write :data:`TABLE_FILES` into the folder ``out``; returns rows written per file."""
    out.mkdir(parents=True, exist_ok=True)
    makers: Sequence[tuple[str, Iterator[list[Cell]]]] = (
        ("effects.csv", effects_rows(a)),
        ("sessions.csv", sessions_rows(a)),
        ("participants.csv", participants_rows(a)),
        ("summary.csv", summary_rows(a)),
        ("measures.csv", measures_rows(a)),
    )
    return {name: _write(out / name, rows) for name, rows in makers}
