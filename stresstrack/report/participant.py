"""The report's participant sections: the stress index and its components over time,
sessions, and each session's before / during / after.

A participant's section is a head, the session bands over the stress index and component
charts, a summary, the sessions table and the before / during / after table.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Final

from stresstrack.analysis import (
    SessionResult,
)
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.report.charts import (
    _X_AXIS_PX,
    COMPONENTS,
    KNOWN_KIND_COLOURS,
    Band,
    _esc,
    _fmt,
    svg_line_chart,
)
from stresstrack.report.forest import svg_period_bars


def _session_label(s: Session) -> str:
    return " · ".join(p for p in (s.kind, s.mode, s.label) if p)


def _periods_table(results: Sequence[SessionResult], minutes: Callable[[int], float]) -> str:
    """Each session's before / during / after: stress index, HR, RMSSD, coverage, status."""
    if not results:
        return ""
    rows = [
        '<h3>Before / during / after</h3><table class="periods"><tr><th>Session</th>'
        "<th>Start (min)</th><th>Stress index pre / during / post</th><th>Δ</th>"
        "<th>HR Δ (bpm)</th><th>RMSSD Δ (ms)</th><th>SCL Δ (µS)</th><th>Coverage pre / during"
        " / post</th><th>Status</th></tr>"
    ]
    for r in results:
        vals = [r.value("stress_index", p) for p in ("pre", "during", "post")]
        status = "included" if r.included else "excluded"
        shown = "included (no post values)" if r.included and r.post_note else status
        reason = r.reason or r.post_note
        rows.append(
            f'<tr class="{status}" data-kind="{_esc(r.session.kind)}">'
            f"<td>{_esc(_session_label(r.session))}</td>"
            f'<td class="num">{minutes(r.session.start_ns):.1f}</td>'
            f"<td>{svg_period_bars(vals)}</td>"
            f'<td class="num">{_fmt(r.delta("stress_index"), "+.1f")}</td>'
            f'<td class="num">{_fmt(r.delta("hr"), "+.1f")}</td>'
            f'<td class="num">{_fmt(r.delta("rmssd"), "+.1f")}</td>'
            f'<td class="num">{_fmt(r.delta("scl"), "+.2f")}</td>'
            f'<td class="num">{r.pre.coverage:.0%} / {r.during.coverage:.0%} / '
            f"{r.post.coverage:.0%}</td><td>{shown}"
            + (f'<div class="reason">{_esc(reason)}</div>' if reason else "")
            + "</td></tr>"
        )
    return "".join(rows) + "</table>"


