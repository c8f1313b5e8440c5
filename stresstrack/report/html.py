"""One self-contained HTML page per store: stress index, components and sessions per participant.

The page has inline CSS and SVG drawn here, and no scripts, fonts or URLs, so it opens offline
and can travel with a study's results. The SVG builders take plain lists and are pure; only
``render_report`` reads the store.
"""

from __future__ import annotations

import html
import importlib.metadata
import itertools
import math
import os
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.sqlite import Store

__all__ = [
    "Band",
    "downsample_minmax",
    "kind_colours",
    "nice_ticks",
    "render_report",
    "split_segments",
    "svg_line_chart",
]

Point = tuple[float, float]

MAX_POINTS: Final = 2000  # per line; keeps a day of 5 s windows to a few hundred kB
GAP_FACTOR: Final = 3.0  # a step over 3x the median step is missing data, not a slow window
COMPONENTS: Final = (
    ("mean_hr_bpm", "Heart rate", "bpm"),
    ("rmssd_ms", "RMSSD", "ms"),
    ("scl_us", "SCL", "µS"),
    ("scr_per_min", "SCR rate", "/min"),
)
KNOWN_KIND_COLOURS: Final = {
    "baseline": "#4c78a8",
    "stressor": "#e45756",
    "self-care": "#54a24b",
    "recovery": "#b279a2",
}
_EXTRA_COLOURS: Final = ("#f58518", "#72b7b2", "#eeca3b", "#9d755d", "#bab0ac", "#ff9da6")
_SVG_NS: Final = "http://www.w3.org/2000/svg"
WIDTH: Final = 960
_LEFT, _RIGHT, _TOP = 56, 16, 6  # plot margins in px
_X_AXIS_PX, _STRIP_PX = 22, 9  # room under the plot for tick labels and the confidence strip

