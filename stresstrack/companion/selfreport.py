"""The companion's self-report form: the items of the participant's open prompt, and their
answers stored as :class:`~stresstrack.events.SelfReport` events (docs/endpoints.md).

Routes (the participant's bearer token, as every participant route)
    ``GET  /api/selfreport``   ``{"prompt": null}`` or the open prompt with its items
    ``POST /api/selfreport``   ``{"prompt_id": ID, "answers": {"item": value, ...}}``

Answers are timed by the server's clock when they arrive, checked against each item's scale
(a bad value refuses the whole form, naming the item), and only accepted for the prompt that
is open now, so a form left open past its prompt's expiry is not stored as an answer to it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stresstrack.companion.packets import CompanionError
from stresstrack.companion.runtime import Companion
from stresstrack.endpoints.config import EndpointConfig, parse_endpoints
from stresstrack.endpoints.items import Item
from stresstrack.endpoints.prompts import open_prompt
from stresstrack.errors import ImportFormatError
from stresstrack.events import SelfReport
from stresstrack.session.study import read_study_text

__all__ = ["selfreport_routes"]

DEVICE: Final = "companion"
Handler = Callable[[Request], Awaitable[Response]]


def _config(companion: Companion) -> EndpointConfig:
    """The study file's endpoint tables (built-in items when the file cannot be read again)."""
    path = companion.settings.study.path
    try:
        return parse_endpoints(read_study_text(path), path)
    except ImportFormatError:
        return EndpointConfig()


def _item(item: Item) -> dict[str, object]:
    return {
        "id": item.id,
        "question": item.question,
        "min": item.low,
        "max": item.high,
        "step": 1 if item.integer or item.scale == "vas" else "any",
        "anchors": list(item.anchors),
    }


def _answers(body: dict[str, Any], items: tuple[str, ...], cfg: EndpointConfig) -> dict[str, float]:
    raw = body.get("answers")
    if not isinstance(raw, dict) or not raw:
        raise CompanionError(400, 'answers must be {"item": value, ...}')
    out = {}
    for name, value in raw.items():
        if name not in items:
            raise CompanionError(400, f"{name!r} is not asked in this prompt")
        try:
            out[name] = cfg.items[name].check(value)
        except ValueError as exc:
            raise CompanionError(400, str(exc)) from None
    return out


def selfreport_routes(
    companion: Companion,
    guard: Callable[[Handler], Handler],
    bearer: Callable[[Request], str | None],
) -> list[Route]:
    """The two routes of the form, for :func:`stresstrack.companion.app.create_app`."""
    cfg = _config(companion)

    def current(participant: str) -> Any:
        return open_prompt(companion.store, companion.study, cfg, participant, time.time_ns())

    @guard
    async def get_due(request: Request) -> Response:
        participant = companion.participant_of(bearer(request))
        prompt = current(participant)
        if prompt is None:
            return JSONResponse({"prompt": None})
        items = [_item(cfg.items[i]) for i in prompt.items]
        return JSONResponse({"prompt": {"id": prompt.id, "items": items}})

    @guard
    async def post_answers(request: Request) -> Response:
        participant = companion.participant_of(bearer(request))
        if companion.consent(participant) is None:
            raise CompanionError(403, "consent comes before any data")
        body = await request.json()
        if not isinstance(body, dict):
            raise CompanionError(400, "a JSON object is expected")
        prompt = current(participant)
        if prompt is None or body.get("prompt_id") != prompt.id:
            raise CompanionError(409, "this prompt is no longer open")
        now = time.time_ns()
        events = [
            SelfReport(time_ns=now, participant=participant, study=companion.study,
                       device=DEVICE, item=name, value=value, prompt_id=prompt.id)
            for name, value in _answers(body, prompt.items, cfg).items()
        ]  # fmt: skip
        companion.store.add_events(events)
        return JSONResponse({"stored": len(events)})

    return [
        Route("/api/selfreport", get_due, methods=["GET"]),
        Route("/api/selfreport", post_answers, methods=["POST"]),
    ]
