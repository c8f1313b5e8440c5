"""The report's days section: shown for participants whose data span two days or more, with
an hour × day heat map, sleep and sessions marked, nightly references and daily load bars;
checked in headless Chromium with a screenshot kept as a test artefact."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from servers import require_binary

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "days"))

from days_synthetic import multi_day
from test_browser import FLAGS, artefact_dir

from stresstrack.pipeline.results import FeatureRow, StressRow
from stresstrack.report import render_report
from stresstrack.store import Store

DAYS = 3


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3-day participant (2 self-care sessions) and a 1-hour lab participant."""
    tmp = tmp_path_factory.mktemp("days-report")
    s = multi_day(seed=0, days=DAYS, tz="Europe/Paris", selfcare_days=(0, 1))
    t0 = s.truth.start_ns
    lab_f = [FeatureRow(time_ns=t0 + k * 5 * 10**9, participant="lab", study="s",
                        values={"mean_hr_bpm": 70.0}) for k in range(12, 720)]  # fmt: skip
    lab_s = [StressRow(time_ns=f.time_ns, participant="lab", study="s", index=50.0,
                       confidence=0.9, components={}, version="2.0") for f in lab_f]  # fmt: skip
    with Store(tmp / "days.db") as store:
        store.add_results(s.features + lab_f, s.stress + lab_s, s.sessions)
        return render_report(store, tmp / "report.html", tz="Europe/Paris")


def test_days_section_only_for_multi_day_participants(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    sections = re.findall(r'<section class="days" id="days-\d+" data-participant="([^"]+)"', text)
    assert sections == ["p1"]
    days = text[text.index('<section class="days"') :]
    assert days.count('class="heat-cell"') == 24 * DAYS
    assert days.count('class="session-mark"') == 2  # the self-care sessions
    assert days.count('class="load-bar"') == DAYS
    assert days.count('class="sleep-bar"') >= 2 * (DAYS - 1)  # each night spans midnight
    assert "Nights" in days and "(Europe/Paris)" in days
    thresholds = re.search(r"load threshold (\d+(?:\.\d)?)(?:–(\d+(?:\.\d)?))?: this", days)
    assert thresholds is not None  # the participant's own, within the floor and the cap
    assert all(60 <= float(v) <= 75 for v in thresholds.groups() if v is not None)
    nights = re.findall(r"<tr><td>\w{3} \d\d \w{3}</td><td>(\d\d:\d\d)–(\d\d:\d\d)</td>", days)
    assert len(nights) == DAYS - 1
    for start, end in nights:  # the synthetic nights: 22:15-23:45 to 05:45-08:15, local
        assert "22:00" <= start <= "23:59" and "05:30" <= end <= "08:30"


def _shot(chromium: str, tmp: Path, source: Path, out: Path) -> np.ndarray:
    proc = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--screenshot={out}",
         "--window-size=1100,900", source.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.asarray(Image.open(out).convert("RGB"), dtype=np.int32)


def test_days_section_in_chromium(page: Path, tmp_path: Path) -> None:
    """The days section alone on screen (the rest hidden by a style): the heat map's red
    (stress) and blue (calm) cells, the dark sleep bars and the load bars are drawn; the
    screenshot is kept as test-artifacts/report-days.png."""
    chromium = require_binary("chromium", "/usr/bin/chromium")
    only = "<style>header,main>section:not(.days){display:none}</style></head>"
    shown = tmp_path / "days.html"
    shown.write_text(page.read_text(encoding="utf-8").replace("</head>", only, 1))
    rgb = _shot(chromium, tmp_path, shown, tmp_path / "days.png")
    shutil.copyfile(tmp_path / "days.png", artefact_dir() / "report-days.png")
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red = int(np.sum((r > 200) & (g < 120) & (b < 120)))  # index >= 75 cells and load bars
    blue = int(np.sum((b > r + 25) & (b > g + 5)))  # calm night cells
    navy = int(np.sum((r < 50) & (g < 60) & (b > 50) & (b < 90)))  # sleep bars (#1f2a44)
    assert red > 20_000 and blue > 5_000 and navy > 500, (red, blue, navy)
    # Without the SVGs the same layout has none of that ink (only the legend's swatch).
    hidden = tmp_path / "bare.html"
    hidden.write_text(shown.read_text(encoding="utf-8").replace(
        "</head>", "<style>svg{visibility:hidden}</style></head>", 1))  # fmt: skip
    bare = _shot(chromium, tmp_path, hidden, tmp_path / "bare.png")
    assert int(np.sum((bare[..., 0] > 200) & (bare[..., 1] < 120) & (bare[..., 2] < 120))) < 1000
