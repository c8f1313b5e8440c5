"""The report's fairness-audit section (``report --study FILE``): group aggregates only."""

from __future__ import annotations

import html
import math
from pathlib import Path

from stresstrack.analysis.audit import AuditResult
from stresstrack.analysis.sessions import AnalysisSettings
from stresstrack.store.sqlite import Store

__all__ = ["audit_html", "audit_section"]

_WHY = (
    "Optical heart-rate sensors may work less well on some skin (Bent et al. 2020, npj "
    "Digital Medicine 3:18, found their error driven by activity more than skin tone; "
    "Fallow et al. 2013 measured less reflected green light on darker skin), and some "
    "people show little or no electrodermal response (Dawson, Schell & Filion 2007): a "
    "group whose signals are excluded more often, or whose index is less confident, gets "
    "less from the study. Flagged: the 95 % CI excludes 0 and the difference reaches the "
    "metric's bound (docs/endpoints.md)."
)


def _n(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:+.3g}"


def audit_html(result: AuditResult) -> str:
    """The section's HTML."""
    rows = []
    for c in result.comparisons:
        d = c.difference
        flag = "FLAGGED" if c.flagged else ""
        cells = (
            f"{c.attribute}: {c.group} vs {c.other}", c.label, _n(d.estimate),
            f"[{_n(d.ci[0])}, {_n(d.ci[1])}]", f"{c.bound:g}", flag, c.note,
        )  # fmt: skip
        cls = ' class="flagged"' if c.flagged else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(x)}</td>" for x in cells) + "</tr>")
    groups = "; ".join(
        f"{a}: " + ", ".join(f"{v} ({len(p)})" for v, p in sorted(vals.items()))
        for a, vals in result.groups.items()
    )
    notes = "".join(f"<p>{html.escape(n)}</p>" for n in result.notes)
    head = "".join(
        f"<th>{h}</th>" for h in ("Groups", "Metric", "Difference", "95 % CI", "Bound", "", "Note")
    )
    return (
        '<section id="fairness-audit"><h2>Fairness audit</h2>'
        "<style>#fairness-audit tr.flagged td{background:#fde2e1;font-weight:600}</style>"
        f"<p>{html.escape(_WHY)}</p><p>Groups: {html.escape(groups or 'none')}. "
        f"{len(result.flagged)} of {len(result.comparisons)} comparisons flagged.</p>{notes}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def audit_section(store_path: Path, study: Path, settings: AnalysisSettings) -> str:
    """The audit of ``store_path`` grouped by ``study``'s attributes, as a report section."""
    from dataclasses import replace

    from stresstrack.analysis.audit_store import store_audit
    from stresstrack.attributes import load_attributes

    if not load_attributes(study):
        return ""  # an open study file without attributes: no audit
    with Store(store_path, readonly=True) as store:
        return audit_html(store_audit(store, study, replace(settings, boot=0)))
