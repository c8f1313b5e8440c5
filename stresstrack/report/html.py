"""One self-contained HTML page per store: the cohort's session effects, and per participant
the stress index, its components, sessions and each session's before / during / after.

The page has inline CSS and SVG, and no scripts, fonts or URLs, so it opens offline and can
travel with a study's results. The SVG builders (:mod:`~stresstrack.report.charts`,
:mod:`~stresstrack.report.forest`) take plain lists and are pure; the participant sections are
in :mod:`~stresstrack.report.participant`. Only ``render_report`` reads the store, and it runs
the session analysis (:mod:`stresstrack.analysis`) so the page and ``stresstrack analyze``'s
tables agree.

The page opens with the study's answer (:mod:`~stresstrack.report.answer`), then the
cohort's before / during / after, the endpoints, the participants and the days.
"""

from __future__ import annotations

import importlib.metadata
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from stresstrack.analysis import (
    Analysis,
    AnalysisSettings,
    PairedStats,
    SessionResult,
    analyze_store,
)
from stresstrack.endpoints.config import EndpointConfig
from stresstrack.outputs import private_output
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.report.answer import _p, answer_section, headline
from stresstrack.report.charts import _esc, _fmt, kind_colours
from stresstrack.report.days import DAYS_CSS
from stresstrack.report.endpoints import endpoints_section
from stresstrack.report.forest import ForestRow, svg_forest_plot
from stresstrack.report.participant import _participant_section, _session_label, _utc
from stresstrack.store.sqlite import Store

__all__ = ["headline", "render_report"]

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
    return head + forest + _effects_table(a) + _exclusions(a) + "</section>"


def _effects_table(a: Analysis) -> str:
    """One row per group: n, pre, during, the change with its interval, dz, tests, post."""
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
    return "".join(table)


def _exclusions(a: Analysis) -> str:
    """The sessions the analysis left out, and why."""
    table: list[str] = []
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
    return "".join(table)


def _package_version() -> str:
    import stresstrack

    version = getattr(stresstrack, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return importlib.metadata.version("stresstrack")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _days_hook(store: Store, colours: Mapping[str, str], tz: str) -> str:
    """The days section (stresstrack/report/days.py) of multi-day participants, else ""."""
    from stresstrack.days import DaysSettings, profile
    from stresstrack.report.days import days_sections

    settings = DaysSettings(tz=tz)
    results = [profile(store, p, settings) for p in store.participants()]
    return days_sections(results, colours)


def render_report(
    store: Store,
    out: Path,
    *,
    title: str = "stresstrack report",
    settings: AnalysisSettings | None = None,
    arms: Mapping[str, str] | None = None,
    endpoints: EndpointConfig | None = None,
    unblind: Mapping[str, str] | None = None,
    extra_sections: Sequence[str] = (),
    tz: str = "UTC",
) -> Path:
    """Write the whole store as one offline HTML page at ``out`` and return its path.

    ``settings``, ``arms`` and ``unblind`` (a blinded study's key, code -> name) go to the
    session analysis (defaults: ``AnalysisSettings()`` and the arms the store recorded);
    ``extra_sections`` (HTML, e.g. :mod:`stresstrack.report.audit`) follow the cohort;
    ``tz`` gives the clock hours of the days section.
    """
    from stresstrack.blinding import rename_sessions

    participants = store.participants()
    data = [
        (p, store.features(p), store.stress(p), rename_sessions(store.sessions(p), unblind or {}))
        for p in participants
    ]
    analysis = analyze_store(store, settings, arms=arms, endpoints=endpoints, unblind=unblind)
    by_participant: dict[str, list[SessionResult]] = {}
    for r in analysis.sessions:
        by_participant.setdefault(r.session.participant, []).append(r)
    colours = kind_colours(s.kind for *_, sessions in data for s in sessions)
    conf = analysis.settings.min_confidence
    sections = [
        _participant_section(n, *row, colours, by_participant.get(row[0], []), conf)
        for n, row in enumerate(data)
    ]
    if sections:
        head = [answer_section(analysis), _cohort_section(analysis, colours)]
        if analysis.endpoints is not None:  # self-report and lab values (docs/endpoints.md)
            head.append(endpoints_section(analysis.endpoints))
        sections[0:0] = [*head, *extra_sections]
        sections.append(_days_hook(store, colours, tz))
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
        f"<title>{_esc(title)}</title><style>{_CSS}{DAYS_CSS}</style></head><body>"
        f"{_header(store, title, data, unblind)}<main>{''.join(sections)}</main></body></html>\n"
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with private_output(out) as f:
        f.write(page)
    return out


def _header(
    store: Store,
    title: str,
    data: Sequence[tuple[str, list[FeatureRow], list[StressRow], list[Session]]],
    unblind: Mapping[str, str] | None,
) -> str:
    """The page's title and what it shows: study, protocol, blinding, participants, versions."""
    studies = {r.study for _, f, _, _ in data for r in f}
    studies |= {r.study for _, _, st, _ in data for r in st}
    studies |= {s.study for *_, se in data for s in se}
    study = store.meta("study") or ", ".join(sorted(studies)) or "–"
    versions = ", ".join(sorted({r.version for _, _, st, _ in data for r in st})) or "–"
    protocol = store.meta("protocol")
    return (
        f'<header><h1>{_esc(title)}</h1><dl class="meta">'
        f'<dt>Study</dt><dd id="study">{_esc(study)}</dd>'
        + (f'<dt>Protocol</dt><dd id="protocol">{_esc(protocol)}</dd>' if protocol else "")
        + _blinding_meta(store.meta("blinding"), unblind)
        + f'<dt>Participants</dt><dd id="participant-count">{len(data)}</dd>'
        f'<dt>Stress index version</dt><dd id="index-version">{_esc(versions)}</dd>'
        f'<dt>stresstrack version</dt><dd id="stresstrack-version">{_esc(_package_version())}</dd>'
        "</dl></header>"
    )


def _blinding_meta(codes: str | None, unblind: Mapping[str, str] | None) -> str:
    """The header line of a blinded study: codes shown, or the names they stood for."""
    if not codes:
        return ""
    text = (
        "unblinded: " + ", ".join(f"{c} = {n}" for c, n in unblind.items())
        if unblind
        else f"blinded: arms and labels are codes ({codes.replace(',', ', ')})"
    )
    return f'<dt>Arms</dt><dd id="blinding">{_esc(text)}</dd>'
