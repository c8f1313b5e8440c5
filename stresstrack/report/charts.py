"""The report's chart toolkit: SVG line charts with gaps, bands and a confidence strip,
their axes and ticks, and the colours of session kinds. Pure: plain lists in, SVG text out.

``svg_line_chart`` draws a panel as layers over one plot frame: the session bands and their
labels, the grid and ticks, the baseline, the confidence strip, the line.
"""

from __future__ import annotations

import html
import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "Band",
    "downsample_minmax",
    "kind_colours",
    "nice_ticks",
    "split_segments",
    "svg_line_chart",
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


@dataclass(frozen=True, slots=True)
class _Frame:
    """A panel's plot area: data ranges, its size in px, and the mapping between them."""

    x0: float
    x1: float
    y0: float
    y1: float
    pw: int  # plot width and height in px
    ph: int

    def sx(self, x: float) -> float:
        return _LEFT + (min(max(x, self.x0), self.x1) - self.x0) / (self.x1 - self.x0) * self.pw

    def sy(self, y: float) -> float:
        return (
            _TOP + (1 - (min(max(y, self.y0), self.y1) - self.y0) / (self.y1 - self.y0)) * self.ph
        )


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
    f = _Frame(x0, x1, y0, y1, width - _LEFT - _RIGHT, height - _TOP - bottom)
    parts = [
        f'<svg xmlns="{_SVG_NS}" class="chart" id="{_esc(chart_id)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">'
    ]
    parts += _band_layer(f, bands, band_class, title)
    parts += _grid_layer(f, height, x_label)
    if reference is not None:
        y = f.sy(reference)
        parts.append(
            f'<line class="baseline-line" x1="{_LEFT}" x2="{_LEFT + f.pw}"'
            f' y1="{y:.1f}" y2="{y:.1f}"/>'
        )
    if confidence:
        parts.append(_confidence_strip(xs, ys, confidence, chart_id, f.sx, _TOP + f.ph + 3, f.pw))
    parts += _line_layer(f, segments, line_class, attrs or {})
    parts.append(
        f'<text class="panel-title" x="{_LEFT + f.pw - 4}" y="{_TOP + 12}" text-anchor="end">'
        f"{_esc(title)}</text></svg>"
    )
    return "".join(parts)


def _band_layer(f: _Frame, bands: Sequence[Band], band_class: str, title: str) -> list[str]:
    """The shaded sessions and their labels, on two rows left of the panel's title."""
    parts: list[str] = []
    label_ends = [-math.inf, -math.inf]  # right end of the last label on each of two rows
    title_start = _LEFT + f.pw - 4 - 1.15 * LABEL_CHAR_PX * len(title)  # the top row's title
    for b in bands:
        left = f.sx(b.start)
        cls = f"{band_class} {b.css}" if b.css else band_class
        parts.append(
            f'<rect class="{_esc(cls)}" data-kind="{_esc(b.kind)}"'
            f' data-open="{str(b.open).lower()}" x="{left:.1f}" y="{_TOP}"'
            f' width="{max(f.sx(b.end) - left, 1.0):.1f}" height="{f.ph}"'
            f' fill="{_esc(b.colour)}"><title>{_esc(b.tooltip or b.kind)}</title></rect>'
        )
        if not b.label:
            continue
        # Labels on two rows; one that would overlap both is left out (the band's tooltip and
        # the sessions table still name it).
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
    return parts


def _grid_layer(f: _Frame, height: int, x_label: str | None) -> list[str]:
    """Grid lines and tick labels (the x ones only with an ``x_label``)."""
    parts: list[str] = []
    for t in y_ticks(f.y0, f.y1, 4 if f.ph > 100 else 3):
        y = f.sy(t)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_LEFT + f.pw}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="tick" x="{_LEFT - 4}" y="{y + 3:.1f}" text-anchor="end">{t:g}</text>'
        )
    for t in nice_ticks(f.x0, f.x1, 10):
        x = f.sx(t)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_TOP + f.ph}"/>'
        )
        if x_label is not None:
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{height - 8}" text-anchor="middle">{t:g}</text>'
            )
    if x_label is not None:
        parts.append(
            f'<text class="tick" x="{_LEFT - 4}" y="{height - 8}" text-anchor="end">'
            f"{_esc(x_label)}</text>"
        )
    return parts


def _line_layer(
    f: _Frame, segments: Sequence[Sequence[Point]], line_class: str, attrs: Mapping[str, str]
) -> list[str]:
    """The line, one path broken at the gaps (``no values`` when there is none)."""
    d = "".join(
        "M"
        + "L".join(f"{f.sx(x):.1f},{f.sy(y):.1f}" for x, y in seg)
        + ("h0" if len(seg) == 1 else "")
        for seg in segments
    )
    n = sum(len(seg) for seg in segments)
    extra = "".join(f' {_esc(k)}="{_esc(v)}"' for k, v in attrs.items())
    parts = [
        f'<path class="{line_class}" data-points="{n}" data-segments="{len(segments)}"{extra}'
        f' d="{d}"/>'
    ]
    if n == 0:
        parts.append(
            f'<text class="empty-panel" x="{_LEFT + f.pw / 2:.1f}" y="{_TOP + f.ph / 2 + 4:.1f}" '
            'text-anchor="middle">no values</text>'
        )
    return parts


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


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "–" if x is None or not math.isfinite(x) else format(x, spec)


def kind_colours(kinds: Iterable[str]) -> dict[str, str]:
    """One colour per session kind: fixed for the usual kinds, the rest in sorted order."""
    present = set(kinds)
    colours = {k: c for k, c in KNOWN_KIND_COLOURS.items() if k in present}
    others = sorted(present - colours.keys())
    for i, kind in enumerate(others):
        colours[kind] = _EXTRA_COLOURS[i % len(_EXTRA_COLOURS)]
    return colours
