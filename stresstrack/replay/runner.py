"""Running replays: one recording, a group sharing participants, a folder in parallel.

Every recording goes through the same :class:`~stresstrack.runtime.Runtime` (store, then
:class:`~stresstrack.pipeline.engine.Pipeline`) as live data. Several recordings run in
parallel processes (one group at a time per worker), each writing its own temporary store;
the parent then copies them into the output store in the order the recordings were found.
The result is the same as replaying them one after the other, because

* the pipeline keeps its state per participant, and recordings that share a participant are
  put in one group and replayed in order by one worker, with one pipeline, as a sequential
  replay would;
* the copies are made in recording order, so raw events keep their sequential order and a
  result row written by two recordings ends with the later one's value.

A recording that fails keeps what was read before the error (it is stored and processed),
is reported, and does not stop the others.
"""

# Size (issue 17): over 400 lines because the process pool (_replay_parallel and its task,
# worker init and copy helpers) and the sequential runner call each other (a pool task runs
# replay_group; replay_recordings starts the pool): moving the pool out makes an import cycle.

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from stresstrack.errors import EventError, StressTrackError
from stresstrack.events import Event
from stresstrack.limits import check_event
from stresstrack.pipeline.engine import Output, Pipeline, PipelineConfig
from stresstrack.pipeline.results import FeatureRow
from stresstrack.replay.base import NS, ImportOptions, ImportStats
from stresstrack.replay.pacing import pace
from stresstrack.replay.sources import FORMATS, Recording
from stresstrack.runtime import Runtime
from stresstrack.store.sqlite import Store, StoreError

__all__ = [
    "CountingPipeline",
    "RecordingResult",
    "format_summary",
    "group_recordings",
    "replay_recordings",
]

RECORDER_BATCH: Final = 2000
EMIT_BATCH: Final = 256
COPY_BATCH: Final = 5000
PROGRESS_EVERY: Final = 2048  # events between progress reports
ORPHAN_CHECK_S: Final = 0.5  # how often a pool worker looks whether its parent still lives
MAX_TIME_NS: Final = 2**63  # SQLite integers are 64-bit

ProgressFn = Callable[[int, float], None]  # (recording index, fraction done)


@dataclass
class RecordingResult:
    """What replaying one recording gave."""

    recording: str
    format: str
    participants: list[str] = field(default_factory=list)
    events: int = 0
    windows: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    skipped: int = 0
    error: str | None = None
    error_setting: str | None = None  # the setting its advice names (StressTrackError.setting)
    notes: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        if self.first_ns is None or self.last_ns is None:
            return 0.0
        return (self.last_ns - self.first_ns) / NS


class CountingPipeline(Pipeline):
    """The pipeline, counting the feature windows it computes for each participant."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        super().__init__(config)
        self.windows: Counter[str] = Counter()

    def process(self, event: Event) -> list[Output]:
        return self._count(super().process(event))

    def finish(self) -> list[Output]:
        return self._count(super().finish())

    def _count(self, outputs: list[Output]) -> list[Output]:
        for o in outputs:
            if isinstance(o, FeatureRow):
                self.windows[o.participant] += 1
        return outputs


def replay_recording(
    recording: Recording,
    runtime: Runtime,
    pipeline: CountingPipeline,
    options: ImportOptions,
    *,
    speed: float = 0.0,
    progress: Callable[[float], None] | None = None,
) -> RecordingResult:
    """Feed one recording's events to ``runtime``; errors end up in the result."""
    result = RecordingResult(recording.label, recording.format.name)
    stats = ImportStats()
    before = Counter(pipeline.windows)
    seen: dict[str, None] = {}
    batch: list[Event] = []
    try:
        events: Iterable[Event] = recording.read(options, stats)
        if speed > 0:
            events = pace(events, speed, on_wait=lambda: _flush(runtime, batch))
        for event in events:
            t = event.time_ns
            if not 0 <= t < MAX_TIME_NS:  # what no store can hold: never expected
                raise StressTrackError(f"{recording.label}: event time {t} ns is out of range")
            try:
                check_event(event)  # the limits of every event (calendar, rates, values)
            except EventError as exc:
                raise StressTrackError(f"{recording.label}: {exc}") from None
            batch.append(event)
            if len(batch) >= EMIT_BATCH or speed > 0:
                runtime.emit(batch)
                batch.clear()
            result.events += 1
            result.first_ns = t if result.first_ns is None else min(result.first_ns, t)
            result.last_ns = t if result.last_ns is None else max(result.last_ns, t)
            seen.setdefault(event.participant)
            if progress is not None and result.events % PROGRESS_EVERY == 0:
                progress(stats.fraction)
    except StressTrackError as exc:
        result.error, result.error_setting = str(exc), exc.setting
    except (StoreError, sqlite3.Error, OSError) as exc:
        result.error = f"{recording.label}: {exc}"
    finally:
        try:
            _flush(runtime, batch)  # whatever was read is stored and processed
        except (StoreError, sqlite3.Error, OSError) as exc:
            result.error = result.error or f"{recording.label}: {exc}"
        if progress is not None:
            progress(1.0)
    result.participants = list(seen)
    if not result.participants:
        with contextlib.suppress(StressTrackError, StoreError, sqlite3.Error, OSError):
            result.participants = recording.participants(options)
    result.windows = sum((pipeline.windows - before).values())
    result.skipped = stats.skipped
    result.notes = stats.notes + stats.skipped_examples
    return result


