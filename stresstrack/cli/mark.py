"""``stresstrack mark``: mark a session's start or stop, or a point event, in a store.

It appends one :class:`~stresstrack.events.Marker` to the store's events. A ``collect``
running on the same store (another terminal) picks it up within a second and feeds it to its
live pipeline (:meth:`stresstrack.session.recorder.Recorder.poll_external`); its InfluxDB replica
ships it like any stored event. Against a finished recording, the marker is stored and
``stresstrack replay STORE --store OUT.db`` computes the session; ``--time`` marks a past
moment.

:class:`HotkeyMarker` and :func:`terminal_keys` do the same from single keys in a live view.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Final

from stresstrack.cli.common import participant_arg
from stresstrack.errors import EventError, StressTrackError
from stresstrack.events import Marker, MarkerAction
from stresstrack.limits import check_event
from stresstrack.session.protocol import MODES

if TYPE_CHECKING:
    from stresstrack.clock import Clock
    from stresstrack.events import EventSink
    from stresstrack.store.sqlite import Store

__all__ = ["HOTKEYS", "MARK_DEVICE", "HotkeyMarker", "parse_mark_time", "terminal_keys"]

NAME = "mark"
NS: Final = 1_000_000_000
MARK_DEVICE: Final = "mark"  # the device field of markers written by this command
HOTKEY_DEVICE: Final = "keyboard"  # ... and by a live view's hotkeys
FUTURE_TOLERANCE_S: Final = 60.0  # clocks of two machines may differ a little


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        NAME,
        help="mark a session start/stop or an event (also while collect is running)",
        description="Append a session marker to a store. A `stresstrack collect` running on "
        "the same store picks it up within a second; for a finished recording, `stresstrack "
        "replay STORE --store OUT.db` computes the session.",
    )
    p.add_argument("action", choices=[a.value for a in MarkerAction], help="start, stop or event")
    p.add_argument(
        "--participant", required=True, type=participant_arg, metavar="ID", help="pseudonym"
    )
    p.add_argument(
        "--kind", required=True, help="session kind, e.g. self-care, stressor, baseline, rest"
    )
    p.add_argument("--mode", choices=MODES, default="", help="how a self-care session is done")
    p.add_argument("--label", default="", metavar="ARM", help="product or study-arm label")
    p.add_argument("--note", default="", help="free text (no names: this is health data)")
    p.add_argument(
        "--store",
        type=Path,
        default=Path("stresstrack.db"),
        metavar="PATH",
        help="the store (default stresstrack.db, as collect)",
    )
    p.add_argument(
        "--time",
        default=None,
        metavar="ISO|UNIX",
        help="when (default now): ISO 8601 with a time zone, e.g. 2026-01-05T10:15:00+01:00, "
        "or Unix seconds",
    )
    p.add_argument(
        "--study",
        default=None,
        help="study name (default: the store's study, as collect recorded it)",
    )
    p.add_argument(
        "--allow-unknown",
        action="store_true",
        help="mark a participant who has no data in the store yet",
    )
    p.set_defaults(run=run)


def parse_mark_time(text: str, *, now_ns: int | None = None) -> int:
    """``--time``: ISO 8601 with a time zone, or Unix seconds -> ns since the epoch.

    >>> parse_mark_time("2026-01-05T10:15:00+01:00", now_ns=2 * 10**18)
    1767604500000000000
    >>> parse_mark_time("1767604500.25", now_ns=2 * 10**18)
    1767604500250000000
    """
    text = text.strip()
    try:
        seconds: Decimal | None = Decimal(text)
    except InvalidOperation:
        seconds = None
    if seconds is None:
        t = _iso_ns(text)
    elif not seconds.is_finite() or seconds < 0:
        raise StressTrackError(f"--time {text!r} is not a valid Unix time")
    else:
        t = int(seconds * NS)
    now = time.time_ns() if now_ns is None else now_ns
    if t > now + FUTURE_TOLERANCE_S * NS:
        raise StressTrackError(f"--time {text!r} is in the future")
    return t


def _iso_ns(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None:
        raise StressTrackError(
            f"--time {text!r} is neither ISO 8601 (2026-01-05T10:15:00+01:00) nor Unix seconds"
        )
    if moment.tzinfo is None:
        raise StressTrackError(
            f"--time {text!r} has no time zone: add one (e.g. +01:00, or Z for UTC)"
        )
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000


def _utc(t: int) -> str:
    return datetime.fromtimestamp(t / NS, tz=UTC).isoformat(timespec="milliseconds")


def _study_of(store: Store, participant: str) -> str:
    """The study the participant's data belongs to: the store's, else their rows'."""
    named = store.meta("study")
    if named:
        return named
    for rows in (store.sessions(participant), store.stress(participant)):
        if rows:
            return rows[-1].study
    return "default"