def _utc(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _in_session(time_ns: int, s: Session) -> bool:
    # A row's time is the end of its window: count windows ending inside the session.
    return s.start_ns < time_ns and (s.end_ns is None or time_ns <= s.end_ns)


def _summary(
    features: list[FeatureRow],
    stress: list[StressRow],
    sessions: list[Session],
    min_confidence: float = 0.5,
) -> str:
    windows = len({r.time_ns for r in features} | {r.time_ns for r in stress})
    valued = sum(r.index is not None for r in stress)
    confident = sum(r.index is not None and r.confidence >= min_confidence for r in stress)
    share = f"{valued / windows:.0%}" if windows else "–"
    confident_share = f"{confident / windows:.0%}" if windows else "–"
    rows = [
        f'<table class="summary"><tr><th>Windows</th><td class="num">{windows}</td></tr>'
        f'<tr><th>With a stress value</th><td class="num">{valued} ({share})</td></tr>'
        f"<tr><th>With confidence ≥ {min_confidence:g}</th>"
        f'<td class="num confident">{confident} ({confident_share})</td></tr></table>'
    ]
    if sessions:
        rows.append(
            '<table class="by-kind"><tr><th>Session kind</th><th>Sessions</th>'
            "<th>Windows with a value</th><th>Mean stress index, every window ending in the "
            "session</th></tr>"
        )
        for kind in dict.fromkeys(s.kind for s in sessions):
            of_kind = [s for s in sessions if s.kind == kind]
            values = [
                r.index
                for r in stress
                if r.index is not None and any(_in_session(r.time_ns, s) for s in of_kind)
            ]
            mean = f"{statistics.fmean(values):.1f}" if values else "–"
            rows.append(
                f'<tr data-kind="{_esc(kind)}"><td>{_esc(kind)}</td><td class="num">{len(of_kind)}'
                f'</td><td class="num">{len(values)}</td><td class="num mean">{mean}</td></tr>'
            )
        rows.append(
            '</table><p class="note">This mean counts every window ending inside a session, '
            "including those that began before it; the before / during / after analysis "
            "counts only windows wholly inside the session with a confident index, so its "
            "during value can differ.</p>"
        )
    return "".join(rows)


def _sessions_table(sessions: list[Session], minutes: Callable[[int], float]) -> str:
    if not sessions:
        return ""
    rows = [
        '<table class="sessions"><tr><th>Kind</th><th>Mode</th><th>Label</th>'
        "<th>Start (min)</th><th>End (min)</th><th>Note</th></tr>"
    ]
    for s in sessions:
        end = "open" if s.end_ns is None else f"{minutes(s.end_ns):.1f}"
        rows.append(
            f"<tr><td>{_esc(s.kind)}</td><td>{_esc(s.mode)}</td><td>{_esc(s.label)}</td>"
            f'<td class="num">{minutes(s.start_ns):.1f}</td><td class="num">{end}</td>'
            f"<td>{_esc(s.note)}</td></tr>"
        )
    return "".join(rows) + "</table>"


# Without a marked baseline the pipeline's baseline is the first 5 minutes of data
# (PipelineConfig.baseline_s); the first window ends one window (60 s) after the data start.
IMPLICIT_BASELINE_S: Final = 300.0
FIRST_WINDOW_S: Final = 60.0


def _participant_section(
    n: int,
    participant: str,
    features: list[FeatureRow],
    stress: list[StressRow],
    sessions: list[Session],
    colours: Mapping[str, str],
    results: Sequence[SessionResult] = (),
    min_confidence: float = 0.5,
) -> str:
    head = (
        f'<section class="participant" id="participant-{n}" data-participant="{_esc(participant)}">'
        f"<h2>Participant {_esc(participant)}</h2>"
    )
    times = [r.time_ns for r in features] + [r.time_ns for r in stress]
    if not times and not sessions:
        return head + "<p>Raw events only: no features or stress index computed yet.</p></section>"
    t0 = min(times) if times else min(s.start_ns for s in sessions)

    def minutes(t: int) -> float:
        return (t - t0) / 60e9

    edges = [minutes(t) for t in times] + [minutes(s.start_ns) for s in sessions]
    edges += [minutes(s.end_ns) for s in sessions if s.end_ns is not None]
    x_range = (min(0.0, *edges), max(edges))
    bands = _session_bands(sessions, colours, minutes, x_range[1], implicit_baseline=bool(times))
    legend = "".join(
        f'<li data-kind="{_esc(k)}"><span class="swatch" style="background:{_esc(colours[k])}">'
        f"</span>{_esc(k)}</li>"
        for k in dict.fromkeys(s.kind for s in sessions)
    )
    legend += (
        "<li>dashed line: 50 = own baseline</li><li>grey strip: confidence (darker = higher)</li>"
    )
    charts = _charts(f"p{n}", participant, features, stress, bands, minutes, x_range)
    return (
        f"{head}<p>Start: {_utc(t0)} (time axis in minutes from the first window)</p>"
        f'<ul class="legend">{legend}</ul>{"".join(charts)}'
        f"{_summary(features, stress, sessions, min_confidence)}"
        f"{_sessions_table(sessions, minutes)}{_periods_table(results, minutes)}</section>"
    )


def _session_bands(
    sessions: Sequence[Session],
    colours: Mapping[str, str],
    minutes: Callable[[int], float],
    x_end: float,
    *,
    implicit_baseline: bool,
) -> list[Band]:
    """A shaded band per session (open ones to the end of the axis); with data but no marked
    baseline, the first minutes the pipeline takes as baseline, marked as implicit."""
    bands = [
        Band(
            start=minutes(s.start_ns),
            end=x_end if s.end_ns is None else minutes(s.end_ns),
            kind=s.kind,
            colour=colours[s.kind],
            label=" · ".join(p for p in (s.kind, s.mode, s.label) if p),
            tooltip=" · ".join(p for p in (s.kind, s.mode, s.label, s.note) if p)
            + f"\n{_utc(s.start_ns)} – {'open' if s.end_ns is None else _utc(s.end_ns)}",
            open=s.end_ns is None,
        )
        for s in sessions
    ]
    if implicit_baseline and not any(s.kind == "baseline" for s in sessions):
        end = (IMPLICIT_BASELINE_S - FIRST_WINDOW_S) / 60
        implicit = Band(
            start=0.0,
            end=min(end, x_end),
            kind="baseline",
            colour=colours.get("baseline", KNOWN_KIND_COLOURS["baseline"]),
            label="baseline (first 5 min)",
            tooltip="No baseline session is marked: the stress index takes the windows "
            "of the first 5 minutes of data as baseline (the pipeline's default baseline "
            "length)",
            css="baseline-implicit",
        )
        bands.insert(0, implicit)
    return bands


def _charts(
    prefix: str,
    participant: str,
    features: Sequence[FeatureRow],
    stress: Sequence[StressRow],
    bands: Sequence[Band],
    minutes: Callable[[int], float],
    x_range: tuple[float, float],
) -> list[str]:
    """The stress index chart (with the session labels), then one panel per component sharing
    its time axis (the last one draws it)."""
    charts = [
        svg_line_chart(
            [minutes(r.time_ns) for r in stress],
            [r.index for r in stress],
            x_range=x_range,
            y_range=(0.0, 100.0),
            title="Stress index",
            chart_id=f"{prefix}-stress",
            height=210,
            line_class="stress-line",
            attrs={"data-participant": participant},
            bands=bands,
            band_class="session-band",
            reference=50.0,
            confidence=[r.confidence for r in stress],
        )
    ]
    feature_minutes = [minutes(r.time_ns) for r in features]
    shades = [replace(b, label="") for b in bands]  # kind labels only on the stress chart
    for i, (key, name, unit) in enumerate(COMPONENTS):
        last = i == len(COMPONENTS) - 1
        charts.append(
            svg_line_chart(
                feature_minutes,
                [r.values.get(key) for r in features],
                x_range=x_range,
                title=f"{name} ({unit})",
                chart_id=f"{prefix}-{key}",
                height=80 + (_X_AXIS_PX if last else 0),
                attrs={"data-feature": key},
                bands=shades,
                x_label="min" if last else None,
            )
        )
    return charts