def _flush(runtime: Runtime, batch: list[Event]) -> None:
    if batch:
        runtime.emit(batch)
        batch.clear()
    runtime.flush()


def replay_group(
    recordings: Sequence[Recording],
    store_for: Callable[[int], Store],
    config: PipelineConfig,
    options: ImportOptions,
    *,
    speed: float = 0.0,
    progress: ProgressFn | None = None,
    indices: Sequence[int] | None = None,
) -> list[RecordingResult]:
    """Replay recordings one after the other through one pipeline.

    ``store_for(k)`` is where the k-th recording's events and results go; the pipeline's last
    windows (at the end of the data) go to the last recording's store.
    """
    pipeline = CountingPipeline(config)
    indices = list(indices) if indices is not None else list(range(len(recordings)))
    results: list[RecordingResult] = []
    runtime: Runtime | None = None
    for k, recording in enumerate(recordings):
        store = store_for(k)
        if runtime is None or runtime.store is not store:
            # checked: replay_recording holds every event to the limits as it reads it
            runtime = Runtime(store, pipeline, batch=RECORDER_BATCH, idempotent=True, checked=True)
        index = indices[k]
        report = None if progress is None else _bind(progress, index)
        results.append(
            replay_recording(recording, runtime, pipeline, options, speed=speed, progress=report)
        )
    if runtime is not None:
        before = Counter(pipeline.windows)
        try:
            runtime.close()
        except (StoreError, sqlite3.Error, OSError) as exc:
            results[-1].error = results[-1].error or f"writing the last windows: {exc}"
        _attribute(results, pipeline.windows - before)
    return results


def _bind(progress: ProgressFn, index: int) -> Callable[[float], None]:
    return lambda fraction: progress(index, fraction)


def _attribute(results: list[RecordingResult], windows: Counter[str]) -> None:
    """Give the windows computed at the end of the data to each participant's last recording."""
    for participant, count in windows.items():
        for result in reversed(results):
            if participant in result.participants:
                result.windows += count
                break


