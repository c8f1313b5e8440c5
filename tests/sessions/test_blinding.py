"""Blinded arms: codes in everything collected, names only with the key, unblinding recorded."""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest
from support_protocols import SHORT_PROTOCOL

from stresstrack.analysis import AnalysisSettings, analyze_store
from stresstrack.analysis.sessions import Analysis
from stresstrack.blinding import (
    Blinding,
    BlindingError,
    audit_log,
    check_blinded,
    draw_key,
    format_key,
    load_blinding,
    load_key,
    stamp_blinding,
)
from stresstrack.cli import main
from stresstrack.errors import ImportFormatError
from stresstrack.pipeline.engine import Pipeline
from stresstrack.session.protocol import Design, Phase, Protocol
from stresstrack.session.recorder import Recorder
from stresstrack.session.study import StudyChoice, load_study, stamp_store
from stresstrack.simulators.study import StudyPlan, simulate_study
from stresstrack.sinks.outbox import store_points
from stresstrack.store.sqlite import Store

KEY = {"A": "serum-massage", "B": "placebo-cream"}
PEOPLE = 6
# A short AB/BA crossover of self-care against rest; the arm (product) is between people.
CROSSOVER = Protocol(
    "short-crossover",
    (
        Phase("baseline", 240.0),
        Phase("stressor", 90.0, block="A"),
        Phase("self-care", 120.0, mode="solo", block="A", simulated_stress=0.05),
        Phase("recovery", 30.0, block="A"),
        Phase("stressor", 90.0, block="B"),
        Phase("rest", 120.0, block="B"),
        Phase("recovery", 30.0, block="B"),
    ),
    design=Design(conditions=("self-care", "rest"), control="rest"),
)
SETTINGS = AnalysisSettings(pre_s=90.0, post_s=30.0, boot=200, design=CROSSOVER.design)


def _study_text(arms: list[str], blinding: str) -> str:
    people = "".join(
        f'[[participant]]\nid = "sim-{i + 1:03d}"\narm = "{arm}"\n'
        'consent_date = 2026-01-02\nconsent_version = "v1"\n\n'
        for i, arm in enumerate(arms)
    )
    return f'[study]\nname = "blind-demo"\n\n{blinding}\n{people}'


def _key_file(tmp: Path, key: dict[str, str] = KEY) -> Path:
    path = tmp / "key.toml"
    path.write_text(format_key(key), encoding="utf-8")
    path.chmod(0o600)
    return path


