"""Is an LSL stream's sender still there? Asked of the network when the stream is silent.

liblsl reports a sender that closed its stream (``LostError``) only once the inlet's TCP session
breaks, which it does not always notice: with liblsl 1.17.4 (pylsl 1.18.1) the inlet's pulls went
on without it for 20 s in 9 of 20 tries on a busy machine (1.18.0: 0 of 10). Streams are
advertised by their outlet for as long as it exists, so a stream that is silent and can no
longer be found by its unique ``uid`` has gone.
"""

from __future__ import annotations

import time
from typing import Final

__all__ = ["MISSES_CLOSED", "RESOLVE_S", "SILENT_S", "StreamWatch"]

SILENT_S: Final = 2.0  # received nothing this long: is the stream still on the network?
RESOLVE_S: Final = 2.0  # how long one such look-up waits for the stream's answer
MISSES_CLOSED: Final = 2  # look-ups in a row not finding it that mean the sender has gone


class StreamWatch:
    """Tells a sender that has gone from a stream that is only silent (markers between markers,
    a sender that paused): see the top.

    ``heard()`` after each received chunk; ``gone()`` after a pull that received nothing: once
    the stream has been silent ``silent_s`` (and again every ``silent_s``), it looks the stream
    up by ``uid`` (blocking up to ``resolve_s``, so call it from the inlet's thread); True after
    ``misses`` look-ups in a row did not find it, and ``why`` then says so.
    """

    def __init__(
        self,
        uid: str,
        *,
        silent_s: float = SILENT_S,
        resolve_s: float = RESOLVE_S,
        misses: int = MISSES_CLOSED,
    ) -> None:
        self.predicate = f"uid='{uid}'"
        self.silent_s = silent_s
        self.resolve_s = resolve_s
        self.misses = misses
        self.why = ""
        self.lookups = 0  # made so far
        self._missed = 0
        self._heard = self._looked = time.monotonic()

    def heard(self) -> None:
        self._heard = time.monotonic()
        self._missed = 0

    def gone(self) -> bool:
        import pylsl

        if time.monotonic() - max(self._heard, self._looked) < self.silent_s:
            return False
        found = pylsl.resolve_bypred(self.predicate, 1, self.resolve_s)
        self.lookups += 1
        self._looked = time.monotonic()
        self._missed = 0 if found else self._missed + 1
        if self._missed < self.misses:
            return False
        self.why = (
            f"silent for {self._looked - self._heard:.0f} s and no longer on the network "
            f"({self.misses} look-ups in a row); its sender has gone"
        )
        return True
