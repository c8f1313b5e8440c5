"""The fairness audit of a store and a study file (``stresstrack audit``, ``report --study``)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Final

from stresstrack.analysis.audit import AuditResult, audit, participant_quality
from stresstrack.analysis.sessions import AnalysisSettings, analyze_store
from stresstrack.outputs import csv_safe, private_output
from stresstrack.store.sqlite import Store

__all__ = ["AUDIT_COLUMNS", "store_audit", "write_audit"]

AUDIT_COLUMNS: Final = (
    "attribute", "group", "other", "metric", "estimate", "ci_low", "ci_high", "group_value",
    "other_value", "n_group", "n_other", "bound", "flagged", "note", "label",
)  # fmt: skip


def store_audit(
    store: Store, study_path: Path, settings: AnalysisSettings | None = None
) -> AuditResult:
    """Every participant's quality counts, grouped by the study file's attributes."""
    from stresstrack.attributes import load_attributes
    from stresstrack.companion.prompts import PROMPT
    from stresstrack.companion.settings import PromptRule, load_companion

    settings = settings or AnalysisSettings(boot=0)
    attributes = load_attributes(study_path)
    rule = load_companion(study_path).prompt or PromptRule()
    qualities = [
        participant_quality(
            p,
            store.stress(p),
            store.features(p),
            store.sessions(p),
            store.iter_events(p, types=("beat", "marker")),  # beats and prompts only
            min_confidence=settings.min_confidence,
            high=(rule.threshold, rule.min_confidence),
            prompt_kind=PROMPT,
        )
        for p in store.participants()
        if p in attributes
    ]
    return audit(qualities, attributes, analyze_store(store, settings))


def _cell(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.6g}"


def write_audit(result: AuditResult, path: Path) -> int:
    """audit.csv: one row per comparison (group aggregates only); returns the row count."""
    with private_output(path, newline="") as f:
        w = csv.writer(f)
        w.writerow(AUDIT_COLUMNS)
        for c in result.comparisons:
            d = c.difference
            w.writerow(
                [csv_safe(x) for x in (c.attribute, c.group, c.other, c.metric)]
                + [_cell(d.estimate), _cell(d.ci[0]), _cell(d.ci[1]), _cell(d.a), _cell(d.b)]
                + [str(d.n_a), str(d.n_b), f"{c.bound:g}", str(c.flagged).lower()]
                + [csv_safe(c.note), csv_safe(c.label)]
            )
    return len(result.comparisons)
