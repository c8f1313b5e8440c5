"""One retry policy for every link: capped exponential backoff, optionally jittered.

Used by the BLE collector (reconnecting a device), the InfluxDB sink (retrying writes, honouring
a server's ``Retry-After``) and the MQTT connection (paho's reconnect delays).

>>> b = Backoff(first_s=0.5, max_s=4.0)
>>> [b.delay(n) for n in range(1, 6)]
[0.5, 1.0, 2.0, 4.0, 4.0]
>>> b.delay(1, retry_after=10.0)  # a server asked for more
10.0
>>> import random
>>> 1.0 <= b.delay(3, rng=random.Random(1)) <= 2.0  # jitter: between half and all of it
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]

_MAX_DOUBLINGS = 60  # 2**60 × any sane first delay is past every cap; avoids float overflow


@dataclass(frozen=True, slots=True)
class Backoff:
    """``first_s`` after the first failure, doubled per further failure, never above ``max_s``."""

    first_s: float = 1.0
    max_s: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.first_s <= self.max_s) or self.max_s == float("inf"):
            raise ValueError(f"backoff needs 0 < first_s <= max_s < inf, got {self}")

    def delay(
        self,
        failures: int,
        *,
        rng: random.Random | None = None,
        retry_after: float | None = None,
    ) -> float:
        """Seconds to wait after ``failures`` failures in a row (1 = the first).

        With ``rng``, a uniform draw between half the delay and all of it (so many clients
        that failed together do not retry together); ``retry_after`` is a floor a server set.
        """
        d = min(self.max_s, self.first_s * 2.0 ** min(max(0, failures - 1), _MAX_DOUBLINGS))
        if rng is not None:
            d = rng.uniform(d / 2, d)
        return max(d, retry_after) if retry_after is not None else d
