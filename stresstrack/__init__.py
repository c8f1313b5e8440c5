"""stresstrack: objective stress measurement (HRV, EDA) from commodity wearables.

``stresstrack.open(path)`` and ``stresstrack.process(...)`` are the Python API
(:mod:`stresstrack.api`, README "Use from Python"); they load pandas on first use.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stresstrack.api import Results, Study, open, process

try:
    __version__ = version("stresstrack")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["Results", "Study", "__version__", "open", "process"]


def __getattr__(name: str) -> Any:
    if name in ("Results", "Study", "open", "process"):
        from stresstrack import api

        return getattr(api, name)
    raise AttributeError(f"module 'stresstrack' has no attribute {name!r}")
