"""The sink every source writes to: raw events to the store, then through the pipeline.

Events are stored first, in batches (one transaction each), in the order they arrived; the
pipeline sees them in that same order, so replaying a store reproduces its results exactly.

Other processes may append events to the same store while a recorder runs: ``stresstrack
mark`` from another terminal adds a session marker (SQLite's WAL lets a second writer in).
A recorder that stores raw events and runs a pipeline follows the store: every
:meth:`Recorder.flush` (``collect`` flushes once a second) also reads the events stored since
its last look, tells its own rows from the others' (its own batch is one transaction, so a
contiguous run of rows equal to the events it wrote), and feeds the others' events of its
participants to the pipeline, in store (id) order, without storing them again. The pipeline
therefore sees exactly the order a replay of the store gives.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from stresstrack.errors import EventError
from stresstrack.events import EVENT_TYPE_NAMES, Event, Marker
from stresstrack.limits import check_event
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.store.codec import event_from_payload
from stresstrack.store.sqlite import EventRow, Quarantined, Store

if TYPE_CHECKING:  # the engine (scipy) loads when a pipeline is built, not for --help
    from stresstrack.pipeline.engine import Output, Pipeline

__all__ = ["Recorder", "process_isolated", "split_outputs"]

log = logging.getLogger(__name__)

READ_BATCH: Final = 5000  # stored rows read per query when following the store

_Key = tuple[str, int, str, str, str]  # (type, time_ns, participant, study, device)


def split_outputs(
    outputs: Sequence[Output],
) -> tuple[list[FeatureRow], list[StressRow], list[Session]]:
    features = [o for o in outputs if isinstance(o, FeatureRow)]
    stress = [o for o in outputs if isinstance(o, StressRow)]
    sessions = [o for o in outputs if isinstance(o, Session)]
    return features, stress, sessions


def process_isolated(
    pipeline: Pipeline,
    events: Iterable[Event],
    on_error: Callable[[Event, Exception], object] | None = None,
) -> list[Output]:
    """Run ``events`` through ``pipeline`` one by one; an event the pipeline cannot process
    is reported to ``on_error`` (and logged) and the next one goes on: one bad event never
    stops a long-running process."""
    out: list[Output] = []
    for event in events:
        try:
            out.extend(pipeline.process_many([event]))  # what subclasses count
        except Exception as exc:  # per-event isolation (issue 16): anything, then go on
            log.error("the pipeline could not process %r: %s: %s", event, type(exc).__name__, exc)
            if on_error is not None:
                on_error(event, exc)
    return out


def _key(e: Event) -> _Key:
    return (EVENT_TYPE_NAMES[type(e)], e.time_ns, e.participant, e.study, e.device)


def _row_key(r: EventRow) -> _Key:
    _id, type_name, time_ns, participant, study, device, _payload = r
    return (type_name, time_ns, participant, study, device)


def _decode(r: EventRow) -> Event:
    _id, type_name, time_ns, participant, study, device, payload = r
    return event_from_payload(type_name, time_ns, participant, study, device, payload)


class Recorder:
    """Stores raw events (unless ``store_raw`` is false, as in replay) and runs the pipeline.

    ``participants``: whose events written by other processes the pipeline is fed, besides
    the participants of the events this recorder writes itself (learnt as they come).
    ``checked``: every event given was already held to the limits (``check_event`` without a
    clock) by the caller, as replay does while it reads, so they are not checked again.
    """

    def __init__(
        self,
        store: Store,
        pipeline: Pipeline | None,
        *,
        batch: int = 256,
        store_raw: bool = True,
        participants: Iterable[str] = (),
        live: bool = False,
        source: str = "recorder",
        idempotent: bool = False,
        checked: bool = False,
    ) -> None:
        self.store = store
        self.checked = checked and not live  # a live check needs this machine's clock
        self.live = live  # events must not be ahead of this machine's clock (limits)
        self.source = source  # how quarantined events name where they came from
        self.quarantined = 0
        self.pipeline = pipeline
        self.batch = batch
        self.store_raw = store_raw
        self._pending: list[Event] = []
        self.events = 0
        self.results = 0
        self.external = 0  # events other processes stored that the pipeline was fed
        self.following = store_raw and pipeline is not None
        # Events already in the store belong to earlier runs: follow from here on.
        last = store.last_positions()["events"]
        self._cursor = last if self.following else 0
        # A replay run again: events an earlier run stored are not stored twice.
        self._stored_by = last if idempotent else None
        self._participants = set(participants)
        self._held: list[Marker] = []  # others' markers of participants not (yet) ours

    def emit(self, events: Sequence[Event]) -> None:
        self._pending.extend(events)
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self, meta: Mapping[str, str] | None = None) -> None:
        """Store what is pending and run it, with what other processes stored, through the
        pipeline in store order; ``meta`` is written in the same transaction as the events."""
        pending = self._pending if self.checked else self._checked(self._pending)
        self._pending = []
        stored = pending
        if self.store_raw and meta:
            stored = self.store.add_events(pending, unless_stored_by=self._stored_by, meta=meta)
        elif self.store_raw and pending and self._stored_by is None:
            self.store.add_events(pending)  # the plain call: store subclasses in tests override it
        elif self.store_raw and pending:
            stored = self.store.add_events(pending, unless_stored_by=self._stored_by)
        self.events += len(pending)
        if self.pipeline is None:
            return
        batch = self._with_external(pending, stored) if self.following else pending
        if batch:
            self._write(process_isolated(self.pipeline, batch, self._failed))

    def _checked(self, events: list[Event]) -> list[Event]:
        """The events within the limits; the others go to the store's quarantine."""
        now = time.time_ns()
        good: list[Event] = []
        bad: list[Quarantined] = []
        for e in events:
            try:
                good.append(check_event(e, now_ns=now if self.live else None))
            except EventError as exc:
                log.error("%s: event refused: %s", self.source, exc)
                bad.append(Quarantined(now, self.source, str(e.participant), str(exc), repr(e)))
        if bad:
            self.quarantined += len(bad)
            self.store.quarantine(bad)
        return good

    def _failed(self, event: Event, exc: Exception) -> None:
        reason = f"stored, but the pipeline could not process it ({type(exc).__name__}: {exc})"
        self.quarantined += 1
        self.store.quarantine(
            [Quarantined(time.time_ns(), self.source, event.participant, reason, repr(event))]
        )

    def poll_external(self) -> int:
        """Flush, and feed the pipeline the events other processes stored since the last look
        (e.g. a ``stresstrack mark``); returns how many were fed. ``flush`` does the same;
        call this about once a second when nothing else flushes."""
        before = self.external
        self.flush()
        return self.external - before

    def close(self) -> None:
        """Flush what is pending and let the pipeline finish its last windows."""
        self.flush()
        if self.pipeline is not None:
            try:
                outputs = self.pipeline.finish()
            except Exception as exc:  # per-event isolation: the results so far are kept
                log.error("the pipeline could not finish: %s: %s", type(exc).__name__, exc)
                outputs = []
            self._write(outputs)

    def _write(self, outputs: Sequence[Output]) -> None:
        if outputs:
            self.results += len(outputs)
            self.store.add_results(*split_outputs(outputs))

    # -- following the store -----------------------------------------------------------------
    def _rows_after_cursor(self) -> list[EventRow]:
        rows: list[EventRow] = []
        while True:
            page = self.store.event_rows_after(rows[-1][0] if rows else self._cursor, READ_BATCH)
            rows.extend(page)
            if len(page) < READ_BATCH:
                return rows

    def _own_block(self, rows: list[EventRow], pending: list[Event]) -> int | None:
        """Where the rows just written for ``pending`` start in ``rows`` (one transaction, so
        contiguous), or ``None`` if they cannot be found."""
        n = len(pending)
        keys = [_key(e) for e in pending]
        for k in range(len(rows) - n + 1):
            if _row_key(rows[k]) == keys[0] and [_row_key(r) for r in rows[k : k + n]] == keys:
                return k
        return None

    def _with_external(self, pending: list[Event], stored: list[Event]) -> list[Event]:
        """``pending`` with the events others stored around it (``stored``: those of
        ``pending`` this flush wrote), in store order."""
        new = {e.participant for e in pending} - self._participants
        self._participants |= new
        rows = self._rows_after_cursor()
        if not rows:
            return pending
        self._cursor = rows[-1][0]
        before, after = rows, []
        if stored:
            start = self._own_block(rows, stored)
            if start is None:
                # Cannot happen with one writer per transaction; never feed an event twice.
                log.warning("own rows not found in the store; external events fed first")
                own = {_key(e) for e in stored}
                before = [r for r in rows if _row_key(r) not in own]
            else:
                before, after = rows[:start], rows[start + len(stored) :]
        out: list[Event] = []
        if new and self._held:
            released = [m for m in self._held if m.participant in new]
            self._held = [m for m in self._held if m.participant not in new]
            self.external += len(released)
            out += released
        out += self._external(before)
        out += pending
        out += self._external(after)
        return out

    def _external(self, rows: Iterable[EventRow]) -> list[Event]:
        out: list[Event] = []
        for r in rows:
            try:
                event = _decode(r)
            except EventError as exc:  # another process stored it; never fatal here
                log.error("stored event %d skipped: %s", r[0], exc)
                continue
            if event.participant in self._participants:
                out.append(event)
                self.external += 1
            elif isinstance(event, Marker):
                self._held.append(event)  # e.g. `mark` before the first data arrived
        return out