def _collect(tmp: Path, name: str, arms: list[str], blinding: str) -> Path:
    """A simulated study collected into a store whose meta records the study file's arms."""
    study_path = tmp / f"{name}.toml"
    study_path.write_text(_study_text(arms, blinding), encoding="utf-8")
    study = load_study(study_path)
    path = tmp / f"{name}.db"
    with Store(path) as store:
        for entry in study.participants.values():
            stamp_store(store, StudyChoice(study.name, study, entry))
        stamp_blinding(store, load_blinding(study_path))
        recorder = Recorder(store, Pipeline())
        plan = StudyPlan(participants=PEOPLE, seed=5, protocol=CROSSOVER, study=study.name)
        simulate_study(plan, recorder)
        recorder.close()
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same simulated study collected blinded (codes) and open-label (names)."""
    tmp = tmp_path_factory.mktemp("blinding")
    codes = ["A", "B"] * (PEOPLE // 2)
    return {
        "blinded": _collect(tmp, "blinded", codes, '[blinding]\ncodes = ["A", "B"]\n'),
        "open": _collect(tmp, "open", [KEY[c] for c in codes], ""),
        "tmp": tmp,
    }


def _numbers(a: Analysis) -> dict[tuple[str, ...], float]:
    """Every number of the analysis, keyed by what it is about (names as the analysis has
    them), for comparing two analyses."""
    out: dict[tuple[str, ...], float] = {}
    for r in a.sessions:
        s = r.session
        for k, v in r.during.values.items():
            out[("session", s.participant, s.kind, str(s.start_ns), r.arm, k)] = v or math.nan
    for e in a.effects.effects:
        for f in ("estimate", "p", "p_adjusted", "dz", "se"):
            out[("effect", e.outcome, e.contrast, f)] = getattr(e, f)
    for b in a.effects.breakdowns:
        out[("breakdown", b.treatment, b.moderator, "p")] = b.p_interaction
        for lv in b.levels:
            out[("level", b.treatment, lv.name, "estimate")] = lv.estimate
            out[("level", b.treatment, lv.name, "low")] = lv.ci[0]
    for g in a.groups:
        out[("group", *g.key, "mean_delta")] = g.during["stress_index"].mean_delta
    return out


def _rename(text: str) -> str:
    """Codes replaced by names in a key part such as "during − pre: self-care · solo · B"."""
    return " · ".join(KEY.get(part, part) for part in text.split(" · "))


def _same(a: dict[tuple[str, ...], float], b: dict[tuple[str, ...], float]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9, nan_ok=True), k


def test_unblinding_renames_and_keeps_every_number(stores: dict[str, Path]) -> None:
    """Analysed blind, the arms are codes; with the key, the same numbers under the names,
    and exactly the open-label study's numbers (the independent reference: the same
    simulated people collected with the names)."""
    with Store(stores["blinded"], readonly=True) as store:
        blind = analyze_store(store, SETTINGS)
        unblinded = analyze_store(store, SETTINGS, unblind=KEY)
    with Store(stores["open"], readonly=True) as store:
        open_label = analyze_store(store, SETTINGS)
    assert {r.arm for r in blind.sessions} == {"A", "B"}
    assert {r.arm for r in unblinded.sessions} == set(KEY.values())
    primary = blind.effects.primary
    assert primary is not None and math.isfinite(primary.estimate)  # the mixed model ran
    renamed = {tuple(_rename(x) for x in k): v for k, v in _numbers(blind).items()}
    _same(renamed, _numbers(unblinded))
    _same(_numbers(unblinded), _numbers(open_label))


def test_collected_data_hold_codes_never_names(stores: dict[str, Path]) -> None:
    """The store file and every InfluxDB line of the blinded study hold no product name;
    the open-label store shows the check can see one (its arms are in the store's meta)."""
    with Store(stores["blinded"], readonly=True) as store:
        lines = "\n".join(store_points(store, raw=True))
        assert store.meta("blinding") == "A,B"
    raw = b"".join(p.read_bytes() for p in stores["blinded"].parent.glob("blinded.db*"))
    for name in KEY.values():
        assert name.encode() not in raw and name not in lines
    assert b"arm/sim-001" in raw and "self-care" in lines  # the checks read real content
    open_raw = b"".join(p.read_bytes() for p in stores["open"].parent.glob("open.db*"))
    assert KEY["A"].encode() in open_raw


def test_analyze_unblind_records_the_key(
    stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "copy.db"
    store.write_bytes(stores["blinded"].read_bytes())
    base = [str(store), "--boot", "0", "--pre", "90", "--post", "30", "--out", str(tmp_path)]
    assert main(["analyze", *base]) == 0
    assert "BLINDED: arms and labels are codes (A,B)" in capsys.readouterr().out
    key = _key_file(tmp_path)
    assert main(["analyze", *base, "--unblind", str(key)]) == 0
    out = capsys.readouterr().out
    assert "UNBLINDED (A = serum-massage, B = placebo-cream)" in out
    assert "serum-massage" in (tmp_path / "sessions.csv").read_text(encoding="utf-8")
    with Store(store, readonly=True) as s:
        (entry,) = audit_log(s)
    assert entry["action"] == "unblind" and entry["key_file"] == "key.toml"
    assert entry["key_sha256"] == hashlib.sha256(key.read_bytes()).hexdigest()
    assert entry["time"].startswith("20") and entry["by"] == "stresstrack analyze"
    report = tmp_path / "r.html"
    assert main(["report", str(store), "--out", str(report), "--boot", "0"]) == 0
    page = report.read_text(encoding="utf-8")
    assert "blinded: arms and labels are codes (A, B)" in page and "serum" not in page
    assert main(["report", str(store), "--out", str(report), "--boot", "0", "--force",
                 "--unblind", str(key)]) == 0  # fmt: skip
    page = report.read_text(encoding="utf-8")
    assert "unblinded: A = serum-massage, B = placebo-cream" in page
    with Store(store, readonly=True) as s:
        assert len(audit_log(s)) == 2  # every unblinding is recorded


def test_unblinding_refuses_a_wrong_key(
    stores: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "copy.db"
    store.write_bytes(stores["blinded"].read_bytes())
    base = ["analyze", str(store), "--boot", "0", "--out", str(tmp_path), "--unblind"]
    key = _key_file(tmp_path, {"A": "serum-massage"})
    assert main([*base, str(key)]) == 2
    assert "no name for code(s) B" in capsys.readouterr().err
    key = _key_file(tmp_path)
    key.chmod(0o644)
    assert main([*base, str(key)]) == 2
    assert "readable by others" in capsys.readouterr().err
    key.chmod(0o600)
    with Store(store) as s:
        s.set_meta("blinding/key_sha256", "0" * 64)
    assert main([*base, str(key)]) == 2
    assert "not the key the study declared" in capsys.readouterr().err
    with Store(store, readonly=True) as s:
        assert audit_log(s) == []  # refused unblindings are not recorded as done
    assert main([*base, str(tmp_path / "missing.toml")]) == 2
    assert "no such key file (--unblind)" in capsys.readouterr().err
    # The library says the same without the command line's flag.
    with pytest.raises(BlindingError) as err:
        load_key(tmp_path / "missing.toml")
    assert err.value.setting == "unblinding key" and "--" not in str(err.value)


def test_collect_refuses_names_in_a_blinded_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Names in arms or protocol labels of a blinded study are refused before anything is
    stored; `mark --label NAME` too."""
    blinding = '[blinding]\ncodes = ["A", "B"]\n'
    study = tmp_path / "s.toml"
    study.write_text(_study_text(["serum", "B"], blinding), encoding="utf-8")
    args = ["collect", "--simulate", "--participant", "sim-001", "--store",
            str(tmp_path / "x.db"), "--study", str(study), "--duration", "1"]  # fmt: skip
    assert main(args) == 2
    assert "participant sim-001's arm 'serum' is not one of its codes" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()
    with pytest.raises(BlindingError, match="phase 'self-care' has label 'serum'"):
        check_blinded(load_blinding_text(tmp_path, blinding), {}, SHORT_PROTOCOL, "s.toml")
    unlabelled = tuple(replace(p, label="") for p in SHORT_PROTOCOL.phases)
    coded = replace(SHORT_PROTOCOL, phases=unlabelled)
    check_blinded(load_blinding_text(tmp_path, blinding), {"P1": "A"}, coded, "s.toml")
    with Store(tmp_path / "m.db") as store:
        store.set_meta("blinding", "A,B")
    mark = ["mark", "start", "--kind", "self-care", "--participant", "P1", "--allow-unknown",
            "--store", str(tmp_path / "m.db")]  # fmt: skip
    assert main([*mark, "--label", "serum"]) == 2
    assert "the study is blinded" in capsys.readouterr().err
    assert main([*mark, "--label", "A"]) == 0


def test_collect_stamps_a_blinded_study(tmp_path: Path) -> None:
    """A coded study collected live (simulated): the store records the codes, the declared
    key hash and the coded arm."""
    digest = "ab" * 32
    study = tmp_path / "s.toml"
    blinding = f'[blinding]\ncodes = ["A", "B"]\nkey_sha256 = "{digest}"\n'
    study.write_text(_study_text(["A", "B"], blinding), encoding="utf-8")
    store = tmp_path / "x.db"
    assert main(["collect", "--simulate", "--participant", "sim-001", "--store", str(store),
                 "--study", str(study), "--duration", "2"]) == 0  # fmt: skip
    with Store(store, readonly=True) as s:
        assert (s.meta("blinding"), s.meta("blinding/key_sha256")) == ("A,B", digest)
        assert s.meta("arm/sim-001") == "A"


def load_blinding_text(tmp: Path, table: str) -> Blinding | None:
    path = tmp / "b.toml"
    path.write_text(f'[study]\nname = "x"\n\n{table}', encoding="utf-8")
    return load_blinding(path)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('codes = ["A"]', "at least two codes"),
        ('codes = ["A", "A"]', "listed twice"),
        ('codes = ["A", "B"]\nkey_sha256 = "xyz"', "64 hex digits"),
        ('codes = ["A", "B"]\nsecret = 1', "holds codes"),
        ('codes = ["A b", "B"]', "at least two codes"),
    ],
)
def test_bad_blinding_tables_are_clear(tmp_path: Path, table: str, problem: str) -> None:
    with pytest.raises(ImportFormatError, match=problem):
        load_blinding_text(tmp_path, f"[blinding]\n{table}\n")


def test_blind_command_writes_a_private_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key.toml"
    assert main(["blind", "--names", "serum,placebo", "--key", str(key)]) == 0
    assert os.stat(key).st_mode & 0o777 == 0o600
    printed = capsys.readouterr().out
    digest = hashlib.sha256(key.read_bytes()).hexdigest()
    assert f'key_sha256 = "{digest}"' in printed and 'codes = ["A", "B"]' in printed
    assert "serum" not in printed  # the names stay in the key file
    text = key.read_text(encoding="utf-8")
    assert sorted(json.loads(line.split(" = ")[1]) for line in text.splitlines()[2:]) == [
        "placebo", "serum",
    ]  # fmt: skip
    assert main(["blind", "--names", "serum,placebo", "--key", str(key)]) == 2  # no overwrite
    assert draw_key(["x", "y", "z"], seed=3) == draw_key(["x", "y", "z"], seed=3)


def test_coded_kinds_and_labels_are_renamed() -> None:
    """A crossover of two coded products (kinds A and B, B the control): sessions and the
    design get the names; kinds that are not codes stay as they are."""
    from stresstrack.blinding import rename_design, rename_sessions
    from stresstrack.pipeline.results import Session

    s = [
        Session(participant="P1", study="s", kind="A", start_ns=0, end_ns=1, label="B"),
        Session(participant="P1", study="s", kind="baseline", start_ns=0, end_ns=1),
    ]
    assert [(x.kind, x.label) for x in rename_sessions(s, KEY)] == [
        ("serum-massage", "placebo-cream"), ("baseline", ""),
    ]  # fmt: skip
    design = rename_design(Design(conditions=("A", "B"), control="B"), KEY)
    assert design == Design(conditions=("serum-massage", "placebo-cream"), control="placebo-cream")
    assert rename_design(None, KEY) is None
