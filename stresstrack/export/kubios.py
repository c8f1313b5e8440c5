"""RR intervals in the text layout Kubios HRV reads, and Kubios RR text files read back.

Export (``stresstrack export STORE --kubios DIR``, one ``<participant>_rr.txt`` each): the RR
series stresstrack analysed, after its artefact correction (the Lipponen & Tarvainen 2019
method Kubios uses, ``pipeline/beats.py``), with a flag per interval::

    # stresstrack RR export for Kubios HRV
    # participant: P001
    # study: calm-2026
    # start: 2026-01-05T09:00:00.000000Z
    # Corrected: 1 = this interval was changed (moved, inserted, merged) by the correction;
    # Segment: 1 = first interval after a gap in the data
    Time (s)	RR (ms)	Corrected	Segment
    0.812	812.0	0	1

Kubios HRV opens it as a custom ASCII file (RR column 2, in ms; 7 header lines; tab
separated). ``Time`` is seconds since ``start``.

Import (``stresstrack replay FILE --format kubios``, :func:`read_rr_text`): Kubios's own RR
text exports and the common plain layouts: one column of RR intervals, or columns under a
header naming ``time`` and ``rr``/``ibi``; units from the header (``(s)``, ``(ms)``), else
seconds when the median is below 10. Lines starting with ``#`` or holding no number are
headers. Beat times come from the time column, else from the running sum of intervals; the
date from a ``# start:`` line, else ``replay --start``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from stresstrack.events import Beat
from stresstrack.export.tables import iso_utc
from stresstrack.files import write_private
from stresstrack.pipeline.beats import CleanBeat, KubiosCorrector
from stresstrack.replay.kubios import KUBIOS_HEADER  # the header its reader recognises
from stresstrack.store.sqlite import Store

__all__ = ["KUBIOS_HEADER", "export_kubios", "kubios_path", "kubios_text"]

NS: Final = 1_000_000_000
COLUMNS: Final = ("Time (s)", "RR (ms)", "Corrected", "Segment")


def corrected_beats(beats: Sequence[Beat]) -> list[CleanBeat]:
    """The beats after the pipeline's artefact correction, with their flags."""
    corrector = KubiosCorrector()
    out: list[CleanBeat] = []
    for b in beats:
        out.extend(corrector.add(b.time_ns, b.rr_ms))
    out.extend(corrector.flush())
    return out


def kubios_text(participant: str, study: str, beats: Sequence[CleanBeat]) -> str:
    """The export file's text (see the module's documentation)."""
    start = beats[0].time_ns - round(beats[0].rr_ms * 1e6) if beats else 0
    lines = [
        KUBIOS_HEADER,
        f"# participant: {participant}",
        f"# study: {study}",
        f"# start: {iso_utc(start)}",
        "# Corrected: 1 = this interval was changed (moved, inserted, merged) by the correction;",
        "# Segment: 1 = first interval after a gap in the data",
        "\t".join(COLUMNS),
    ]
    for b in beats:
        lines.append(
            f"{(b.time_ns - start) / NS:.3f}\t{b.rr_ms:.1f}\t{int(b.corrected)}\t"
            f"{int(b.segment_start)}"
        )
    return "\n".join(lines) + "\n"


def kubios_path(out: Path, participant: str) -> Path:
    """The file :func:`export_kubios` writes for ``participant`` in folder ``out``."""
    return out / f"{participant}_rr.txt"


def export_kubios(store: Store, out: Path, participant: str | None = None) -> list[Path]:
    """One ``<participant>_rr.txt`` per participant with beats; returns the files."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    files = []
    for pid in [participant] if participant else store.participants():
        beats = [e for e in store.iter_events(pid) if isinstance(e, Beat)]
        if not beats:
            continue
        beats.sort(key=lambda b: b.time_ns)
        study = beats[0].study
        path = kubios_path(out, pid)
        write_private(path, kubios_text(pid, study, corrected_beats(beats)))
        files.append(path)
    return files
