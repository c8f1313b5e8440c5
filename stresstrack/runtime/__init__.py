"""One runtime for every entry point: a store, its pipeline, its sinks and live status.

``collect``, ``demo``, ``replay``, ``pipeline`` and ``serve`` differ only in their source of
events (see :mod:`stresstrack.runtime.core`).
"""

from stresstrack.runtime.core import (
    Follower,
    FollowerReport,
    Runtime,
    StoreFollower,
    following,
)

__all__ = ["Follower", "FollowerReport", "Runtime", "StoreFollower", "following"]
