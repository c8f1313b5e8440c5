"""The report's session parts: cohort forest plot, effects and exclusions tables, before /
during / after per session, and the baseline shading."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support_html import Page as _Page

from stresstrack.analysis import AnalysisSettings
from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.report import render_report
from stresstrack.report.forest import ForestRow, svg_forest_plot, svg_period_bars
from stresstrack.store import Store

NS = 1_000_000_000
T0 = 1_767_603_600 * NS
SVG = "{http://www.w3.org/2000/svg}"


def _participant(
    store: Store, pid: str, during: float | None, *, baseline: bool = True, study: str = "s"
) -> None:
    """21 min of rows every 5 s: index 50, ``during`` inside self-care (10-15 min)."""
    stress, features = [], []
    for k in range(21 * 12 + 1):
        t = T0 + k * 5 * NS
        m = k / 12
        x = (during if 10 < m <= 15 else 50.0) if not (10 < m <= 15 and during is None) else None
        stress.append(
            StressRow(time_ns=t, participant=pid, study=study, index=x, confidence=0.9,
                      components={"hr": 0.0}, version="1.1")
        )  # fmt: skip
        features.append(
            FeatureRow(time_ns=t, participant=pid, study=study, values={"mean_hr_bpm": 70.0})
        )
    sessions = [
        Session(participant=pid, study=study, kind="self-care", start_ns=T0 + 600 * NS,
                end_ns=T0 + 900 * NS, mode="solo", label="serum")
    ]  # fmt: skip
    if baseline:
        sessions.append(
            Session(
                participant=pid, study=study, kind="baseline", start_ns=T0, end_ns=T0 + 300 * NS
            )
        )
    store.add_results(features=features, stress=stress, sessions=sessions)


@pytest.fixture
def page(tmp_path: Path) -> tuple[str, _Page]:
    with Store(tmp_path / "s.db") as store:
        store.set_meta("study", "calm")
        store.set_meta("protocol", "stress-selfcare-recovery")
        _participant(store, "P1", 40.0)
        _participant(store, "P2", 30.0)
        _participant(store, "P3", 44.0, baseline=False)
        _participant(store, "P4", None)  # no index during: excluded
        out = render_report(store, tmp_path / "report.html", settings=AnalysisSettings(boot=300))
    text = out.read_text(encoding="utf-8")
    parsed = _Page()
    parsed.feed(text)
    return text, parsed


def test_forest_plot_shows_each_participant_and_the_group_mean(page: tuple[str, _Page]) -> None:
    text, p = page
    (row,) = p.find("g", "forest-row")
    assert row["data-group"] == "self-care · solo · serum"
    dots = {
        a["data-participant"]: float(a["cx"] or 0) for a in p.find("circle", "participant-delta")
    }
    assert set(dots) == {"P1", "P2", "P3"}  # P4 was excluded
    # Changes -10, -20, -6: further left is a larger drop; the mean sits between.
    assert dots["P2"] < dots["P1"] < dots["P3"]
    (mean,) = p.find("rect", "group-mean")
    centre = float(mean["x"] or 0) + 4.5
    assert dots["P2"] < centre < dots["P3"]
    assert centre == pytest.approx(
        dots["P2"] + (dots["P3"] - dots["P2"]) * (-12 + 20) / 14, abs=0.2
    )
    (ci,) = p.find("line", "group-ci")
    assert float(ci["x1"] or 0) < centre < float(ci["x2"] or 0)
    (zero,) = p.find("line", "zero-line")
    assert float(zero["x1"] or 0) > dots["P3"]  # every change is below 0
    # dz with its noncentral-t interval (defined from 2 participants).
    assert re.search(r"n=3 · dz -1\.66 \[-\d\.\d\d, -?\d\.\d\d\] · Wilcoxon p 0\.250", text)


def test_effects_and_exclusions_tables(page: tuple[str, _Page]) -> None:
    text, p = page
    section = text.split('id="cohort"')[1].split("</section>")[0]
    table = ET.fromstring(
        section[section.index('<table class="effects">') :].split("</table>")[0] + "</table>"
    )
    cells = [td.text for td in table.findall("tr")[1].findall("td")]
    assert cells[:4] == ["self-care · solo · serum", "3", "50.0", "38.0"]
    assert cells[4].startswith("-12.0 (") and cells[-2:] == ["4", "1"]
    exclusions = [a for a in p.find("tr") if a.get("data-participant") == "P4"]
    assert exclusions
    assert "during: 0% of windows with an index of confidence &gt;= 0.5 (need 50%)" in section


def test_before_during_after_per_session(page: tuple[str, _Page]) -> None:
    text, p = page
    bars = p.find("rect", "bdp-bar")
    # P1-P3: pre, during and post; P4: pre and post only (no index during).
    assert [b["data-period"] for b in bars] == ["pre", "during", "post"] * 3 + ["pre", "post"]
    heights = [float(b["height"] or 0) for b in bars]
    assert heights[1] == pytest.approx(heights[0] * 40 / 50, abs=0.15)  # P1 during 40 vs 50
    rows = [a for a in p.find("tr") if a.get("class") in ("included", "excluded")]
    assert [r["class"] for r in rows] == ["included"] * 3 + ["excluded"]
    assert '<dd id="protocol">stress-selfcare-recovery</dd>' in text


def test_baseline_is_shaded_marked_or_implicit(page: tuple[str, _Page]) -> None:
    _, p = page
    marked = [a for a in p.find("rect", "session-band") if a["data-kind"] == "baseline"]
    assert len(marked) == 3  # P1, P2, P4
    (implicit,) = p.find("rect", "session-band baseline-implicit")  # P3 has none marked
    assert implicit["data-kind"] == "baseline" and float(implicit["width"] or 0) > 100


def test_report_without_sessions_says_so(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.add_results(
            stress=[StressRow(time_ns=T0, participant="P1", study="s", index=50.0,
                              confidence=1.0, components={}, version="1.1")]
        )  # fmt: skip
        out = render_report(store, tmp_path / "r.html")
    assert 'id="no-sessions"' in out.read_text(encoding="utf-8")


def test_forest_plot_geometry() -> None:
    svg = ET.fromstring(
        svg_forest_plot(
            [
                ForestRow("a", -10.0, (-14.0, -6.0), [("P1", -12.0), ("P2", -8.0)]),
                ForestRow("b", 5.0, (float("nan"), float("nan")), [("P1", 5.0)]),
            ],
            x_label="change",
        )
    )
    circles = [c for c in svg.iter(f"{SVG}circle")]
    xs = [float(c.get("cx", "0")) for c in circles]
    zero = next(ln for ln in svg.iter(f"{SVG}line") if ln.get("class") == "zero-line")
    x0 = float(zero.get("x1", "0"))
    # Equal steps of 4 index points are equal steps in pixels.
    assert xs[1] - xs[0] == pytest.approx((x0 - xs[1]) / 2, abs=0.2)
    assert xs[2] > x0
    cis = [ln for ln in svg.iter(f"{SVG}line") if ln.get("class") == "group-ci"]
    assert len(cis) == 1  # row b has no interval
    assert len([r for r in svg.iter(f"{SVG}rect") if r.get("class") == "group-mean"]) == 2


def test_period_bars_scale_and_skip_missing() -> None:
    svg = ET.fromstring(svg_period_bars([50.0, None, 100.0]))
    bars = [r for r in svg.iter(f"{SVG}rect")]
    assert [b.get("data-period") for b in bars] == ["pre", "post"]
    assert float(bars[1].get("height", "0")) == pytest.approx(
        2 * float(bars[0].get("height", "0")), abs=0.2
    )
