"""The report in a real browser (headless Chromium): the controlled answer comes first, and
every chart is drawn with real geometry.

The report itself has no script (its Content-Security-Policy forbids them). A copy with the
policy removed and a measuring script appended is loaded with ``--dump-dom``: the script
writes the rendered size of every drawn element into the page. A screenshot of the report
itself is checked for drawn pixels and saved as a test artefact (``test-artifacts/`` at the
repository root, or ``$STRESSTRACK_TEST_ARTIFACTS``). Chromium missing: skipped, except on CI.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from servers import require_binary

from stresstrack.analysis import AnalysisSettings, analyze_store
from stresstrack.pipeline import Pipeline
from stresstrack.report import render_report
from stresstrack.session.protocol import Design, Phase, Protocol
from stresstrack.session.recorder import Recorder
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
  const box = (q) => {
    const e = document.querySelector(q);
    if (!e) return null;
    const r = e.getBoundingClientRect();
    return {top: r.top, h: r.height, w: r.width, text: e.textContent};
  };
  out.headline = box("#headline");
  out.answer = box("#answer");
  out.cohort = box("#cohort");
  out.first = document.querySelector("main > section").id;
  const pre = document.createElement("pre");
  pre.id = "geometry";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


PEOPLE = 6
EXPECTED: dict[str, int] = {}  # filled by the report fixture from the analysis
GROUPS = 5  # stressor, self-care · solo · serum, rest, recovery after self-care, after rest
# The screenshots' window: the report and its copy with plots hidden use the same one, so
# their shares of dark pixels compare the same area.
WINDOW = "--window-size=1100,2600"


def artefact_dir() -> Path:
    """Where tests leave files for people to look at (screenshots)."""
    default = Path(__file__).resolve().parents[2] / "test-artifacts"
    out = Path(os.environ.get("STRESSTRACK_TEST_ARTIFACTS", default))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_binary("chromium", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    # A short counterbalanced crossover (AB/BA): self-care vs rest after a stressor.
    protocol = Protocol(
        "short",
        (
            # 5 min: with 3, the baseline holds two independent 60 s windows and the index's
            # confidence (docs/stress-index.md) excludes a participant's calm session.
            Phase("baseline", 300.0),
            Phase("stressor", 150.0, block="A"),
            # Declared: the simulators' default self-care (0.22) is a realistic small effect
            # (dz 0.3-0.6), too small to show clearly in 6 participants.
            Phase("self-care", 180.0, mode="solo", label="serum", block="A", simulated_stress=0.05),
            Phase("recovery", 120.0, block="A"),
            Phase("stressor", 150.0, block="B"),
            Phase("rest", 180.0, block="B"),
            Phase("recovery", 120.0, block="B"),
        ),
        design=Design(conditions=("self-care", "rest"), control="rest"),
    )
    with Store(tmp / "study.db") as store:
        store.set_meta("study", "demo")
        recorder = Recorder(store, Pipeline())
        simulate_study(StudyPlan(participants=PEOPLE, seed=4, protocol=protocol), recorder)
        recorder.close()
        # Pre windows: the 150 s stressor before each condition (shorter than the default).
        settings = AnalysisSettings(pre_s=150.0, post_s=120.0, boot=0, design=protocol.design)
        page = render_report(store, tmp / "report.html", settings=settings)
        # What the page must show, from the analysis itself: sessions the analysis excluded
        # draw no dot, and the headline counts included people. Every session is included:
        # sim-004 and sim-005 are EDA non-responders, whose index rests on the cardiac
        # components with a confidence that reflects them (docs/stress-index.md, version
        # 2.1), so they are not excluded.
        analysis = analyze_store(store, settings)
        EXPECTED["dots"] = len(
            {
                (r.group, r.session.participant)
                for r in analysis.sessions
                if r.included and r.session.kind != "baseline"
            }
        )  # fmt: skip  (a dot per participant and group)
        kinds: dict[str, set[str]] = {}
        for r in analysis.sessions:
            if r.included and r.session.kind in ("self-care", "rest"):
                kinds.setdefault(r.session.participant, set()).add(r.session.kind)
        # The crossover's model compares conditions within a person: both must be included.
        EXPECTED["people"] = sum(1 for k in kinds.values() if k == {"self-care", "rest"})
        return page


def _run(chromium: str, tmp: Path, *args: str) -> str:
    proc = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _geometry(chromium: str, report: Path, tmp_path: Path) -> dict[str, Any]:
    """The report with the measuring script, as Chromium lays it out."""
    page = report.read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = _run(chromium, tmp_path, "--dump-dom", probe.as_uri())
    found = re.search(r'<pre id="geometry">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    g = json.loads(html.unescape(found.group(1)))
    return dict(g)


def test_every_chart_is_drawn(chromium: str, report: Path, tmp_path: Path) -> None:
    g = _geometry(chromium, report, tmp_path)

    def drawn(name: str, *, lines: bool = False) -> list[dict[str, float]]:
        items = g[name]
        assert items, name
        for e in items:
            assert e["visible"], (name, e)
            assert e["w"] > 0 and e["sw"] > 0, (name, e)
            if not lines:
                assert e["h"] > 0 and e["sh"] > 0, (name, e)
        return items

    assert len(drawn("stress")) == PEOPLE  # one line per participant
    assert all(e["h"] > 20 for e in g["stress"])  # it moves with the protocol's phases
    components = drawn("components", lines=True)
    assert len(components) == PEOPLE * 4
    # The two EDA non-responders (sim-004, sim-005: SCL 0.4 µS, no SCR above 0.003 µS) have
    # no SCR of 0.05 µS: their SCR-rate lines are flat (0/min throughout).
    assert sum(e["h"] > 0 and e["sh"] > 0 for e in components) == PEOPLE * 4 - 2
    assert len(drawn("bands")) == PEOPLE * 7  # baseline, then 2 blocks of 3 sessions
    # Forest plot: one row per non-baseline group, a dot per participant, mean and CI.
    assert len(drawn("labels")) == GROUPS
    assert EXPECTED["dots"] == GROUPS * PEOPLE  # none excluded, non-responder included
    assert len(drawn("dots")) == EXPECTED["dots"]
    assert len(drawn("means")) == GROUPS
    assert len(drawn("cis", lines=True)) == GROUPS
    assert g["zero"] and g["zero"][0]["h"] > 0
    assert len(drawn("bars")) >= PEOPLE * 6 * 2  # pre/during(/post) of 6 sessions each
    assert all(w > 100 for w in g["svgs"])
    assert g["stress"][0]["stroke"] == "rgb(34, 34, 34)"


def test_the_controlled_answer_comes_first(chromium: str, report: Path, tmp_path: Path) -> None:
    """The first section is the answer: the primary controlled estimate in words, laid out
    on screen above the uncontrolled before / during / after."""
    g = _geometry(chromium, report, tmp_path)
    assert g["first"] == "answer"
    assert EXPECTED["people"] == PEOPLE
    text = g["headline"]["text"]
    # Simulated self-care (level 0.05) is calmer than rest (0.30): lowered, more than rest.
    assert re.fullmatch(
        rf"Self-care lowered the stress index by [\d.]+ points \(95 % CI [\d.]+ to [\d.]+\) "
        rf"more than rest, in {EXPECTED['people']} participants\.",
        text,
    ), text
    assert g["headline"]["h"] > 15 and g["headline"]["w"] > 300
    assert g["headline"]["top"] < g["cohort"]["top"]
    assert g["answer"]["top"] + g["answer"]["h"] <= g["cohort"]["top"]


def test_screenshot_shows_the_plots(chromium: str, report: Path, tmp_path: Path) -> None:
    """The report as opened (no script): the answer box, the forest plot and the first
    participant's shaded stress curve; the screenshot is kept as a test artefact."""
    shot = tmp_path / "shot.png"
    _run(chromium, tmp_path, f"--screenshot={shot}", WINDOW, report.as_uri())
    shutil.copyfile(shot, artefact_dir() / "report-browser.png")
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
    _run(chromium, tmp_path, f"--screenshot={bare_shot}", WINDOW, bare.as_uri())
    bare_rgb = np.asarray(Image.open(bare_shot).convert("RGB"), dtype=np.int32)
    bare_dark = float(np.mean(bare_rgb.sum(axis=-1) < 200))
    assert dark - bare_dark > 0.001, (dark, bare_dark)  # > 1650 dark pixels of plot ink
    assert green > 5000 and red > 5000, (green, red)
