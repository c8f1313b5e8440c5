"""Plausibility checks and the artefact-share gate, window by window."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from real_data import nsrdb_nn_ms

from stresstrack.cli.common import add_pipeline_options, pipeline_config
from stresstrack.events import Beat, BeatSource, Event
from stresstrack.pipeline import FeatureRow, Pipeline, PipelineConfig

NS = 1_000_000_000
T0 = 1_767_603_600 * NS


def _rows(rr: np.ndarray, config: PipelineConfig) -> list[FeatureRow]:
    t = T0 + np.round(np.cumsum(rr) * 1e6).astype(np.int64)
    events: list[Event] = [
        Beat(time_ns=int(a), participant="p", rr_ms=float(b), source=BeatSource.FILE)
        for a, b in zip(t, rr, strict=True)
    ]
    p = Pipeline(config)
    return [o for o in p.process_many(events) + p.finish() if isinstance(o, FeatureRow)]


@pytest.mark.parametrize(
    ("rr", "reason"),
    [
        (np.tile([600.0, 1200.0], 200), "implausible: RMSSD 600 ms above 300 ms"),
        (np.full(200, 2100.0), "implausible: 28 RR interval(s) outside 300-2000 ms"),
        (np.full(400, 290.0), "implausible: 207 RR interval(s) outside 300-2000 ms"),
        (np.full(300, 1950.0), "implausible: mean HR 31 bpm outside 40-200 bpm"),
    ],
)
def test_implausible_windows_say_why(rr: np.ndarray, reason: str) -> None:
    config = PipelineConfig(artefact_correction="none", hr_range_bpm=(40.0, 200.0))
    rows = [r for r in _rows(rr, config) if r.quality["hrv_coverage"] >= 0.8]
    assert rows
    assert rows[len(rows) // 2].reasons["hrv"] == reason
    assert not rows[len(rows) // 2].plausible
    assert rows[len(rows) // 2].values["rmssd_ms"] is None


def test_artefact_share_withholds_beat_to_beat_features_on_real_data() -> None:
    """pyhrv 0.5.0 ``files/SampleNNISeriesLong.npy`` (MIT-BIH NSRDB) with 3 % premature
    beats added (30 % early, compensated): windows above 5 % artefact beats keep mean HR and
    SDNN but give no RMSSD, pNN50, SD1 or PNS, and say why; the others give all."""
    rng = np.random.default_rng(1)
    nn = nsrdb_nn_ms()[:1500]
    rr: list[float] = []
    for i, x in enumerate(nn):
        if rng.random() < 0.03 and i + 1 < nn.size:
            rr += [0.7 * x, 0.3 * x + nn[i + 1]]
        elif not (rr and i > 0 and rr[-1] > nn[i - 1] * 1.2):
            rr.append(x)
    rows = _rows(np.asarray(rr), PipelineConfig())
    above = [r for r in rows if r.quality["hrv_artefact_share"] > 0.05 and "hrv" not in r.reasons]
    below = [r for r in rows if r.quality["hrv_artefact_share"] <= 0.05 and "hrv" not in r.reasons]
    assert above and below
    for r in above:
        assert r.values["mean_hr_bpm"] is not None and r.values["sdnn_ms"] is not None
        assert all(r.values[k] is None for k in ("rmssd_ms", "pnn50_pct", "sd1_ms", "pns_index"))
        assert "withheld" in r.reasons["hrv_beat_to_beat"]
    assert all(r.values["rmssd_ms"] is not None for r in below)


def test_cli_options_reach_the_configuration() -> None:
    parser = argparse.ArgumentParser()
    add_pipeline_options(parser)
    config = pipeline_config(
        parser.parse_args(
            ["--artefact-correction", "none", "--max-artefact-share", "0.1", "--spectrum",
             "neurokit"]
        )
    )  # fmt: skip
    assert config.artefact_correction == "none" and config.max_artefact_share == 0.1
    assert config.spectrum == "neurokit"
    assert pipeline_config(parser.parse_args([])).artefact_correction == "kubios"
    with pytest.raises(SystemExit):
        parser.parse_args(["--artefact-correction", "sometimes"])
