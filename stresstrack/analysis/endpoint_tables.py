"""Self-report and lab endpoints as CSV tables (docs/endpoints.md): ``endpoints.csv``, one
row per session with physiology beside self-report and lab values, and ``convergence.csv``,
one row per outcome pair with the within- and between-person correlations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Final

from stresstrack.analysis.convergence import Correlation
from stresstrack.analysis.endpoints import CONVERGENCE_MEASURES, EndpointAnalysis
from stresstrack.analysis.tables import Cell, _write
from stresstrack.export.tables import iso_utc

__all__ = ["ENDPOINT_FILES", "convergence_rows", "endpoint_session_rows", "write_endpoint_tables"]

ENDPOINT_FILES: Final = ("endpoints.csv", "convergence.csv")


def endpoint_session_rows(e: EndpointAnalysis) -> Iterator[list[Cell]]:
    """Per session: physiology and each endpoint before (pre) and after (during), AUCs."""
    names = [*CONVERGENCE_MEASURES, *e.outcomes]
    analytes = [x for x in e.outcomes if not x.startswith("sr_")]
    yield [
        "participant", "kind", "mode", "label", "start", "included",
        *(f"{n}_{p}" for n in names for p in ("pre", "during")),
        *(f"{a}_{k}" for a in analytes for k in ("aucg", "auci")),
        "disagreement",
    ]  # fmt: skip
    for s in e.sessions:
        r, x = s.result, s.result.session
        values: list[Cell] = [r.value(n, p) for n in names for p in ("pre", "during")]
        aucs: list[Cell] = []
        for a in analytes:
            react = s.reactivity.get(a)
            aucs += [None, None] if react is None else [react.aucg, react.auci]
        yield [x.participant, x.kind, x.mode, x.label, iso_utc(x.start_ns), r.included,
               *values, *aucs, s.verdict]  # fmt: skip


def _corr(c: Correlation) -> list[Cell]:
    return [c.r, c.ci[0], c.ci[1], c.p, c.df, c.n_obs, c.n_participants, c.note]


def convergence_rows(e: EndpointAnalysis) -> Iterator[list[Cell]]:
    stats = ("r", "ci_low", "ci_high", "p", "df", "n_obs", "n_participants", "note")
    yield ["outcome", "measure", *(f"within_{s}" for s in stats), *(f"between_{s}" for s in stats)]
    for row in e.convergence:
        yield [row.outcome, row.measure, *_corr(row.within), *_corr(row.between)]


def write_endpoint_tables(e: EndpointAnalysis, out: Path) -> dict[str, int]:
    """Write :data:`ENDPOINT_FILES` into ``out``; rows written per file."""
    out.mkdir(parents=True, exist_ok=True)
    return {
        "endpoints.csv": _write(out / "endpoints.csv", endpoint_session_rows(e)),
        "convergence.csv": _write(out / "convergence.csv", convergence_rows(e)),
    }
