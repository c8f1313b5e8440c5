"""The report's days section: per participant whose data span two days or more, an hour ×
day heat map of the stress index (sleep and sessions marked), the nightly references and the
daily stress load (:mod:`stresstrack.days`, docs/days.md).

Pure builders from a :class:`~stresstrack.days.DaysResult` to inline SVG/HTML; the page
itself (:mod:`stresstrack.report.html`) calls :func:`days_sections` and adds nothing else.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Final, cast

import numpy as np
import pandas as pd

from stresstrack.days import STATES, DaysResult
from stresstrack.days.cosinor import clock
from stresstrack.days.minutes import MINUTE_NS

__all__ = [
    "DAYS_CSS",
    "MIN_SPAN_DAYS",
    "days_sections",
    "stress_colour",
    "svg_heat_map",
    "svg_load_bars",
]

MIN_SPAN_DAYS: Final = 2.0
WIDTH: Final = 960
_LEFT, _RIGHT, _TOP, _ROW, _AXIS = 92, 16, 4, 20, 22
_CALM, _STRESS = (76, 120, 168), (228, 87, 86)  # the report's baseline blue, stressor red
_NO_DATA: Final = "#eeeeee"
SLEEP_COLOUR: Final = "#1f2a44"
DAYS_CSS: Final = """
.heat-cell{stroke:#fff;stroke-width:.5} .sleep-bar{fill:#1f2a44}
.session-mark{fill:none;stroke-width:2} .load-bar{fill:#e45756} .load-label{font-size:10px}
.days-scale{font-size:10px;fill:#666}
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def stress_colour(index: float) -> str:
    """Blue below the baseline (50), white at it, red at and above 75 (the index's alarm level,
    the load threshold's cap).

    >>> stress_colour(50.0), stress_colour(75.0), stress_colour(10.0)
    ('#ffffff', '#e45756', '#4c78a8')
    """
    if not math.isfinite(index):
        return _NO_DATA
    share = min(1.0, abs(index - 50.0) / 25.0)
    end = _STRESS if index >= 50 else _CALM
    rgb = (round(255 + (c - 255) * share) for c in end)
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _hourly(r: DaysResult) -> tuple[list[date], dict[tuple[date, int], float]]:
    """Hourly means of the confident index, active minutes left out (as in the load)."""
    local = r.minutes.local()
    stress = np.where(r.states == STATES.index("active"), np.nan, r.minutes.stress)
    frame = pd.DataFrame({"v": stress, "d": local.date, "h": local.hour})
    means = frame.dropna().groupby(["d", "h"])["v"].mean()
    dates = sorted(set(local.date))
    cells = {}
    for key, v in means.items():
        d, h = cast(tuple[date, int], key)
        cells[(d, int(h))] = float(v)
    return dates, cells


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) minute indices of runs of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _grid(r: DaysResult, dates: list[date]) -> tuple[np.ndarray, np.ndarray]:
    """Row and x (px) of every minute on the heat map."""
    local = r.minutes.local()
    row_of = {d: i for i, d in enumerate(dates)}
    rows = np.array([row_of[d] for d in local.date], dtype=np.int64)
    cell = (WIDTH - _LEFT - _RIGHT) / 24
    return rows, _LEFT + (np.asarray(local.hour) + np.asarray(local.minute) / 60) * cell


def _bar(grid: tuple[np.ndarray, np.ndarray], lo: int, hi: int, cls: str, extra: str = "") -> str:
    """Marks of minutes ``lo``-``hi`` split at local midnights, one rect per row."""
    rows, xs = grid
    minute_px = (WIDTH - _LEFT - _RIGHT) / 24 / 60
    out = []
    for row in sorted(set(rows[lo:hi].tolist())):
        inside = np.flatnonzero(rows[lo:hi] == row) + lo
        x0, x1 = float(xs[inside[0]]), float(xs[inside[-1]]) + minute_px
        y = _TOP + row * _ROW
        if cls == "sleep-bar":
            out.append(f'<rect class="sleep-bar" x="{x0:.1f}" y="{y + _ROW - 5}" '
                       f'width="{x1 - x0:.1f}" height="4"{extra}/>')  # fmt: skip
        else:
            out.append(f'<rect class="{cls}" x="{x0:.1f}" y="{y + 1}" '
                       f'width="{max(2.0, x1 - x0):.1f}" height="{_ROW - 2}"{extra}/>')  # fmt: skip
    return "".join(out)


def svg_heat_map(r: DaysResult, colours: Mapping[str, str]) -> str:
    """Hour × day of the mean stress index; sleep as a dark bar under each row; sessions as
    outlines in their kind's colour."""
    dates, cells = _hourly(r)
    cell = (WIDTH - _LEFT - _RIGHT) / 24
    height = _TOP + len(dates) * _ROW + _AXIS
    parts = [f'<svg class="chart heat-map" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
             f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="stress index by hour and day">']  # fmt: skip
    for row, d in enumerate(dates):
        y = _TOP + row * _ROW
        parts.append(f'<text class="tick" x="{_LEFT - 6}" y="{y + _ROW - 6}" '
                     f'text-anchor="end">{d:%a %d %b}</text>')  # fmt: skip
        for h in range(24):
            v = cells.get((d, h), math.nan)
            title = f"{d} {h:02d}:00 " + (f"index {v:.0f}" if math.isfinite(v) else "no data")
            parts.append(f'<rect class="heat-cell" x="{_LEFT + h * cell:.1f}" y="{y}" '
                         f'width="{cell:.1f}" height="{_ROW}" fill="{stress_colour(v)}" '
                         f'data-hour="{h}"><title>{_esc(title)}</title></rect>')  # fmt: skip
    grid = _grid(r, dates)
    for lo, hi in _spans(r.asleep):
        parts.append(_bar(grid, lo, hi, "sleep-bar"))
    for s in r.sessions:
        end = s.end_ns if s.end_ns is not None else s.start_ns + MINUTE_NS
        lo = max(0, (s.start_ns - r.minutes.start_ns) // MINUTE_NS)
        hi = min(r.minutes.n, -(-(end - r.minutes.start_ns) // MINUTE_NS))
        if hi > lo:
            colour = colours.get(s.kind, "#333")
            extra = f' stroke="{colour}" data-kind="{_esc(s.kind)}"'
            parts.append(_bar(grid, int(lo), int(hi), "session-mark", extra))
    y = _TOP + len(dates) * _ROW + 14
    parts += [f'<text class="tick" x="{_LEFT + h * cell:.1f}" y="{y}" text-anchor="middle">'
              f"{h:02d}</text>" for h in range(0, 25, 3)]  # fmt: skip
    return "".join(parts) + "</svg>"


def svg_load_bars(r: DaysResult) -> str:
    """Stressed minutes per day, one bar each, labelled with minutes and episodes."""
    days = list(r.days)
    top = max([d.load_min for d in days] + [60])
    plot_h, bar_w = 120, min(90.0, (WIDTH - _LEFT - _RIGHT) / max(1, len(days)))
    height = plot_h + 40
    parts = [f'<svg class="chart load-bars" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
             f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-label="daily stress load">']  # fmt: skip
    for i, d in enumerate(days):
        h = plot_h * d.load_min / top
        x = _LEFT + i * bar_w + bar_w * 0.15
        parts.append(f'<rect class="load-bar" x="{x:.1f}" y="{12 + plot_h - h:.1f}" '
                     f'width="{bar_w * 0.7:.1f}" height="{max(h, 0.5):.1f}" '
                     f'data-minutes="{d.load_min}"/>')  # fmt: skip
        mid = x + bar_w * 0.35
        parts.append(f'<text class="load-label" x="{mid:.1f}" y="{8 + plot_h - h:.1f}" '
                     f'text-anchor="middle">{d.load_min} min, {d.episodes} ep.</text>')  # fmt: skip
        parts.append(f'<text class="tick" x="{mid:.1f}" y="{plot_h + 28}" '
                     f'text-anchor="middle">{d.date:%a %d %b}</text>')  # fmt: skip
    return "".join(parts) + "</svg>"


def _nights_table(r: DaysResult) -> str:
    tz = r.minutes.tz
    rows = []
    for n in r.nights:
        start = pd.Timestamp(n.start_ns, unit="ns", tz="UTC").tz_convert(tz)
        end = pd.Timestamp(n.end_ns, unit="ns", tz="UTC").tz_convert(tz)
        hr = "–" if math.isnan(n.hr_bpm) else f"{n.hr_bpm:.1f}"
        rmssd = "–" if math.isnan(n.rmssd_ms) else f"{n.rmssd_ms:.1f}"
        rows.append(f"<tr><td>{n.date:%a %d %b}</td><td>{start:%H:%M}–{end:%H:%M}</td>"
                    f'<td class="num">{n.sleep_min}</td><td>{_esc(n.source)}</td>'
                    f'<td class="num">{hr}</td><td class="num">{rmssd}</td></tr>')  # fmt: skip
    if not rows:
        return '<p class="note">No night found (no accelerometer and no sleep sessions).</p>'
    return ('<table class="nights"><tr><th>night ending</th><th>sleep period</th>'
            "<th>asleep (min)</th><th>from</th><th>resting HR (bpm)</th><th>RMSSD (ms)</th></tr>"
            + "".join(rows) + "</table>")  # fmt: skip


def _rhythm_text(r: DaysResult) -> str:
    parts = []
    for name, c, unit in (("HR", r.hr, " bpm"), ("stress index", r.stress, "")):
        if c is None:
            continue
        lo, hi = c.acrophase_ci
        ci = f" (95 % CI {clock(lo)}–{clock(hi)})" if math.isfinite(lo) else ""
        parts.append(f"{name} peaks at {clock(c.acrophase_h)}{ci}, MESOR {c.mesor:.1f}{unit}, "
                     f"amplitude {c.amplitude:.1f}{unit}")  # fmt: skip
    st = r.stability.get("activity")
    if st is not None and math.isfinite(st.is_):
        parts.append(f"activity IS {st.is_:.2f}, IV {st.iv:.2f}")
    return "; ".join(parts) + "." if parts else "Not enough data for a 24-h rhythm."


def _thresholds_text(r: DaysResult) -> str:
    values = sorted({round(d.load_threshold, 1) for d in r.days})
    if not values:
        return ""
    span = f"{values[0]:g}" if len(values) == 1 else f"{values[0]:g}–{values[-1]:g}"
    return f" (load threshold {span}: this participant's own per day, docs/days.md)"


def _participant(n: int, r: DaysResult, colours: Mapping[str, str]) -> str:
    kinds = sorted({s.kind for s in r.sessions})
    legend = "".join(f'<li><span class="swatch" style="background:{colours.get(k, "#333")}">'
                     f"</span>{_esc(k)}</li>" for k in kinds)  # fmt: skip
    scale = "".join(f'<li><span class="swatch" style="background:{stress_colour(v)};opacity:1">'
                    f"</span>{v:.0f}</li>" for v in (25, 40, 50, 60, 75))  # fmt: skip
    return (
        f'<section class="days" id="days-{n}" data-participant="{_esc(r.participant)}">'
        f"<h2>Days: participant {_esc(r.participant)}</h2>"
        f'<p class="rhythm">{r.span_days:.1f} days ({_esc(r.minutes.tz)}). '
        f"{_esc(_rhythm_text(r))}</p>"
        f'<ul class="legend">{scale}<li><span class="swatch" style="background:{SLEEP_COLOUR};'
        f'opacity:1"></span>asleep</li>{legend}</ul>'
        f"{svg_heat_map(r, colours)}"
        '<p class="note">Hourly mean of the stress index (windows of enough confidence; '
        "minutes of physical activity left out); grey: no data.</p>"
        f"<h3>Nights</h3>{_nights_table(r)}"
        f"<h3>Daily stress load</h3>{svg_load_bars(r)}"
        '<p class="note">Minutes per day inside stress episodes: the smoothed index at or above '
        f"the load threshold{_esc(_thresholds_text(r))}, exercise and the minutes after it "
        "left out; and the stress episodes that started that day.</p></section>"
    )


def days_sections(results: Sequence[DaysResult], colours: Mapping[str, str]) -> str:
    """The days section of every participant whose data span ≥ 2 days ("" when none)."""
    shown = [r for r in results if r.span_days >= MIN_SPAN_DAYS]
    return "".join(_participant(n, r, colours) for n, r in enumerate(shown))
