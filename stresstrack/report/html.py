"""One self-contained HTML page per store: the cohort's session effects, and per participant
the stress index, its components, sessions and each session's before / during / after.

The page has inline CSS and SVG drawn here, and no scripts, fonts or URLs, so it opens offline
and can travel with a study's results. The SVG builders take plain lists and are pure; only
``render_report`` reads the store, and it runs the session analysis
(:mod:`stresstrack.analysis`) so the page and ``stresstrack analyze``'s tables agree.
"""

from __future__ import annotations

import html
import importlib.metadata
import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from stresstrack.analysis import (
    Analysis,
    AnalysisSettings,
    PairedStats,
    SessionResult,
    analyze_store,
)
from stresstrack.analysis.effects import NOT_CAUSAL, Effect, StudyEffects
from stresstrack.outputs import private_output
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.sqlite import Store

__all__ = [
    "Band",
    "ForestRow",
    "downsample_minmax",
    "headline",
    "kind_colours",
    "nice_ticks",
    "render_report",
    "split_segments",
    "svg_forest_plot",
    "svg_line_chart",
    "svg_period_bars",
    "y_ticks",
]

Point = tuple[float, float]

MAX_POINTS: Final = 2000  # per line; keeps a day of 5 s windows to a few hundred kB
GAP_FACTOR: Final = 3.0  # a step over 3x the median step is missing data, not a slow window
COMPONENTS: Final = (
    ("mean_hr_bpm", "Heart rate", "bpm"),
    ("rmssd_ms", "RMSSD", "ms"),
    ("scl_us", "SCL", "µS"),
    ("ns_scr_per_min", "SCR rate (≥ 0.05 µS)", "/min"),
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
LABEL_CHAR_PX: Final = 5.6  # average width of a 10 px system-ui character

_CSS: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1000px;color:#222}
section.answer h2{border-top:0;margin-top:.4em}
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
.baseline-implicit{fill-opacity:.08;stroke:#4c78a8;stroke-dasharray:4 3}
.zero-line{stroke:#888;stroke-dasharray:3 3} .forest-label{font-size:12px;fill:#222}
.forest-note{font-size:11px;fill:#555} .group-ci{stroke:#222;stroke-width:2}
.group-mean{fill:#222} .participant-delta{fill-opacity:.55}
.bdp-bar{fill:#777} .bdp-bar[data-period=during]{fill:#54a24b}
tr.excluded td{color:#999} tr.excluded svg{opacity:.4} .reason{font-size:12px;color:#a33}
p.note{font-size:12px;color:#555;max-width:900px}
section.answer{border:2px solid #333;border-radius:6px;padding:.2em 1em .8em;margin-top:1em}
p.headline{font-size:18px;line-height:1.45;margin:.5em 0} p.headline strong{font-size:20px}
p.caveat{background:#fff4e5;border-left:4px solid #e8a33d;padding:.4em .8em;font-size:13px}
p.why{color:#a33;font-size:13px} .missing{color:#a33;font-size:11px}
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
    css: str = ""  # an extra class, e.g. baseline-implicit


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


def y_ticks(lo: float, hi: float, count: int) -> list[float]:
    """:func:`nice_ticks`, with at least two ticks whenever ``hi > lo`` (a panel with a
    single tick has no scale).

    >>> y_ticks(61.2, 63.9, 3)
    [62.0, 63.0]
    >>> [round(t, 6) for t in y_ticks(0.41, 0.47, 2)]
    [0.42, 0.44, 0.46]
    """
    ticks = nice_ticks(lo, hi, count)
    while len(ticks) < 2 and hi > lo and count < 64:
        count *= 2
        ticks = nice_ticks(lo, hi, count)
    return ticks


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
    label_ends = [-math.inf, -math.inf]  # right end of the last label on each of two rows
    title_start = _LEFT + pw - 4 - 1.15 * LABEL_CHAR_PX * len(title)  # the top row's title
    for b in bands:
        left = sx(b.start)
        cls = f"{band_class} {b.css}" if b.css else band_class
        parts.append(
            f'<rect class="{_esc(cls)}" data-kind="{_esc(b.kind)}"'
            f' data-open="{str(b.open).lower()}" x="{left:.1f}" y="{_TOP}"'
            f' width="{max(sx(b.end) - left, 1.0):.1f}" height="{ph}"'
            f' fill="{_esc(b.colour)}"><title>{_esc(b.tooltip or b.kind)}</title></rect>'
        )
        if b.label:
            # Labels on two rows; one that would overlap both is left out (the band's
            # tooltip and the sessions table still name it).
            width_px = LABEL_CHAR_PX * len(b.label) + 6
            row = next(
                (
                    k
                    for k in (0, 1)
                    if left + 3 >= label_ends[k] and (k or left + 3 + width_px <= title_start)
                ),
                None,
            )
            if row is not None:
                label_ends[row] = left + 3 + width_px
                parts.append(
                    f'<text class="band-label" x="{left + 3:.1f}" y="{_TOP + 11 + 12 * row}">'
                    f"{_esc(b.label)}</text>"
                )
    for t in y_ticks(y0, y1, 4 if ph > 100 else 3):
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


@dataclass(frozen=True, slots=True)
class ForestRow:
    """One row of a forest plot: a group's mean change with its interval, and the change of
    each participant (``(participant, value)``)."""

    label: str
    mean: float
    ci: tuple[float, float]
    dots: Sequence[tuple[str, float]]
    note: str = ""
    colour: str = "#222"
    key: str = ""  # data-group attribute


MAX_LABEL_CHARS: Final = 42  # what fits left of a forest plot at 12 px


def _shorten(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters with an ellipsis.

    >>> _shorten("self-care · solo · serum", 12)
    'self-care ·…'
    """
    return text if len(text) <= n else text[: n - 1] + "…"


def _finite(*xs: float) -> list[float]:
    return [x for x in xs if math.isfinite(x)]


def svg_forest_plot(
    rows: Sequence[ForestRow],
    *,
    x_label: str,
    chart_id: str = "forest",
    width: int = WIDTH,
    row_px: int = 30,
) -> str:
    """A forest plot: per row, participants' values as dots, the mean as a square and its
    interval as a line, against a dashed zero line; the row's label left, its note right."""
    label_px, note_px = 290, 290
    x_lo, x_hi = label_px, width - note_px
    values = [0.0]
    for r in rows:
        values += _finite(r.mean, *r.ci) + _finite(*(v for _, v in r.dots))
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.06 or 1.0
    lo, hi = lo - pad, hi + pad
    top, axis_px = 8, 34
    height = top + row_px * max(len(rows), 1) + axis_px

    def sx(x: float) -> float:
        return x_lo + (x - lo) / (hi - lo) * (x_hi - x_lo)

    parts = [
        f'<svg xmlns="{_SVG_NS}" class="chart forest" id="{_esc(chart_id)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_esc(x_label)}">'
    ]
    bottom = top + row_px * max(len(rows), 1)
    for t in nice_ticks(lo, hi, 8):
        x = sx(t)
        parts.append(f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}"/>')
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{bottom + 12}" text-anchor="middle">{t:g}</text>'
        )
    parts.append(
        f'<text class="tick" x="{(x_lo + x_hi) / 2:.1f}" y="{bottom + 28}" '
        f'text-anchor="middle">{_esc(x_label)}</text>'
    )
    x0 = sx(0.0)
    parts.append(f'<line class="zero-line" x1="{x0:.1f}" x2="{x0:.1f}" y1="{top}" y2="{bottom}"/>')
    for i, r in enumerate(rows):
        y = top + row_px * i + row_px / 2
        parts.append(
            f'<g class="forest-row" data-group="{_esc(r.key or r.label)}">'
            f'<text class="forest-label" x="{x_lo - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_esc(_shorten(r.label, MAX_LABEL_CHARS))}<title>{_esc(r.label)}</title></text>"
        )
        for k, (participant, v) in enumerate(r.dots):
            if not math.isfinite(v):
                continue
            jitter = ((k * 7) % 9 - 4) * 1.2  # spread equal values apart, deterministically
            parts.append(
                f'<circle class="participant-delta" data-participant="{_esc(participant)}" '
                f'cx="{sx(v):.1f}" cy="{y + jitter:.1f}" r="3.2" fill="{_esc(r.colour)}">'
                f"<title>{_esc(participant)}: {v:+.2f}</title></circle>"
            )
        if all(math.isfinite(v) for v in r.ci):
            parts.append(
                f'<line class="group-ci" x1="{sx(r.ci[0]):.1f}" x2="{sx(r.ci[1]):.1f}" '
                f'y1="{y:.1f}" y2="{y:.1f}"><title>95% CI {r.ci[0]:+.2f} to {r.ci[1]:+.2f}'
                "</title></line>"
            )
        if math.isfinite(r.mean):
            parts.append(
                f'<rect class="group-mean" x="{sx(r.mean) - 4.5:.1f}" y="{y - 4.5:.1f}" '
                f'width="9" height="9"><title>mean {r.mean:+.2f}</title></rect>'
            )
        parts.append(
            f'<text class="forest-note" x="{x_hi + 8}" y="{y + 4:.1f}">{_esc(r.note)}</text></g>'
        )
    if not rows:
        parts.append(
            f'<text class="empty-panel" x="{(x_lo + x_hi) / 2:.1f}" y="{top + row_px / 2 + 4}" '
            'text-anchor="middle">no sessions to compare</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def svg_period_bars(
    values: Sequence[float | None],
    *,
    labels: Sequence[str] = ("pre", "during", "post"),
    y_range: tuple[float, float] = (0.0, 100.0),
    reference: float | None = 50.0,
    width: int = 132,
    height: int = 46,
) -> str:
    """A small bar chart (before / during / after a session); missing values draw no bar."""
    y0, y1 = y_range
    n = max(len(values), 1)
    slot = width / n
    base = height - 12  # room for the labels

    def sy(y: float) -> float:
        return 2 + (1 - (min(max(y, y0), y1) - y0) / (y1 - y0)) * (base - 2)

    parts = [
        f'<svg xmlns="{_SVG_NS}" class="bdp-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="before, during, after">'
    ]
    for i, (v, name) in enumerate(zip(values, labels, strict=True)):
        x = i * slot + slot * 0.18
        w = slot * 0.64
        if v is not None and math.isfinite(v):
            top = sy(v)
            parts.append(
                f'<rect class="bdp-bar" data-period="{_esc(name)}" x="{x:.1f}" y="{top:.1f}" '
                f'width="{w:.1f}" height="{max(base - top, 1.0):.1f}">'
                f"<title>{_esc(name)}: {v:.1f}</title></rect>"
            )
        parts.append(
            f'<text class="tick" x="{x + w / 2:.1f}" y="{height - 2}" text-anchor="middle">'
            f"{_esc(name if v is not None else name + ' –')}</text>"
        )
    if reference is not None:
        y = sy(reference)
        parts.append(f'<line class="baseline-line" x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "–" if x is None or not math.isfinite(x) else format(x, spec)


def _p(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return "< 0.001" if x < 0.001 else f"{x:.3f}"


def _dz_ci_text(s: PairedStats) -> str:
    """The dz interval, or why there is none."""
    if all(math.isfinite(x) for x in s.dz_ci):
        return f"[{s.dz_ci[0]:.2f}, {s.dz_ci[1]:.2f}]"
    if s.n < 2:
        return f"[none: {s.n} participant]"
    return "[none: every participant changed by the same amount]"


def _note(s: PairedStats) -> str:
    """``n=… · dz … [CI] · Wilcoxon p …`` (or why the interval is missing)."""
    return f"n={s.n} · dz {_fmt(s.dz, '+.2f')} {_dz_ci_text(s)} · Wilcoxon p {_p(s.wilcoxon_p)}"


def _forest_rows(a: Analysis, colours: Mapping[str, str]) -> list[ForestRow]:
    rows = []
    for g in a.groups:
        s = g.during["stress_index"]
        dots = [
            (e.participant, d)
            for e in a.participants
            if e.group == g.key and (d := e.delta("stress_index")) is not None
        ]
        rows.append(
            ForestRow(
                label=g.label,
                mean=s.mean_delta,
                ci=s.mean_ci,
                dots=dots,
                note=_note(s),
                colour=colours.get(g.key[0], "#222"),
                key=g.label,
            )
        )
    return rows


_OUTCOME_NAMES: Final = {
    "stress_index": ("stress index", "points"),
    "hr": ("heart rate", "bpm"),
    "rmssd": ("RMSSD", "ms"),
    "scl": ("skin conductance level", "µS"),
    "scr_rate": ("SCR rate", "/min"),
    "hr_z": ("heart-rate component", "z"),
    "ln_rmssd_z": ("ln RMSSD component", "z"),
    "scl_z": ("SCL component", "z"),
    "scr_rate_z": ("SCR-rate component", "z"),
}


def _ci(ci: tuple[float, float], spec: str = ".1f") -> str:
    return f"{_fmt(ci[0], spec)} to {_fmt(ci[1], spec)}"


def headline(e: Effect, design_control: str) -> str:
    """The primary controlled estimate in plain words.

    >>> from stresstrack.analysis.effects import Effect
    >>> e = Effect("stress_index", "self-care vs rest", -12.3, (-15.0, -9.6), 0.0001, 0.0001,
    ...            -1.5, (-2.2, -0.8), 20, True, True)
    >>> print(headline(e, "rest"))  # doctest: +NORMALIZE_WHITESPACE
    Self-care lowered the stress index by 12.3 points (95 % CI 9.6 to 15.0) more than rest,
    in 20 participants.
    """
    treatment = e.contrast.split(" vs ")[0]
    name, unit = _OUTCOME_NAMES.get(e.outcome, (e.outcome, ""))
    who = f"in {e.n_participants} participant{'s' if e.n_participants != 1 else ''}"
    if not math.isfinite(e.estimate):
        return f"No estimate of {treatment} against {design_control}: {e.note}."
    lo, hi = e.ci
    if lo <= 0 <= hi:
        return (
            f"{treatment.capitalize()} and {design_control} did not differ clearly: the "
            f"{name} was {e.estimate:+.1f} {unit} with {treatment} compared with "
            f"{design_control} (95 % CI {lo:+.1f} to {hi:+.1f}, compatible with no "
            f"difference), {who}."
        )
    verb = "lowered" if e.estimate < 0 else "raised"
    a, b = sorted((abs(lo), abs(hi)))
    return (
        f"{treatment.capitalize()} {verb} the {name} by {abs(e.estimate):.1f} {unit} "
        f"(95 % CI {a:.1f} to {b:.1f}) more than {design_control}, {who}."
    )


def _answer_section(a: Analysis) -> str:
    """The study's answer first: the primary controlled estimate, then secondary outcomes,
    carry-over, for whom, responders."""
    fx: StudyEffects = a.effects
    head = '<section class="answer" id="answer"><h2>The answer</h2>'
    primary = fx.primary
    if primary is None or fx.design is None or fx.design.control is None:
        why = fx.note or "the study names no control condition"
        return (
            head + f'<p class="headline" id="headline">No controlled estimate: {_esc(why)}.</p>'
            f'<p class="caveat" id="not-causal">Every change shown below is during − pre: it '
            f"{_esc(NOT_CAUSAL.split(': ', 1)[1])}.</p></section>"
        )
    control = fx.design.control
    parts = [head, f'<p class="headline" id="headline">{_esc(headline(primary, control))}</p>']
    if math.isfinite(primary.estimate):
        parts.append(
            f'<p class="detail" id="primary-detail">Primary outcome '
            f"<b>{_esc(_OUTCOME_NAMES.get(primary.outcome, (primary.outcome,))[0])}</b>, "
            f"{_esc(primary.contrast)}: estimate "
            f"{primary.estimate:+.2f} (95 % CI {_ci(primary.ci, '+.2f')}), p {_p(primary.p)}, "
            f"dz {_fmt(primary.dz, '+.2f')} (95 % CI {_ci(primary.dz_ci, '+.2f')}, noncentral "
            f"t), {primary.n_participants} participants with both conditions. Linear mixed "
            "model: outcome during the session ~ condition + period + the pre-session value, "
            f"random intercept per participant; t test on {primary.df:g} df."
            + (
                f" Equivalence within ±{fx.design.smallest_effect:g} (TOST): p "
                f"{_p(primary.tost_p)}."
                if fx.design.smallest_effect is not None
                else ""
            )
            + "</p>"
        )
    for c in fx.carryover:
        verdict = (
            "<b>flagged</b>: the effect of the first block may linger into the second; "
            "interpret with care"
            if c.flagged
            else "not flagged"
        )
        why = f" ({_esc(c.note)})" if c.note else ""
        parts.append(
            f'<p class="note" id="carryover">Carry-over check ({_esc(c.treatment)} × period): '
            f"p {_p(c.p)}, {verdict} at p &lt; 0.10{why}. The check has little power "
            "(it compares participants between orders).</p>"
        )
    secondary = [e for e in fx.effects if e.controlled and not e.primary]
    if secondary:
        parts.append(
            '<h3>Secondary outcomes</h3><table class="secondary"><tr><th>Outcome</th>'
            "<th>Contrast</th><th>Estimate (95% CI)</th><th>p</th><th>p, Holm</th>"
            "<th>dz (95% CI)</th><th>n</th></tr>"
        )
        for e in secondary:
            name, unit = _OUTCOME_NAMES.get(e.outcome, (e.outcome, ""))
            missing = f'<div class="missing">{_esc(e.note)}</div>' if e.note else ""
            parts.append(
                f'<tr data-outcome="{_esc(e.outcome)}"><td>{_esc(name)} ({_esc(unit)})</td>'
                f'<td>{_esc(e.contrast)}</td><td class="num">{_fmt(e.estimate, "+.2f")} '
                f'({_ci(e.ci, "+.2f")}){missing}</td><td class="num">{_p(e.p)}</td>'
                f'<td class="num">{_p(e.p_adjusted)}</td><td class="num">'
                f"{_fmt(e.dz, '+.2f')} ({_ci(e.dz_ci, '+.2f')})</td>"
                f'<td class="num">{e.n_participants}</td></tr>'
            )
        parts.append(
            '</table><p class="note">Holm-adjusted across the secondary outcomes of each '
            "contrast; the primary outcome is tested alone.</p>"
        )
    parts.append("<h3>For whom</h3>")
    if not fx.breakdowns:
        parts.append(
            '<p class="note" id="no-breakdown">One way of doing each condition and no study '
            "arms: nothing to break down. Differences between kinds, modes or arms are "
            "tested as an interaction (does the effect differ?), not by separate tests.</p>"
        )
    for b in fx.breakdowns:
        parts.append(
            f'<table class="breakdown" data-moderator="{_esc(b.moderator)}"><tr><th>'
            f"{_esc(b.treatment)} by {_esc(b.moderator)}</th><th>Effect vs {_esc(control)} "
            "(95% CI)</th><th>n</th></tr>"
        )
        for lv in b.levels:
            parts.append(
                f'<tr><td>{_esc(lv.name)}</td><td class="num">{_fmt(lv.estimate, "+.2f")} '
                f'({_ci(lv.ci, "+.2f")})</td><td class="num">{lv.n_participants}</td></tr>'
            )
        parts.append(
            f'</table><p class="note">Interaction test (does the effect differ by '
            f"{_esc(b.moderator)}?): p {_p(b.p_interaction)}"
            + (f" ({_esc(b.note)})" if b.note else "")
            + "</p>"
        )
    if fx.responders:
        parts.append(
            '<h3>Responders</h3><p class="note" id="responders">'
            + ", ".join(f"{_esc(k)}: {v}" for k, v in fx.responder_counts().items())
            + ". A participant's difference (condition − control, adjusted for period and "
            "pre value) counts as a reliable change when it exceeds 1.96 times its standard "
            "error from the model's residual variance (Jacobson &amp; Truax 1991).</p>"
            '<table class="responders"><tr><th>Participant</th><th>Difference</th>'
            "<th>Reliable change index</th><th>Classification</th></tr>"
        )
        for r in fx.responders:
            parts.append(
                f'<tr data-participant="{_esc(r.participant)}"><td>{_esc(r.participant)}</td>'
                f'<td class="num">{r.difference:+.1f}</td><td class="num">{_fmt(r.rci, "+.2f")}'
                f"</td><td>{_esc(r.category)}</td></tr>"
            )
        parts.append("</table>")
    return "".join(parts) + "</section>"


def _cohort_section(a: Analysis, colours: Mapping[str, str]) -> str:
    st = a.settings
    head = (
        '<section class="cohort" id="cohort"><h2>Before / during / after each session '
        "(not causal)</h2>"
        '<p class="caveat" id="cohort-caveat">During − pre includes natural recovery and time '
        "effects and is not a causal estimate: these changes describe what happened, not what "
        "the session caused (recovery from a stressor, for one, appears here as calming). The "
        "controlled answer, where the study has a control, is above.</p>"
        f'<p class="note">Change of the stress index from the {st.pre_s / 60:g} min before each '
        f"session to the session (during − pre), one value per participant (the mean of their "
        f"sessions of the group). Square: mean with its 95 % confidence interval (t); dots: "
        f"participants. dz: Cohen's d of the paired changes, with its exact 95 % interval "
        f"(noncentral t). A window counts when it lies wholly inside a period and has an index "
        f"of confidence ≥ {st.min_confidence:g}; sessions with less than {st.min_coverage:.0%} "
        f"of such windows before or during are excluded.</p>"
    )
    if not a.sessions:
        return head + '<p id="no-sessions">No sessions other than baselines.</p></section>'
    forest = svg_forest_plot(
        _forest_rows(a, colours), x_label="change in stress index (index points), during − pre"
    )
    table = [
        '<table class="effects"><tr><th>Group</th><th>n</th><th>Pre</th><th>During</th>'
        "<th>Δ during (95% CI)</th><th>dz (95% CI)</th><th>Wilcoxon p</th><th>t test p</th>"
        "<th>Δ post (95% CI)</th><th>Sessions</th><th>Excluded</th></tr>"
    ]
    for g in a.groups:
        d, p = g.during["stress_index"], g.post["stress_index"]
        post = (
            f"{_fmt(p.mean_delta, '+.1f')} ({_fmt(p.mean_ci[0])}, {_fmt(p.mean_ci[1])})"
            if p.n
            else '– <span class="missing">no session with post values</span>'
        )
        table.append(
            f'<tr data-group="{_esc(g.label)}"><td>{_esc(g.label)}</td>'
            f'<td class="num">{d.n}</td><td class="num">{_fmt(d.mean_before)}</td>'
            f'<td class="num">{_fmt(d.mean_after)}</td>'
            f'<td class="num">{_fmt(d.mean_delta, "+.1f")} ({_fmt(d.mean_ci[0])}, '
            f'{_fmt(d.mean_ci[1])})</td><td class="num">{_fmt(d.dz, "+.2f")} '
            f"{_esc(_dz_ci_text(d))}</td>"
            f'<td class="num">{_esc(_p(d.wilcoxon_p))}</td>'
            f'<td class="num">{_esc(_p(d.ttest_p))}</td>'
            f'<td class="num">{post}</td><td class="num">{g.sessions}</td>'
            f'<td class="num excluded-count">{g.excluded}</td></tr>'
        )
    table.append(
        '</table><p class="note">Pre and During here are the means of the windows the '
        "analysis counts (wholly inside the period, confident index); the per-participant "
        "tables further down also give the mean of every window ending in a session, which "
        "can differ.</p>"
    )
    excluded = [r for r in a.sessions if not r.included]
    if excluded:
        table.append(
            f'<h3>Excluded sessions ({len(excluded)})</h3><table class="exclusions">'
            "<tr><th>Participant</th><th>Session</th><th>Start</th><th>Reason</th></tr>"
        )
        for r in excluded:
            table.append(
                f'<tr data-participant="{_esc(r.session.participant)}">'
                f"<td>{_esc(r.session.participant)}</td><td>{_esc(_session_label(r.session))}"
                f'</td><td>{_utc(r.session.start_ns)}</td><td class="reason">{_esc(r.reason)}'
                "</td></tr>"
            )
        table.append("</table>")
    else:
        table.append('<p class="note" id="no-exclusions">No session was excluded.</p>')
    return head + forest + "".join(table) + "</section>"


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
    if times and not any(s.kind == "baseline" for s in sessions):
        end = (IMPLICIT_BASELINE_S - FIRST_WINDOW_S) / 60
        bands.insert(
            0,
            Band(
                start=0.0,
                end=min(end, x_range[1]),
                kind="baseline",
                colour=colours.get("baseline", KNOWN_KIND_COLOURS["baseline"]),
                label="baseline (first 5 min)",
                tooltip="No baseline session is marked: the stress index takes the windows "
                "of the first 5 minutes of data as baseline (the pipeline's default --baseline)",
                css="baseline-implicit",
            ),
        )
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
        f"{_summary(features, stress, sessions, min_confidence)}"
        f"{_sessions_table(sessions, minutes)}{_periods_table(results, minutes)}</section>"
    )


def render_report(
    store: Store,
    out: Path,
    *,
    title: str = "stresstrack report",
    settings: AnalysisSettings | None = None,
    arms: Mapping[str, str] | None = None,
) -> Path:
    """Write the whole store as one offline HTML page at ``out`` and return its path.

    ``settings`` and ``arms`` go to the session analysis (defaults: ``AnalysisSettings()``
    and the arms the store recorded).
    """
    participants = store.participants()
    data = [(p, store.features(p), store.stress(p), store.sessions(p)) for p in participants]
    analysis = analyze_store(store, settings, arms=arms)
    by_participant: dict[str, list[SessionResult]] = {}
    for r in analysis.sessions:
        by_participant.setdefault(r.session.participant, []).append(r)
    colours = kind_colours(s.kind for *_, sessions in data for s in sessions)
    studies = {r.study for _, f, _, _ in data for r in f}
    studies |= {r.study for _, _, st, _ in data for r in st}
    studies |= {s.study for *_, se in data for s in se}
    study = store.meta("study") or ", ".join(sorted(studies)) or "–"
    versions = ", ".join(sorted({r.version for _, _, st, _ in data for r in st})) or "–"
    protocol = store.meta("protocol")
    conf = analysis.settings.min_confidence
    sections = [
        _participant_section(n, *row, colours, by_participant.get(row[0], []), conf)
        for n, row in enumerate(data)
    ]
    if sections:
        sections.insert(0, _cohort_section(analysis, colours))
        sections.insert(0, _answer_section(analysis))
    else:
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
        + (f'<dt>Protocol</dt><dd id="protocol">{_esc(protocol)}</dd>' if protocol else "")
        + f'<dt>Participants</dt><dd id="participant-count">{len(participants)}</dd>'
        f'<dt>Stress index version</dt><dd id="index-version">{_esc(versions)}</dd>'
        f'<dt>stresstrack version</dt><dd id="stresstrack-version">{_esc(_package_version())}</dd>'
        f"</dl></header><main>{''.join(sections)}</main></body></html>\n"
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with private_output(out) as f:
        f.write(page)
    return out
