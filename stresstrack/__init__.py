"""stresstrack: objective stress measurement (HRV, EDA) from commodity wearables."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stresstrack")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
