"""Real recordings shipped inside PyPI packages, for regression tests.

The packages are installed without their dependencies by ``scripts/test`` (their files are
all the tests need; importing them is never required):

* pyhrv 0.5.0, ``pyhrv/files/SampleNNISeriesLong.npy``: 60 min of NN intervals (ms, 4684
  intervals) from the MIT-BIH Normal Sinus Rhythm Database (PhysioNet), as the package's
  README says; already annotated and edited (normal beats only).
* pyphysio 4.10.0, ``pyphysio/test_data/medical.txt.bz2``: 240 s at 1024 Hz, columns ECG,
  EDA (µS), BVP, respiration (``info_medical``).
"""

from __future__ import annotations

import bz2
import importlib.util
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

__all__ = ["nsrdb_nn_ms", "package_file", "pyphysio_medical"]


def package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(f"{package} is not installed: scripts/test installs it (--no-deps)")
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    if not path.is_file():
        pytest.fail(f"{path} is missing from the installed {package}")
    return path


def nsrdb_nn_ms() -> npt.NDArray[np.float64]:
    """pyhrv 0.5.0 ``files/SampleNNISeriesLong.npy``: 60 min of MIT-BIH NSRDB NN intervals."""
    return np.load(package_file("pyhrv", "files", "SampleNNISeriesLong.npy")).astype(float)


def pyphysio_medical() -> tuple[float, npt.NDArray[np.float64]]:
    """pyphysio 4.10.0 ``test_data/medical.txt.bz2``: (1024 Hz, columns ECG, EDA, BVP, resp)."""
    with bz2.open(package_file("pyphysio", "test_data", "medical.txt.bz2"), "rt") as f:
        return 1024.0, np.loadtxt(f)