def run(args: argparse.Namespace) -> int:
    from stresstrack.store.sqlite import Store

    kind = args.kind.strip()
    if not kind:
        raise StressTrackError("--kind is empty (e.g. self-care, stressor, baseline)")
    if not args.store.exists():
        raise StressTrackError(
            f"{args.store}: no such store (mark a store that collect, demo or replay wrote)"
        )
    # The time the command was invoked (stresstrack.cli stamps it before loading anything).
    now = getattr(args, "invoked_ns", None) or time.time_ns()
    t = now if args.time is None else parse_mark_time(args.time)
    with Store(args.store) as store:
        known = store.participants()
        if args.participant not in known and not args.allow_unknown:
            listed = ", ".join(known[:10]) + (" ..." if len(known) > 10 else "") or "none"
            raise StressTrackError(
                f"participant {args.participant} has no data in {args.store} (participants: "
                f"{listed}); check the ID, or use --allow-unknown to mark before any data"
            )
        study = args.study or _study_of(store, args.participant)
        codes = (store.meta("blinding") or "").split(",")  # stresstrack.blinding.BLINDING_META
        if codes != [""] and args.label.strip() and args.label.strip() not in codes:
            raise StressTrackError(
                f"--label {args.label.strip()!r}: the study is blinded; use one of its codes "
                f"({', '.join(codes)}), never the product's name"
            )
        marker = Marker(
            time_ns=t,
            participant=args.participant,
            study=study,
            device=MARK_DEVICE,
            action=MarkerAction(args.action),
            kind=kind,
            mode=args.mode,
            label=args.label.strip(),
            note=args.note.strip(),
        )
        try:
            check_event(marker)  # text a terminal mangled (e.g. "\udce9") never gets stored
        except EventError as exc:
            raise StressTrackError(f"--kind/--mode/--label/--note: {exc.problem}") from None
        store.add_events([marker])
    what = " · ".join(x for x in (kind, marker.mode, marker.label) if x)
    print(f"marked {args.action} of {what} for {args.participant} at {_utc(t)} in {args.store}")
    if args.time is not None:
        print(
            "a past moment: replay the store (stresstrack replay STORE --store OUT.db) to "
            "compute its sessions"
        )
    return 0


class HotkeyMarker:
    """Single-key session marks for a live view.

    ``s`` starts a session of ``kind`` (default self-care) and ``e`` ends it; other keys are
    ignored. Markers go to ``sink`` (collect's recorder), like the protocol's, with device
    ``keyboard``. ``say`` gets a line to show for each mark.
    """

    START_KEY: Final = "s"
    STOP_KEY: Final = "e"

    def __init__(
        self,
        sink: EventSink,
        clock: Clock,
        *,
        participant: str,
        study: str,
        kind: str = "self-care",
        mode: str = "",
        label: str = "",
        say: Callable[[str], None] | None = None,
    ) -> None:
        self.sink = sink
        self.clock = clock
        self.participant = participant
        self.study = study
        self.kind = kind
        self.mode = mode
        self.label = label
        self.say = say
        self.open_since_ns: int | None = None

    def _mark(self, action: MarkerAction, note: str = "") -> Marker:
        marker = Marker(
            time_ns=self.clock.now_ns(),
            participant=self.participant,
            study=self.study,
            device=HOTKEY_DEVICE,
            action=action,
            kind=self.kind,
            mode=self.mode,
            label=self.label,
            note=note,
        )
        self.sink.emit([marker])
        if self.say is not None:
            verb = "started" if action is MarkerAction.START else "ended"
            self.say(f"{self.kind} session {verb} at {_utc(marker.time_ns)} (key)")
        return marker

    def press(self, key: str) -> Marker | None:
        """Handle one key; the marker written, or ``None`` (other key, or nothing to do)."""
        if key == self.START_KEY and self.open_since_ns is None:
            marker = self._mark(MarkerAction.START)
            self.open_since_ns = marker.time_ns
            return marker
        if key == self.STOP_KEY and self.open_since_ns is not None:
            self.open_since_ns = None
            return self._mark(MarkerAction.STOP)
        return None

    def close_open(self, note: str = "collection stopped") -> Marker | None:
        """End a session still open (call when collection stops)."""
        if self.open_since_ns is None:
            return None
        self.open_since_ns = None
        return self._mark(MarkerAction.STOP, note)


HOTKEYS: Final = {HotkeyMarker.START_KEY: "start a session", HotkeyMarker.STOP_KEY: "end it"}


@contextlib.contextmanager
def terminal_keys(
    on_key: Callable[[str], object],
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    fd: int | None = None,
) -> Iterator[bool]:
    """Call ``on_key`` for every key typed on the terminal while the context is open.

    The terminal is put in cbreak mode (keys arrive without Enter, Ctrl-C still interrupts)
    and restored on exit. Yields ``False`` (and does nothing) when ``fd`` (default stdin) is
    not a terminal.
    """
    if fd is None:
        try:
            fd = sys.stdin.fileno()
        except (OSError, ValueError):  # no real stdin (a test runner, a closed descriptor)
            yield False
            return
    if not os.isatty(fd):
        yield False
        return
    loop = loop or asyncio.get_running_loop()
    saved = termios.tcgetattr(fd)

    def readable() -> None:
        try:
            data = os.read(fd, 64)
        except OSError:
            return
        for char in data.decode("utf-8", errors="ignore"):
            on_key(char)

    tty.setcbreak(fd)
    loop.add_reader(fd, readable)
    try:
        yield True
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
