"""The companion's self-report form over a real uvicorn: the open prompt's items, answers
checked against their scales and stored as events with the prompt's id."""

from __future__ import annotations

import time
from pathlib import Path

from companion_support import STUDY_TOML, call, enrol, running

from stresstrack.events import Marker, MarkerAction, SelfReport
from stresstrack.store.sqlite import Store

NS = 1_000_000_000
ASK = """
[ask]
items = ["stress", "sam_valence"]
after = ["rest"]
"""


def test_the_form_asks_the_open_prompt_and_stores_checked_answers(tmp_path: Path) -> None:
    """A rest session that ended a minute ago (markers in the store; the companion rebuilds
    the session from them) opens the [ask] prompt "after:rest:START"."""
    start = time.time_ns() - 300 * NS
    with Store(tmp_path / "companion.db") as store:
        store.add_events(
            [
                Marker(time_ns=t, participant="P001", study="companion-test", action=a, kind="rest")
                for t, a in ((start, MarkerAction.START), (start + 240 * NS, MarkerAction.STOP))
            ]
        )
    with running(tmp_path, study=STUDY_TOML + ASK) as server:
        token = enrol(server, "P001")
        status, due = call(server, "/api/selfreport", token=token)
        prompt_id = f"after:rest:{start // NS}"
        assert status == 200
        assert due["prompt"] == {
            "id": prompt_id,
            "items": [
                {"id": "stress", "question": "How stressed do you feel right now?", "min": 0.0,
                 "max": 100.0, "step": 1, "anchors": ["not at all", "extremely"]},
                {"id": "sam_valence", "question": "How do you feel? (SAM valence)", "min": 1.0,
                 "max": 9.0, "step": 1, "anchors": ["unhappy", "happy"]},
            ],
        }  # fmt: skip
        bad = {"prompt_id": prompt_id, "answers": {"stress": 40, "sam_valence": 10}}
        assert call(server, "/api/selfreport", bad, token) == (
            400,
            {"error": "sam_valence: 10 is outside 1..9 (Self-Assessment Manikin)"},
        )
        stale = {"prompt_id": "after:rest:1", "answers": {"stress": 40}}
        assert call(server, "/api/selfreport", stale, token)[0] == 409
        other = {"prompt_id": prompt_id, "answers": {"mood": 40}}
        assert call(server, "/api/selfreport", other, token)[0] == 400
        good = {"prompt_id": prompt_id, "answers": {"stress": 40, "sam_valence": 6}}
        assert call(server, "/api/selfreport", good, token) == (200, {"stored": 2})
        assert call(server, "/api/selfreport", token=token) == (200, {"prompt": None})
        # Without a token: refused.
        assert call(server, "/api/selfreport")[0] == 401
    with Store(tmp_path / "companion.db", readonly=True) as store:
        answers = [(e.item, e.value, e.prompt_id, e.device)
                   for e in store.iter_events("P001", types=("selfreport",))
                   if isinstance(e, SelfReport)]  # fmt: skip
    assert answers == [
        ("stress", 40.0, prompt_id, "companion"),
        ("sam_valence", 6.0, prompt_id, "companion"),
    ]
