"""The InfluxDB sink: a replica of the store that catches up after any outage.

influxdb-client's batching writer keeps its buffer in memory and drops a batch when its
retry time runs out, so it is not used: a background thread tails the store's outbox
(:mod:`stresstrack.sinks.outbox`) and writes each batch with the client's **synchronous**
write API. A batch is acknowledged (its cursor moved in the store) only after a 2xx;
429, 5xx and connection errors are retried with capped backoff and no time limit
(``Retry-After`` honoured); 400/413/422 split the batch until the rejected lines are
isolated and kept as dead letters with the server's message. The collector only ever writes
to SQLite; nothing here can slow it down or lose its data. See docs/schema.md. The target,
the writer and what a failed write means are :mod:`stresstrack.sinks.influx_client`.

The token is never printed or logged: it is kept out of ``repr`` and removed from any text
a message is built from.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from stresstrack.backoff import Backoff
from stresstrack.errors import StressTrackError
from stresstrack.sinks.influx_client import (
    InfluxTarget,
    InfluxWriteError,
    InfluxWriter,
    Writer,
)
from stresstrack.sinks.outbox import Batch, Outbox
from stresstrack.store.sqlite import Store

if TYPE_CHECKING:
    pass

__all__ = [
    "InfluxSink",
    "SinkReport",
    "sync_store",
]

WRITE_BACKOFF: Final = Backoff(first_s=0.5, max_s=30.0)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SinkReport:
    """Where a sink stands: what it delivered, what waits in the store, the last error."""

    target: InfluxTarget
    store: Path
    shipped_points: int
    queued_points: int
    dead_points: int
    error: InfluxWriteError | None
    failure: str = ""  # the sink could not run at all (store unreadable...)

    @property
    def delivered(self) -> bool:
        return self.queued_points == 0 and not self.failure

    def summary(self) -> str:
        """One or two lines for the user; never contains the token."""
        if self.failure:
            head = f"InfluxDB sink stopped: {self.failure}"
        elif self.queued_points == 0:
            head = (
                f"InfluxDB {self.target.describe()}: {self.shipped_points} points sent, "
                "everything in the store is delivered"
            )
        else:
            refused = self.error is not None and self.error.kind == "refused"
            why = f" ({self.error})" if self.error is not None else ""
            head = (
                f"InfluxDB {'refused the writes' if refused else 'unreachable'}, "
                f"{self.queued_points} points queued in {self.store}{why}"
            )
        lines = [head]
        if not self.delivered:
            lines.append("  they stay in the store until a sync of it sends them (sync_store)")
        if self.dead_points:
            lines.append(
                f"  {self.dead_points} points were rejected by InfluxDB; they are kept with the "
                "server's message in the store's dead_letters table"
            )
        return "\n".join(lines)


class InfluxSink:
    """Ships a store to InfluxDB from a background thread; see the module docstring."""

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        target: InfluxTarget,
        *,
        batch_points: int = 5000,
        poll_s: float = 0.25,
        backoff: Backoff = WRITE_BACKOFF,
        writer_factory: Callable[[InfluxTarget], Writer] = InfluxWriter,
    ) -> None:
        self.store_path = Path(store_path)
        self.target = target
        self.raw = target.raw
        self.batch_points = batch_points
        self.poll_s = poll_s
        self.backoff = backoff
        self._writer_factory = writer_factory
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Guarded by _cond:
        self._shipped = 0
        self._dead = 0
        self._error: InfluxWriteError | None = None
        self._failure = ""
        self._last_progress = time.monotonic()
        self._drain_gen = 0
        self._caught_up_gen = -1
        self._draining = False

    # -- control (any thread) ----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the sink is already started")
        self._thread = threading.Thread(target=self._run, name="influx-sink", daemon=True)
        self._thread.start()

    def drain(self, wait_s: float) -> bool:
        """Wait until everything stored so far is delivered; give up after ``wait_s`` seconds
        without progress. Returns whether it is all delivered. The sink keeps running."""
        with self._cond:
            self._drain_gen += 1
            gen = self._drain_gen
            self._draining = True
        self._wake.set()
        start = time.monotonic()
        try:
            with self._cond:
                while True:
                    if self._caught_up_gen >= gen:
                        return True
                    if self._thread is None or not self._thread.is_alive():
                        return False
                    remaining = wait_s - (time.monotonic() - max(start, self._last_progress))
                    if remaining <= 0:
                        return False
                    self._cond.wait(min(remaining, 0.1))
        finally:
            with self._cond:
                self._draining = False

    def stop(self) -> None:
        """Stop the thread (after the request in flight, if any)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    def close(self, wait_s: float) -> SinkReport:
        """Drain for at most ``wait_s`` s without progress, stop, and report."""
        if self._thread is not None:
            self.drain(wait_s)
        self.stop()
        return self.report()

    def report(self) -> SinkReport:
        queued = 0
        with self._cond:
            failure = self._failure
        try:
            with Store(self.store_path, readonly=True) as store:
                queued = Outbox(store, self.target.name, raw=self.raw).pending_points()
        except StressTrackError as exc:
            failure = failure or str(exc)
        except Exception as exc:  # a report must not fail: the data is in the store anyway
            failure = failure or f"cannot read {self.store_path}: {exc}"
        with self._cond:
            return SinkReport(
                target=self.target,
                store=self.store_path,
                shipped_points=self._shipped,
                queued_points=queued,
                dead_points=self._dead,
                error=self._error if queued else None,
                failure=failure,
            )

    # -- the thread --------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with Store(self.store_path) as store:
                outbox = Outbox(
                    store, self.target.name, batch_points=self.batch_points, raw=self.raw
                )
                writer = self._writer_factory(self.target)
                try:
                    self._loop(outbox, writer)
                finally:
                    writer.close()
        except Exception as exc:
            text = self.target.hide(f"{type(exc).__name__}: {exc}")
            log.error("InfluxDB sink stopped: %s; the data stays in the store", text)
            with self._cond:
                self._failure = text
                self._cond.notify_all()

    def _loop(self, outbox: Outbox, writer: Writer) -> None:
        positions = outbox.positions()
        failures = 0
        while not self._stop.is_set():
            with self._cond:
                gen = self._drain_gen
            self._wake.clear()
            try:
                shipped = self._round(outbox, writer, positions)
            except InfluxWriteError as err:
                failures += 1
                self._set_error(err, failures)
                with self._cond:
                    draining = self._draining
                delay = self.backoff.delay(failures, retry_after=err.retry_after)
                if err.retry_after is not None:
                    # The server asked for this wait: new data or a drain request must not cut
                    # it short (only stopping does).
                    self._stop.wait(delay)
                    continue
                if draining:
                    delay = min(delay, 1.0)  # a command is waiting to exit: retry soon
                self._wake.wait(delay)
                continue
            if failures:
                log.warning("InfluxDB %s is reachable again, catching up", self.target.describe())
                failures = 0
                with self._cond:
                    self._error = None
            if shipped == 0:
                with self._cond:
                    self._caught_up_gen = gen
                    self._cond.notify_all()
                self._wake.wait(self.poll_s)

    def _round(self, outbox: Outbox, writer: Writer, positions: dict[str, int]) -> int:
        """One batch of every stream that has one; returns how many batches were sent."""
        sent = 0
        for stream in outbox.streams:
            if self._stop.is_set():
                break
            batch = outbox.next_batch(stream, positions[stream])
            if batch is None:
                continue
            dead: list[tuple[int, int, str, str]] = []
            if batch.lines:
                self._send(writer, batch, 0, len(batch.lines), dead)
            outbox.ack(batch, dead, time.time_ns())
            positions[stream] = batch.last
            sent += 1
            with self._cond:
                self._shipped += len(batch.lines) - len(dead)
                self._dead += len(dead)
                self._last_progress = time.monotonic()
                self._cond.notify_all()
            if dead:
                log.warning(
                    "InfluxDB rejected %d points of %s (first: %s); kept in dead_letters",
                    len(dead),
                    stream,
                    dead[0][2],
                )
        return sent

    def _send(
        self, writer: Writer, batch: Batch, lo: int, hi: int, dead: list[tuple[int, int, str, str]]
    ) -> None:
        """Write lines ``lo:hi``; on a rejection, split until the bad lines are alone."""
        try:
            writer.write(batch.lines[lo:hi])
        except InfluxWriteError as err:
            if err.kind != "rejected":
                raise
            if hi - lo == 1:
                dead.append((batch.positions[lo], err.status or 0, err.message, batch.lines[lo]))
                return
            mid = (lo + hi) // 2
            self._send(writer, batch, lo, mid, dead)
            self._send(writer, batch, mid, hi, dead)

    def _set_error(self, err: InfluxWriteError, failures: int) -> None:
        with self._cond:
            self._error = err
        if failures == 1:
            what = "refused the writes" if err.kind == "refused" else "is unreachable"
            log.warning(
                "InfluxDB %s %s (%s); retrying, the data is kept in the store",
                self.target.describe(),
                what,
                err,
            )


def sync_store(
    store_path: str | os.PathLike[str],
    target: InfluxTarget,
    *,
    wait_s: float = 10.0,
    **options: Any,
) -> SinkReport:
    """Ship everything of the store not yet in ``target``; give up after ``wait_s`` s
    without progress."""
    path = Path(store_path)
    if not path.exists():
        raise StressTrackError(f"{path}: no such store")
    sink = InfluxSink(path, target, **options)
    sink.start()
    return sink.close(wait_s)
