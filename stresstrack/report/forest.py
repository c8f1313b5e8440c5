"""The report's effect charts: a forest plot (one row per participant and the group mean,
with intervals) and before / during / after period bars. Pure: plain rows in, SVG text out.

Size (issue 17): ``svg_forest_plot`` is one SVG template (axis, zero line, per row the dots,
mean, interval, label and note) over one coordinate mapping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from stresstrack.report.charts import _SVG_NS, WIDTH, _esc, nice_ticks

__all__ = ["ForestRow", "svg_forest_plot", "svg_period_bars"]


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