def group_recordings(recordings: Sequence[Recording], options: ImportOptions) -> list[list[int]]:
    """Indices of recordings that share a participant (transitively), in recording order."""
    parent = list(range(len(recordings)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, recording in enumerate(recordings):
        try:
            names = recording.participants(options)
        except (StressTrackError, StoreError, sqlite3.Error, OSError):
            names = []  # it will fail on its own when read
        for name in names:
            if name in owner:
                a, b = root(owner[name]), root(i)
                parent[max(a, b)] = min(a, b)
            else:
                owner[name] = i
    groups: dict[int, list[int]] = {}
    for i in range(len(recordings)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


class ProgressBar(Protocol):
    """A progress display: ``update(done)`` in the unit given at creation, then ``close()``."""

    def update(self, done: float) -> None: ...

    def close(self) -> None: ...


# ``bar(label, total, unit)`` makes the display (the CLI passes its ``Progress`` line).
BarFactory = Callable[[str, float, str], ProgressBar]


class _FolderProgress:
    """One progress line for all recordings, weighted by their size on disk."""

    def __init__(self, sizes: Sequence[int], bar: BarFactory | None) -> None:
        self.sizes = [max(s, 1) for s in sizes]
        self.fractions = [0.0] * len(sizes)
        self.bar = (
            bar(f"replaying {len(sizes)} recording(s)", sum(self.sizes) / 1e6, "MB")
            if bar is not None
            else None
        )

    def update(self, index: int, fraction: float) -> None:
        self.fractions[index] = max(self.fractions[index], min(1.0, fraction))
        if self.bar is not None:
            done = sum(f * s for f, s in zip(self.fractions, self.sizes, strict=True))
            self.bar.update(done / 1e6)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def replay_recordings(
    recordings: Sequence[Recording],
    out: Path,
    config: PipelineConfig,
    options: ImportOptions,
    *,
    workers: int = 1,
    speed: float = 0.0,
    progress_bar: BarFactory | None = None,
) -> list[RecordingResult]:
    """Replay ``recordings`` into the store ``out``; parallel when there are several groups."""
    progress = _FolderProgress([r.size() for r in recordings], progress_bar)
    groups = group_recordings(recordings, options)
    try:
        if workers <= 1 or len(groups) <= 1:
            with Store(out) as store:
                return replay_group(
                    recordings, lambda _k: store, config, options, speed=speed,
                    progress=progress.update,
                )  # fmt: skip
        return _replay_parallel(recordings, groups, out, config, options, workers, speed, progress)
    finally:
        progress.close()


@dataclass(frozen=True, slots=True)
class _Task:
    indices: list[int]
    recordings: list[tuple[tuple[Path, ...], str]]
    parts: list[Path]
    options: ImportOptions
    config: PipelineConfig
    speed: float


_queue: Any = None  # the worker's progress queue, set by _init_worker


def _init_worker(progress_queue: Any, parts_dir: str) -> None:
    global _queue
    _queue = progress_queue
    # Progress reports are best effort: never keep a finished worker waiting to send one.
    progress_queue.cancel_join_thread()
    # A replay killed with SIGKILL cannot stop its workers: they notice they were orphaned,
    # remove the temporary part stores (health data) and exit.
    parent = os.getppid()
    threading.Thread(
        target=_watch_parent, args=(parent, parts_dir), name="orphan watch", daemon=True
    ).start()


def _watch_parent(parent: int, parts_dir: str) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    shutil.rmtree(parts_dir, ignore_errors=True)
    os._exit(1)


def _remove_stale_parts(out: Path) -> None:
    """Part folders of earlier replays into ``out`` whose process is gone (killed)."""
    for folder in out.parent.glob(f".{out.name}.parts-*"):
        pid_text = folder.name.removeprefix(f".{out.name}.parts-").split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _report(index: int, fraction: float) -> None:
    if _queue is not None:
        _queue.put((index, fraction))


def _run_task(task: _Task) -> list[RecordingResult]:
    recordings = [Recording(paths, FORMATS[name]) for paths, name in task.recordings]
    with contextlib.ExitStack() as stack:
        opened: dict[int, Store] = {}

        def store_for(k: int) -> Store:
            if k not in opened:
                opened[k] = stack.enter_context(Store(task.parts[k]))
            return opened[k]

        return replay_group(
            recordings, store_for, task.config, task.options, speed=task.speed,
            progress=_report, indices=task.indices,
        )  # fmt: skip


def _context() -> Any:
    """How worker processes start.

    ``fork`` when this process runs a single thread: workers start at once with the pipeline
    already imported (NeuroKit2 takes about a second). With other threads running (the
    InfluxDB replica), forking could copy a lock another thread holds, so a ``forkserver``
    started clean, with the pipeline preloaded, forks the workers instead.
    """
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _replay_parallel(
    recordings: Sequence[Recording],
    groups: list[list[int]],
    out: Path,
    config: PipelineConfig,
    options: ImportOptions,
    workers: int,
    speed: float,
    progress: _FolderProgress,
) -> list[RecordingResult]:
    out.parent.mkdir(parents=True, exist_ok=True)
    with Store(out) as existing:  # create it (or fail) before any work
        stored_by = existing.last_positions()["events"]  # what an earlier run stored
    _remove_stale_parts(out)
    parts_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.parts-{os.getpid()}-", dir=out.parent))
    parts = [parts_dir / f"recording-{i:05d}.db" for i in range(len(recordings))]
    results: dict[int, RecordingResult] = {}
    try:
        context = _context()
        progress_queue = context.Queue()
        tasks = [
            _Task(
                indices=group,
                recordings=[(recordings[i].paths, recordings[i].format.name) for i in group],
                parts=[parts[i] for i in group],
                options=options,
                config=config,
                speed=speed,
            )
            for group in groups
        ]
        copied = 0  # parts before this index are in the output store
        with (
            Store(out) as store,
            ProcessPoolExecutor(
                max_workers=min(workers, len(tasks)),
                mp_context=context,
                initializer=_init_worker,
                initargs=(progress_queue, str(parts_dir)),
            ) as pool,
        ):
            pending: dict[Future[list[RecordingResult]], _Task] = {
                pool.submit(_run_task, task): task for task in tasks
            }
            while pending:
                done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                _drain(progress_queue, progress)
                for future in done:
                    task = pending.pop(future)
                    try:
                        for index, result in zip(task.indices, future.result(), strict=True):
                            results[index] = result
                    except (BrokenProcessPool, OSError) as exc:
                        for index in task.indices:
                            results[index] = RecordingResult(
                                recordings[index].label,
                                recordings[index].format.name,
                                error=f"worker process failed ({exc})",
                            )
                # Copy, in recording order, the parts that are ready, while workers go on.
                while copied < len(parts) and copied in results:
                    try:
                        _copy(parts[copied], store, stored_by)
                    except (StoreError, sqlite3.Error) as exc:  # a worker died mid-write
                        result = results[copied]
                        result.error = result.error or f"its results could not be copied ({exc})"
                    parts[copied].unlink(missing_ok=True)
                    copied += 1
            _drain(progress_queue, progress)
    finally:
        shutil.rmtree(parts_dir, ignore_errors=True)
    return [results[i] for i in range(len(recordings))]


def _drain(progress_queue: Any, progress: _FolderProgress) -> None:
    while True:
        try:
            index, fraction = progress_queue.get_nowait()
        except queue.Empty:
            return
        progress.update(index, fraction)


def _copy(part: Path, out: Store, stored_by: int) -> None:
    """Append a part store's events and results to ``out`` in their stored order, leaving
    out the events ``out`` held up to id ``stored_by`` (a replay run again)."""
    if not part.exists():
        return
    with Store(part, readonly=True) as src:
        batch: list[Event] = []
        for event in src.iter_events():
            batch.append(event)
            if len(batch) >= COPY_BATCH:
                out.add_events(batch, unless_stored_by=stored_by)
                batch = []
        out.add_events(batch, unless_stored_by=stored_by)
        out.add_results(src.features(), src.stress(), src.sessions())


def format_summary(results: Sequence[RecordingResult]) -> str:
    """The end-of-replay table: one row per recording."""
    header = ("recording", "participant", "format", "duration", "events", "windows", "errors")
    rows = [header]
    for r in results:
        problems = []
        if r.error:
            problems.append(r.error)
        if r.skipped:
            problems.append(f"{r.skipped} bad rows skipped")
        rows.append(
            (
                r.recording,
                ",".join(r.participants) or "-",
                r.format,
                _duration(r.duration_s),
                str(r.events),
                str(r.windows),
                "; ".join(problems) or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [
            c.ljust(w) if i < 3 or i == len(row) - 1 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}:{m:02d}:{s:02d}"
