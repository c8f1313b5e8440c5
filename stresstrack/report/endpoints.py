"""The report's "Body and mind" section and the convergence summary ``analyze`` prints:
per session, physiology beside self-report and lab values, where they disagree, and how
closely they go together within and between people (docs/endpoints.md)."""

from __future__ import annotations

import html
import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

from stresstrack.analysis.convergence import Correlation
from stresstrack.analysis.endpoints import INDEX_CHANGE, VAS_CHANGE, EndpointAnalysis
from stresstrack.export.tables import iso_utc

__all__ = ["endpoints_section", "format_convergence", "svg_within_scatter"]

_NAMES: Final = {"stress_index": "stress index", "hr": "HR", "rmssd": "RMSSD", "scl": "SCL"}


def _f(x: float | None, spec: str = ".1f") -> str:
    return "–" if x is None or not math.isfinite(x) else format(x, spec)


def _name(x: str) -> str:
    return _NAMES.get(x, x.removeprefix("sr_") + (" (self-report)" if x.startswith("sr_") else ""))


def _corr(c: Correlation) -> str:
    if not math.isfinite(c.r):
        return f"– ({c.note})"
    return f"{c.r:+.2f} [{c.ci[0]:+.2f}, {c.ci[1]:+.2f}], n={c.n_obs}/{c.n_participants}"


def format_convergence(e: EndpointAnalysis) -> str:
    """Text lines: within- and between-person correlation per outcome pair."""
    lines = ["", "body and mind (repeated-measures r within people; r of means between):"]
    for row in e.convergence:
        lines.append(
            f"  {_name(row.outcome)} ~ {_name(row.measure)}: within {_corr(row.within)}; "
            f"between {_corr(row.between)}"
        )
    flagged = [s for s in e.sessions if s.verdict]
    lines.append(f"  sessions where body and self-report disagree: {len(flagged)}")
    return "\n".join(lines)


def _session_rows(e: EndpointAnalysis) -> str:
    analytes = [x for x in e.outcomes if not x.startswith("sr_")]
    items = [x for x in e.outcomes if x.startswith("sr_")]
    head = (
        "<tr><th>Participant</th><th>Session</th><th>Start (UTC)</th><th>Δ stress index</th>"
        "<th>Δ HR (bpm)</th>"
        + "".join(f"<th>{html.escape(_name(i))} before → after</th>" for i in items)
        + "".join(f"<th>{html.escape(a)} AUCi</th>" for a in analytes)
        + "<th>Body and mind</th></tr>"
    )
    rows = []
    for s in e.sessions:
        r, x = s.result, s.result.session
        cells = [x.participant, " · ".join(v for v in (x.kind, x.mode, x.label) if v),
                 iso_utc(x.start_ns)[:16], _f(r.delta("stress_index"), "+.1f"),
                 _f(r.delta("hr"), "+.1f")]  # fmt: skip
        cells += [
            f"{_f(r.value(i, 'pre'), '.0f')} → {_f(r.value(i, 'during'), '.0f')}" for i in items
        ]
        for a in analytes:
            react = s.reactivity.get(a)
            cells.append(_f(react.auci if react else None, ".0f"))
        cells.append(s.verdict or "agree")
        cls = ' class="disagree"' if s.verdict else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    return f'<table class="endpoints" id="endpoint-sessions">{head}{"".join(rows)}</table>'


def svg_within_scatter(obs: Sequence[tuple[str, float, float]], x_label: str, y_label: str) -> str:
    """Each participant's observations around their own means (what the repeated-measures
    correlation sees), one colour per participant, as an inline SVG."""
    by: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for who, y, x in obs:
        by[who].append((x, y))
    points = []
    for k, (_who, xy) in enumerate(sorted(by.items())):
        mx, my = statistics.fmean(a for a, _ in xy), statistics.fmean(b for _, b in xy)
        points += [(a - mx, b - my, k) for a, b in xy]
    if not points:
        return ""
    w, h, pad = 360, 260, 36
    sx = max(abs(a) for a, _, _ in points) or 1.0
    sy = max(abs(b) for _, b, _ in points) or 1.0

    def px(a: float) -> float:
        return pad + (a / sx + 1) / 2 * (w - 2 * pad)

    def py(b: float) -> float:
        return h - pad - (b / sy + 1) / 2 * (h - 2 * pad)

    dots = "".join(
        f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="hsl({(k * 47) % 360},60%,45%)" '
        'fill-opacity=".7"/>'
        for a, b, k in points
    )
    axes = (
        f'<line x1="{pad}" y1="{py(0):.1f}" x2="{w - pad}" y2="{py(0):.1f}" stroke="#bbb"/>'
        f'<line x1="{px(0):.1f}" y1="{pad}" x2="{px(0):.1f}" y2="{h - pad}" stroke="#bbb"/>'
        f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle" font-size="11">'
        f"{html.escape(x_label)} (own mean = 0)</text>"
        f'<text x="12" y="{h / 2}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 12 {h / 2})">{html.escape(y_label)} (own mean = 0)</text>'
    )
    return (
        f'<svg class="chart scatter" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'role="img" aria-label="{html.escape(y_label)} against {html.escape(x_label)}, '
        f'within people">{axes}{dots}</svg>'
    )


def _scatters(e: EndpointAnalysis) -> str:
    charts = []
    for row in e.convergence:  # the pairs with a within-person correlation, against the index
        obs = e.pairs.get((row.outcome, row.measure))
        if row.measure == "stress_index" and obs and math.isfinite(row.within.r):
            charts.append(svg_within_scatter(obs, "stress index", _name(row.outcome)))
    return (
        f'<div class="scatters" style="display:flex;flex-wrap:wrap;gap:1em">{"".join(charts)}</div>'
    )


def endpoints_section(e: EndpointAnalysis) -> str:
    """The "Body and mind" HTML section."""
    conv = "".join(
        f'<tr data-pair="{html.escape(r.outcome)}~{html.escape(r.measure)}">'
        f"<td>{html.escape(_name(r.outcome))}</td><td>{html.escape(_name(r.measure))}</td>"
        f"<td>{html.escape(_corr(r.within))}</td><td>{html.escape(_corr(r.between))}</td></tr>"
        for r in e.convergence
    )
    flagged = sum(1 for s in e.sessions if s.verdict)
    return (
        '<section id="body-and-mind"><style>tr.disagree td{background:#fff4e5}</style>'
        "<h2>Body and mind</h2>"
        "<p>Self-report and lab values beside physiology. Before → after: the answers given "
        "just before the session and just after it; AUCi: the lab value's area under the "
        "curve above its first sample over the lagged session (Pruessner et al. 2003). "
        f"<b>{flagged}</b> session(s) where the stress index changed by at least "
        f"{INDEX_CHANGE:g} points and self-reported stress by at least {VAS_CHANGE:g} points "
        "in a different direction (or one moved and the other did not).</p>"
        f"{_session_rows(e)}"
        "<h3>How closely they go together</h3>"
        f"{_scatters(e)}"
        '<table class="convergence" id="convergence"><tr><th>Outcome</th><th>Measure</th>'
        "<th>Within people (rm-corr, 95% CI)</th><th>Between people (r of means)</th></tr>"
        f"{conv}</table>"
        '<p class="note">Within people: the repeated-measures correlation (Bakdash &amp; '
        "Marusich 2017), free of differences between people; between people: the "
        "correlation of the participants' means. Each answer is paired with the physiology "
        "of the minutes before it, each lab sample with that before its time minus the lag."
        "</p></section>"
    )
