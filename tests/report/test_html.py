"""The HTML report: self-contained, one drawn line per participant, escaped user text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from support_html import Page as _Page

from stresstrack.pipeline.results import FeatureRow, Session, StressRow
from stresstrack.report import render_report
from stresstrack.report.charts import Band, split_segments, svg_line_chart
from stresstrack.store import Store

T0 = 1_700_000_000 * 10**9  # 2023-11-14 22:13:20 UTC
STEP = 30 * 10**9  # one window every 30 s
SVG = "{http://www.w3.org/2000/svg}"


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def _rows(
    participant: str, indices: list[float | None], study: str = "demo"
) -> tuple[list[FeatureRow], list[StressRow]]:
    features, stress = [], []
    for i, index in enumerate(indices):
        t = T0 + i * STEP
        values: dict[str, float | None] = {
            "mean_hr_bpm": 70.0 + i,
            "rmssd_ms": 40.0 - i,
            "sdnn_ms": 50.0,
            "scl_us": 5.0,
            "ns_scr_per_min": None if index is None else 2.0,
        }
        features.append(FeatureRow(time_ns=t, participant=participant, study=study, values=values))
        stress.append(
            StressRow(
                time_ns=t,
                participant=participant,
                study=study,
                index=index,
                confidence=0.8,
                components={"hr": 0.5, "rmssd": None},
                version="si-1",
            )
        )
    return features, stress


def _session(participant: str, kind: str, start: int, end: int | None, **kw: str) -> Session:
    return Session(
        participant=participant,
        study="demo",
        kind=kind,
        start_ns=T0 + start * STEP,
        end_ns=None if end is None else T0 + end * STEP,
        **kw,
    )


def _render(tmp_path: Path, store: Store) -> tuple[Path, _Page]:
    out = render_report(store, tmp_path / "out" / "report.html")
    return out, _parse(out)


def _store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "study.sqlite")
    store.set_meta("study", "calm-2024")
    f1, s1 = _rows("P01", [50.0, 50.0, 70.0, 80.0, 60.0, 55.0])
    f2, s2 = _rows("P02", [40.0, 45.0, 50.0])
    sessions = [
        _session("P01", "baseline", -1, 1),
        _session("P01", "stressor", 1, 3, mode="arithmetic", label="TSST"),
        _session("P01", "self-care", 4, None, mode="breathing", note="felt calm"),
        _session("P02", "baseline", 0, 2),
    ]
    store.add_results(features=f1 + f2, stress=s1 + s2, sessions=sessions)
    return store


def test_report_is_self_contained(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        out, page = _render(tmp_path, store)
    assert out == tmp_path / "out" / "report.html"
    text = out.read_text(encoding="utf-8").replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in text and "https://" not in text
    assert not [t for t, _ in page.tags if t in {"script", "link", "img", "iframe", "object"}]
    assert not [a for _, a in page.tags if "src" in a or "href" in a]


def test_header_names_study_and_versions(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        out, _ = _render(tmp_path, store)
    root = out.read_text(encoding="utf-8")
    assert '<dd id="study">calm-2024</dd>' in root
    assert '<dd id="index-version">si-1</dd>' in root
    assert 'id="stresstrack-version"' in root


def test_one_stress_line_per_participant(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        _, page = _render(tmp_path, store)
    lines = {a["data-participant"]: a for a in page.find("path", "stress-line")}
    assert set(lines) == {"P01", "P02"}
    assert lines["P01"]["data-points"] == "6"
    assert lines["P02"]["data-points"] == "3"
    assert all((a["d"] or "").count("M") == 1 for a in lines.values())
    components = [a["data-feature"] for a in page.find("path", "component-line")]
    assert components == ["mean_hr_bpm", "rmssd_ms", "scl_us", "ns_scr_per_min"] * 2


def test_every_session_has_a_band(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        _, page = _render(tmp_path, store)
    bands = page.find("rect", "session-band")
    assert [(b["data-kind"], b["data-open"]) for b in bands] == [
        ("baseline", "false"),
        ("stressor", "false"),
        ("self-care", "true"),
        ("baseline", "false"),
    ]
    assert bands[0]["fill"] == bands[3]["fill"] != bands[1]["fill"]  # one colour per kind
    legend = [a["data-kind"] for a in page.find("li") if "data-kind" in a]
    assert legend == ["baseline", "stressor", "self-care", "baseline"]
    assert "stressor · arithmetic · TSST" in page.text


def test_summary_means_per_session_kind(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        out, _ = _render(tmp_path, store)
    section = out.read_text(encoding="utf-8").split('id="participant-0"')[1].split("</section>")[0]
    table = ET.fromstring(
        section[section.index('<table class="by-kind">') :].split("</table>")[0] + "</table>"
    )
    means = {tr.get("data-kind"): tr.findall("td")[3].text for tr in table.findall("tr")[1:]}
    # Windows ending in (start, end]: baseline 50, 50; stressor 70, 80; open self-care only 55
    # (the window ending at its start is before it).
    assert means == {"baseline": "50.0", "stressor": "75.0", "self-care": "55.0"}


def test_user_text_is_escaped(tmp_path: Path) -> None:
    nasty = "<script>alert('x')</script>"
    with Store(tmp_path / "s.sqlite") as store:
        f, s = _rows("P<b>1</b>&", [50.0, 60.0])
        session = Session(
            participant="P<b>1</b>&",
            study="demo",
            kind="self-care",
            start_ns=T0,
            end_ns=None,
            note=nasty,
        )
        store.add_results(features=f, stress=s, sessions=[session])
        out, page = _render(tmp_path, store)
    raw = out.read_text(encoding="utf-8")
    assert nasty not in raw and "<b>1" not in raw
    assert not page.find("script") and not page.find("b")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in raw
    assert [a["data-participant"] for a in page.find("path", "stress-line")] == ["P<b>1</b>&"]
    assert nasty in "".join(page.text)


def test_none_value_breaks_the_line(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        f, s = _rows("P01", [50.0, 60.0, None, 55.0, 52.0])
        store.add_results(features=f, stress=s)
        _, page = _render(tmp_path, store)
    (line,) = page.find("path", "stress-line")
    assert line["data-points"] == "4"
    assert (line["d"] or "").count("M") == 2
    scr = [a for a in page.find("path", "component-line") if a["data-feature"] == "ns_scr_per_min"]
    assert (scr[0]["d"] or "").count("M") == 2


def test_empty_store_says_so(tmp_path: Path) -> None:
    with Store(tmp_path / "empty.sqlite") as store:
        out, page = _render(tmp_path, store)
    assert [a for t, a in page.tags if a.get("id") == "no-data"]
    assert "No data" in "".join(page.text)
    assert not page.find("svg")
    assert out.exists()


def test_time_gap_breaks_the_line() -> None:
    """A step over 3x the median step is a gap; a 1-point run is kept."""
    assert split_segments([0, 1, 2, 3, 10, 11, 20], [1.0, 2, 3, 4, 5, 6, 7]) == [
        [(0, 1.0), (1, 2), (2, 3), (3, 4)],
        [(10, 5), (11, 6)],
        [(20, 7)],
    ]
    svg = ET.fromstring(svg_line_chart([0, 1, 2, 10, 11], [1.0, 2, 3, 4, 5], x_range=(0, 11)))
    (path,) = svg.iter(f"{SVG}path")
    assert path.get("d", "").count("M") == 2
    assert path.get("data-points") == "5"


def test_long_lines_are_downsampled_keeping_extremes() -> None:
    n = 10_000
    ys: list[float | None] = [float(i % 100) for i in range(n)]
    ys[5000] = 1000.0
    svg = ET.fromstring(
        svg_line_chart(
            [float(i) for i in range(n)],
            ys,
            x_range=(0, n),
            y_range=(0, 1000),
            bands=[Band(start=10, end=20, kind="stressor", colour="#f00", label="s")],
            band_class="session-band",
            confidence=[0.5] * n,
        )
    )
    (path,) = svg.iter(f"{SVG}path")
    assert int(path.get("data-points", "0")) <= 2000
    ys_drawn = [float(p.split(",")[1]) for p in path.get("d", "").lstrip("M").split("L")]
    assert min(ys_drawn) == 6.0  # the 1000 spike, at the top of the plot
    (band,) = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "session-band"]
    assert band.get("data-kind") == "stressor"
