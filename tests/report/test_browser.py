"""The report in a real browser (headless Chromium): every chart is drawn with real geometry.

The report itself has no script (its Content-Security-Policy forbids them). A copy with the
policy removed and a measuring script appended is loaded with ``--dump-dom``: the script
writes the rendered size of every drawn element into the page. A screenshot of the report
itself is checked for drawn pixels. Chromium missing: skipped, except on CI.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from servers import require_binary

from stresstrack.analysis import AnalysisSettings
from stresstrack.pipeline import Pipeline
from stresstrack.protocol import Phase, Protocol
from stresstrack.recorder import Recorder
from stresstrack.report import render_report
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.store import Store

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--virtual-time-budget=5000",
]  # fmt: skip

# Rendered size of each kind of drawn element; written into the page as JSON.
MEASURE = """<script>
(() => {
  const sel = {
    stress: "path.stress-line", components: "path.component-line",
    bands: "rect.session-band", dots: "circle.participant-delta",
    means: "rect.group-mean", cis: "line.group-ci", bars: "rect.bdp-bar",
    zero: "line.zero-line", labels: "text.forest-label",
  };
  const out = {};
  for (const [name, s] of Object.entries(sel)) {
    out[name] = Array.from(document.querySelectorAll(s)).map((e) => {
      const b = e.getBBox(), r = e.getBoundingClientRect(), st = getComputedStyle(e);
      return {w: b.width, h: b.height, sw: r.width, sh: r.height,
              visible: st.display !== "none" && st.visibility !== "hidden"
                       && parseFloat(st.opacity) > 0,
              stroke: st.stroke, fill: st.fill};
    });
  }
  out.svgs = Array.from(document.querySelectorAll("svg"))
    .map((s) => s.getBoundingClientRect().width);
  const pre = document.createElement("pre");
  pre.id = "geometry";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_binary("chromium", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    protocol = Protocol(
        "short",
        (
            Phase("baseline", 180.0),
            Phase("stressor", 150.0),
            Phase("self-care", 180.0, mode="solo", label="serum"),
            Phase("recovery", 120.0),
        ),
    )
    with Store(tmp / "study.db") as store:
        store.set_meta("study", "demo")
        recorder = Recorder(store, Pipeline())
        simulate_study(StudyPlan(participants=3, seed=4, protocol=protocol), recorder)
        recorder.close()
        # The 3 min baseline is shorter than the default 5 min pre window.
        settings = AnalysisSettings(pre_s=150.0, post_s=120.0, boot=300)
        return render_report(store, tmp / "report.html", settings=settings)


def _run(chromium: str, tmp: Path, *args: str) -> str:
    proc = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_every_chart_is_drawn(chromium: str, report: Path, tmp_path: Path) -> None:
    page = report.read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = _run(chromium, tmp_path, "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="geometry">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    g = json.loads(html.unescape(found.group(1)))

    def drawn(name: str, *, lines: bool = False) -> list[dict[str, float]]:
        items = g[name]
        assert items, name
        for e in items:
            assert e["visible"], (name, e)
            assert e["w"] > 0 and e["sw"] > 0, (name, e)
            if not lines:
                assert e["h"] > 0 and e["sh"] > 0, (name, e)
        return items

    assert len(drawn("stress")) == 3  # one line per participant
    assert all(e["h"] > 20 for e in g["stress"])  # it moves with the protocol's phases
    assert len(drawn("components")) == 3 * 4
    assert len(drawn("bands")) == 3 * 4  # baseline, stressor, self-care, recovery
    # Forest plot: one row per non-baseline kind, a dot per participant, mean and CI.
    assert len(drawn("labels")) == 3
    assert len(drawn("dots")) == 3 * 3
    assert len(drawn("means")) == 3
    assert len(drawn("cis", lines=True)) == 3
    assert g["zero"] and g["zero"][0]["h"] > 0
    assert len(drawn("bars")) >= 3 * 3 * 2  # pre/during(/post) for 3 sessions of 3 people
    assert all(w > 100 for w in g["svgs"])
    assert g["stress"][0]["stroke"] == "rgb(34, 34, 34)"


def test_screenshot_shows_the_plots(chromium: str, report: Path, tmp_path: Path) -> None:
    """The report as opened (no script): the top of the page holds the forest plot and the
    first participant's shaded stress curve."""
    shot = tmp_path / "shot.png"
    _run(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1100,1500", report.as_uri())
    rgb = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    dark = float(np.mean(r + g + b < 200))
    # Session shading: self-care's green (#54a24b at 18 %) and the stressor's red.
    green = int(np.sum((g > r + 8) & (g > b + 8)))
    red = int(np.sum((r > g + 15) & (r > b + 15)))
    # The plots' ink: against the same page with its SVG plots hidden (same layout, text
    # only); a fixed share (1 %) depended on how far the simulated people's index swings.
    bare = tmp_path / "bare.html"
    hidden = "<style>svg{visibility:hidden}</style></head>"
    bare.write_text(report.read_text(encoding="utf-8").replace("</head>", hidden, 1))
    bare_shot = tmp_path / "bare.png"
    _run(chromium, tmp_path, f"--screenshot={bare_shot}", "--window-size=1100,1500", bare.as_uri())
    bare_rgb = np.asarray(Image.open(bare_shot).convert("RGB"), dtype=np.int32)
    bare_dark = float(np.mean(bare_rgb.sum(axis=-1) < 200))
    assert dark - bare_dark > 0.001, (dark, bare_dark)  # > 1650 dark pixels of plot ink
    assert green > 5000 and red > 5000, (green, red)