_CSS: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1000px;color:#222}
h1{margin-bottom:.2em} h2{margin:1.6em 0 .2em;border-top:1px solid #ccc;padding-top:.6em}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:0 1em;margin:0}
dl.meta dt{color:#666} dl.meta dd{margin:0}
svg.chart{display:block} .grid{stroke:#e6e6e6} .tick{font-size:10px;fill:#666}
.panel-title{font-size:11px;fill:#333;font-weight:600} .band-label{font-size:10px;fill:#333}
.session-band,.session-shade{fill-opacity:.18} .session-shade{fill-opacity:.1}
.stress-line,.component-line{fill:none;stroke:#222;stroke-width:1.5;stroke-linejoin:round;
stroke-linecap:round} .component-line{stroke:#555;stroke-width:1.2}
.baseline-line{stroke:#888;stroke-dasharray:5 4} .empty-panel{font-size:12px;fill:#999}
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1.2em;font-size:12px}
.swatch{display:inline-block;width:1.1em;height:.8em;margin-right:.3em;opacity:.5}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:2px 8px;text-align:left} td.num{text-align:right}
p.empty{padding:2em;background:#f6f6f6;font-size:16px}
"""


@dataclass(frozen=True, slots=True)
class Band:
    """A shaded span of a chart (a session), in the chart's x units."""

    start: float
    end: float
    kind: str
    colour: str
    label: str = ""
    tooltip: str = ""
    open: bool = False


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def split_segments(
    xs: Sequence[float], ys: Sequence[float | None], gap_factor: float = GAP_FACTOR
) -> list[list[Point]]:
    """Runs of drawable points, broken at ``None``/non-finite values and at long time gaps.

    >>> split_segments([0, 1, 2, 3, 10, 11], [1, None, 2, 3, 4, 5])
    [[(0, 1)], [(2, 2), (3, 3)], [(10, 4), (11, 5)]]
    """
    steps = [b - a for a, b in itertools.pairwise(xs) if b > a]
    limit = gap_factor * statistics.median(steps) if steps else math.inf
    segments: list[list[Point]] = []
    run: list[Point] = []
    prev: float | None = None
    for x, y in zip(xs, ys, strict=True):
        if run and (y is None or not math.isfinite(y) or (prev is not None and x - prev > limit)):
            segments.append(run)
            run = []
        if y is not None and math.isfinite(y):
            run.append((x, y))
        prev = x
    if run:
        segments.append(run)
    return segments


def downsample_minmax(
    segments: list[list[Point]], max_points: int = MAX_POINTS
) -> list[list[Point]]:
    """Keep about ``max_points`` points: each bucket's lowest and highest, in time order."""
    total = sum(len(s) for s in segments)
    if total <= max_points:
        return segments
    size = math.ceil(total / max(max_points // 2, 1))
    out: list[list[Point]] = []
    for seg in segments:
        kept: list[Point] = []
        for i in range(0, len(seg), size):
            bucket = seg[i : i + size]
            lo = min(bucket, key=lambda p: p[1])
            hi = max(bucket, key=lambda p: p[1])
            kept.extend(sorted({lo, hi}))
        out.append(kept)
    return out


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 x 10^n) covering ``lo..hi``.

    >>> nice_ticks(0, 100, 4)
    [0.0, 25.0, 50.0, 75.0, 100.0]
    """
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    n = math.floor((hi - first) / step + 1e-9) + 1
    return [first + i * step for i in range(n)]


def _auto_range(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or max(abs(hi) * 0.1, 1.0)
    return lo - pad, hi + pad


def svg_line_chart(
    xs: Sequence[float],
    ys: Sequence[float | None],
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float] | None = None,
    title: str = "",
    chart_id: str = "chart",
    height: int = 90,
    width: int = WIDTH,
    line_class: str = "component-line",
    attrs: Mapping[str, str] | None = None,
    bands: Sequence[Band] = (),
    band_class: str = "session-shade",
    reference: float | None = None,
    confidence: Sequence[float] | None = None,
    x_label: str | None = None,
    max_points: int = MAX_POINTS,
) -> str:
    """One chart panel as an ``<svg>`` element: shaded bands under a line broken at gaps.

    ``height`` is the whole panel; the x tick labels are drawn only when ``x_label`` is given,
    so stacked panels with the same ``x_range`` and width share one time axis.
    ``confidence`` (0-1 per point) is drawn as a grey strip under the plot, darker = surer.
    """
    x0, x1 = x_range
    if not x1 > x0:
        x1 = x0 + 1.0
    segments = downsample_minmax(split_segments(xs, ys), max_points)
    y0, y1 = y_range or _auto_range([y for seg in segments for _, y in seg])
    bottom = (_X_AXIS_PX if x_label is not None else 4) + (_STRIP_PX if confidence else 0)
    pw, ph = width - _LEFT - _RIGHT, height - _TOP - bottom

    def sx(x: float) -> float:
        return _LEFT + (min(max(x, x0), x1) - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return _TOP + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * ph

    parts = [
        f'<svg xmlns="{_SVG_NS}" class="chart" id="{_esc(chart_id)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">'
    ]
    for b in bands:
        left = sx(b.start)
        parts.append(
            f'<rect class="{band_class}" data-kind="{_esc(b.kind)}"'
            f' data-open="{str(b.open).lower()}" x="{left:.1f}" y="{_TOP}"'
            f' width="{max(sx(b.end) - left, 1.0):.1f}" height="{ph}"'
            f' fill="{_esc(b.colour)}"><title>{_esc(b.tooltip or b.kind)}</title></rect>'
        )
        if b.label:
            parts.append(
                f'<text class="band-label" x="{left + 3:.1f}" y="{_TOP + 11}">'
                f"{_esc(b.label)}</text>"
            )
    for t in nice_ticks(y0, y1, 4 if ph > 100 else 2):
        y = sy(t)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{_LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{t:g}</text>'
        )
    for t in nice_ticks(x0, x1, 10):
        x = sx(t)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_TOP + ph}"/>')
        if x_label is not None:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{height - 8}" text-anchor="middle">{t:g}</text>'
            )
    if x_label is not None:
        parts.append(
            f'<text class="tick" x="{_LEFT - 4}" y="{height - 8}" text-anchor="end">'
            f"{_esc(x_label)}</text>"
        )
    if reference is not None:
        y = sy(reference)
        parts.append(
            f'<line class="baseline-line" x1="{_LEFT}" x2="{_LEFT + pw}"'
            f' y1="{y:.1f}" y2="{y:.1f}"/>'
        )
    if confidence:
        parts.append(_confidence_strip(xs, ys, confidence, chart_id, sx, _TOP + ph + 3, pw))
    d = "".join(
        "M" + "L".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in seg) + ("h0" if len(seg) == 1 else "")
        for seg in segments
    )
    n = sum(len(seg) for seg in segments)
    extra = "".join(f' {_esc(k)}="{_esc(v)}"' for k, v in (attrs or {}).items())
    parts.append(
        f'<path class="{line_class}" data-points="{n}" data-segments="{len(segments)}"{extra}'
        f' d="{d}"/>'
    )
    if n == 0:
        parts.append(
            f'<text class="empty-panel" x="{_LEFT + pw / 2:.1f}" y="{_TOP + ph / 2 + 4:.1f}" '
            'text-anchor="middle">no values</text>'
        )
    parts.append(
        f'<text class="panel-title" x="{_LEFT + pw - 4}" y="{_TOP + 12}" text-anchor="end">'
        f"{_esc(title)}</text></svg>"
    )
    return "".join(parts)


def _confidence_strip(
    xs: Sequence[float],
    ys: Sequence[float | None],
    confidence: Sequence[float],
    chart_id: str,
    sx: Callable[[float], float],
    top: float,
    pw: int,
) -> str:
    """A gradient strip whose opacity follows the confidence; blank where there is no value."""
    masked = [
        c if y is not None and math.isfinite(y) else None
        for c, y in zip(confidence, ys, strict=True)
    ]
    stops: list[str] = []
    for seg in downsample_minmax(split_segments(xs, masked), MAX_POINTS // 4):
        fracs = [(sx(x) - _LEFT) / pw for x, _ in seg]
        levels = [min(max(c, 0.0), 1.0) for _, c in seg]
        stops.append(f'<stop offset="{fracs[0]:.4f}" stop-opacity="0"/>')
        stops += [
            f'<stop offset="{f:.4f}" stop-opacity="{c:.2f}"/>'
            for f, c in zip(fracs, levels, strict=True)
        ]
        stops.append(f'<stop offset="{fracs[-1]:.4f}" stop-opacity="0"/>')
    gid = f"{chart_id}-confidence"
    return (
        f'<linearGradient id="{_esc(gid)}" gradientUnits="userSpaceOnUse" x1="{_LEFT}" '
        f'x2="{_LEFT + pw}" y1="0" y2="0">{"".join(stops)}</linearGradient>'
        f'<rect class="confidence" x="{_LEFT}" y="{top:.1f}" width="{pw}" height="5" '
        f'fill="url(#{_esc(gid)})"><title>confidence (darker = higher)</title></rect>'
    )


def kind_colours(kinds: Iterable[str]) -> dict[str, str]:
    """One colour per session kind: fixed for the usual kinds, the rest in sorted order."""
    present = set(kinds)
    colours = {k: c for k, c in KNOWN_KIND_COLOURS.items() if k in present}
    others = sorted(present - colours.keys())
    for i, kind in enumerate(others):
        colours[kind] = _EXTRA_COLOURS[i % len(_EXTRA_COLOURS)]
    return colours


def _utc(time_ns: int) -> str:
    return datetime.fromtimestamp(time_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _package_version() -> str:
    import stresstrack

    version = getattr(stresstrack, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version("stresstrack")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _in_session(time_ns: int, s: Session) -> bool:
    # A row's time is the end of its window: count windows ending inside the session.
    return s.start_ns < time_ns and (s.end_ns is None or time_ns <= s.end_ns)


def _summary(features: list[FeatureRow], stress: list[StressRow], sessions: list[Session]) -> str:
    windows = len({r.time_ns for r in features} | {r.time_ns for r in stress})
    valued = sum(r.index is not None for r in stress)
    share = f"{valued / windows:.0%}" if windows else "–"
    rows = [
        f'<table class="summary"><tr><th>Windows</th><td class="num">{windows}</td></tr>'
        f'<tr><th>With a stress value</th><td class="num">{valued} ({share})</td></tr></table>'
    ]
    if sessions:
        rows.append(
            '<table class="by-kind"><tr><th>Session kind</th><th>Sessions</th>'
            "<th>Windows with a value</th><th>Mean stress index</th></tr>"
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
        rows.append("</table>")
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


def _participant_section(
    n: int,
    participant: str,
    features: list[FeatureRow],
    stress: list[StressRow],
    sessions: list[Session],
    colours: Mapping[str, str],
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
    bands = [
        Band(
            start=minutes(s.start_ns),
            end=x_range[1] if s.end_ns is None else minutes(s.end_ns),
            kind=s.kind,
            colour=colours[s.kind],
            label=" · ".join(p for p in (s.kind, s.mode, s.label) if p),
            tooltip=" · ".join(p for p in (s.kind, s.mode, s.label, s.note) if p)
            + f"\n{_utc(s.start_ns)} – {'open' if s.end_ns is None else _utc(s.end_ns)}",
            open=s.end_ns is None,
        )
        for s in sessions
    ]
    legend = "".join(
        f'<li data-kind="{_esc(k)}"><span class="swatch" style="background:{_esc(colours[k])}">'
        f"</span>{_esc(k)}</li>"
        for k in dict.fromkeys(s.kind for s in sessions)
    )
    legend += (
        "<li>dashed line: 50 = own baseline</li><li>grey strip: confidence (darker = higher)</li>"
    )
    charts = [
        svg_line_chart(
            [minutes(r.time_ns) for r in stress],
            [r.index for r in stress],
            x_range=x_range,
            y_range=(0.0, 100.0),
            title="Stress index",
            chart_id=f"p{n}-stress",
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
                chart_id=f"p{n}-{key}",
                height=80 + (_X_AXIS_PX if last else 0),
                attrs={"data-feature": key},
                bands=shades,
                x_label="min" if last else None,
            )
        )
    return (
        f"{head}<p>Start: {_utc(t0)} (time axis in minutes from the first window)</p>"
        f'<ul class="legend">{legend}</ul>{"".join(charts)}'
        f"{_summary(features, stress, sessions)}{_sessions_table(sessions, minutes)}</section>"
    )


def render_report(store: Store, out: Path, *, title: str = "stresstrack report") -> Path:
    """Write the whole store as one offline HTML page at ``out`` and return its path."""
    participants = store.participants()
    data = [(p, store.features(p), store.stress(p), store.sessions(p)) for p in participants]
    colours = kind_colours(s.kind for *_, sessions in data for s in sessions)
    studies = {r.study for _, f, _, _ in data for r in f}
    studies |= {r.study for _, _, st, _ in data for r in st}
    studies |= {s.study for *_, se in data for s in se}
    study = store.meta("study") or ", ".join(sorted(studies)) or "–"
    versions = ", ".join(sorted({r.version for _, _, st, _ in data for r in st})) or "–"
    sections = [_participant_section(n, *row, colours) for n, row in enumerate(data)]
    if not sections:
        sections = [
            '<p class="empty" id="no-data">No data: this store holds no participants, '
            "features, stress values or sessions yet.</p>"
        ]
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        # Belt and braces for "opens offline": the browser may not fetch anything.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{_esc(title)}</h1><dl class="meta">'
        f'<dt>Study</dt><dd id="study">{_esc(study)}</dd>'
        f'<dt>Participants</dt><dd id="participant-count">{len(participants)}</dd>'
        f'<dt>Stress index version</dt><dd id="index-version">{_esc(versions)}</dd>'
        f'<dt>stresstrack version</dt><dd id="stresstrack-version">{_esc(_package_version())}</dd>'
        f"</dl></header><main>{''.join(sections)}</main></body></html>\n"
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
