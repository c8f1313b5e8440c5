"""The companion's ASGI app (Starlette): participant page, researcher page, JSON API, WebSocket.

Routes
    ``/``                        participant page (static, works offline once loaded)
    ``/researcher``              researcher page (asks for the researcher token)
    ``POST /api/enrol``          one-time code → the participant's access token
    ``GET  /api/me``             the participant's settings, consent and live state
    ``POST /api/consent``        record the participant's consent (before any data)
    ``GET  /api/p/{id}/live``    a participant's live state (their own pseudonym only)
    ``/api/selfreport``          the self-report form: the open prompt's items, answers in
    ``WS   /ws``                 packets in (after ``{"auth": token}``), acks, prompts and live out
    ``/api/researcher/...``      participants, codes, recording on/off (researcher token)

Secrets travel in the ``Authorization: Bearer`` header or the WebSocket's first message,
never in a URL, so no access log or proxy log holds them; the app logs no pseudonym, code,
token or device name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from stresstrack.companion.packets import NS_PER_MS, CompanionError, Packet
from stresstrack.companion.qr import qr_data_uri
from stresstrack.companion.runtime import Companion
from stresstrack.companion.selfreport import selfreport_routes
from stresstrack.companion.settings import guided_protocol

__all__ = ["MAX_BATCH", "create_app"]

log = logging.getLogger(__name__)

MAX_BATCH: Final = 500  # packets per WebSocket message
POLL_S: Final = 0.5  # how often markers stored by other processes are looked for
STATIC: Final = files("stresstrack.companion") / "static"

Handler = Callable[[Request], Awaitable[Response]]


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def _guard(handler: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except CompanionError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        except (ValueError, json.JSONDecodeError):
            return JSONResponse({"error": "the request is not valid JSON"}, status_code=400)

    return wrapped


async def _json(request: Request) -> dict[str, Any]:
    body = await request.json()
    if not isinstance(body, dict):
        raise CompanionError(400, "a JSON object is expected")
    return body


def create_app(companion: Companion, *, poll_s: float = POLL_S, public_url: str = "") -> Starlette:
    """The ASGI app serving ``companion``; ``public_url`` is the address phones open (in the
    enrolment QR codes), by default the one the researcher page was opened at."""
    routes = [
        Route("/", _static_file("participant.html")),
        Route("/researcher", _static_file("researcher.html")),
        # Served from the root so that it controls the participant page (offline use).
        Route("/sw.js", _static_file("sw.js", media_type="text/javascript")),
        *_participant_routes(companion),
        *_researcher_routes(companion, public_url),
        *selfreport_routes(companion, _guard, _bearer),  # the self-report form
        WebSocketRoute("/ws", _websocket(companion)),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]
    return Starlette(routes=routes, lifespan=_lifespan(companion, poll_s))


def _static_file(name: str, media_type: str | None = None) -> Handler:
    async def page(_request: Request) -> Response:
        return FileResponse(str(STATIC / name), media_type=media_type)

    return page


def _me(companion: Companion, participant: str) -> dict[str, object]:
    """What the participant page needs: consent, sessions, prompts, recording, live state."""
    settings = companion.settings
    return {
        "participant": participant,
        "study": companion.study,
        "consent": companion.consent(participant),
        "consent_form": {
            "version": settings.consent_version,
            "text": settings.consent_text,
        },
        "sessions": [
            {
                "kind": s.kind,
                "mode": s.mode,
                "label": s.label,
                "minutes": s.minutes,
                "title": s.title,
            }
            for s in settings.sessions
        ],
        "show_stress": settings.show_stress,
        "prompts": settings.prompt is not None,
        "recording": companion.recording(participant),
        "live": companion.live[participant].view(stress=settings.show_stress),
        "protocol": guided_protocol(settings, participant),
    }


def _participant_routes(companion: Companion) -> list[Route]:
    """Enrolment, the participant's settings and consent, their live state (their token)."""
    settings = companion.settings

    def me(participant: str) -> dict[str, object]:
        return _me(companion, participant)

    @_guard
    async def enrol(request: Request) -> Response:
        body = await _json(request)
        code = body.get("code")
        if not isinstance(code, str) or not code.strip():
            raise CompanionError(400, "an enrolment code is needed")
        participant, token = companion.enrol(code)
        return JSONResponse({"token": token, **me(participant)})

    @_guard
    async def get_me(request: Request) -> Response:
        return JSONResponse(me(companion.participant_of(_bearer(request))))

    @_guard
    async def consent(request: Request) -> Response:
        participant = companion.participant_of(_bearer(request))
        body = await _json(request)
        if body.get("accepted") is not True:
            raise CompanionError(400, "consent must be given explicitly (accepted: true)")
        t = body.get("t")
        if not isinstance(t, int | float) or isinstance(t, bool):
            raise CompanionError(400, "t must be the device time in ms")
        companion.give_consent(participant, str(body.get("version", "")), round(t * NS_PER_MS))
        return JSONResponse(me(participant))

    @_guard
    async def participant_live(request: Request) -> Response:
        participant = companion.participant_of(_bearer(request))
        asked = request.path_params["participant"]
        if asked != participant:
            raise CompanionError(403, "a participant can only see their own data")
        return JSONResponse(companion.live[participant].view(stress=settings.show_stress))

    return [
        Route("/api/enrol", enrol, methods=["POST"]),
        Route("/api/me", get_me),
        Route("/api/consent", consent, methods=["POST"]),
        Route("/api/p/{participant}/live", participant_live),
    ]


def _researcher_routes(companion: Companion, public_url: str) -> list[Route]:
    """Participants, enrolment codes, recording on/off (the researcher token)."""
    settings = companion.settings

    def researcher(handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            companion.check_researcher(_bearer(request))
            return await handler(request)

        return _guard(wrapped)

    @researcher
    async def r_participants(request: Request) -> Response:
        rows = []
        for p in companion.participants:
            live = companion.live[p]
            rows.append(
                {
                    "participant": p,
                    "consent": companion.consent(p),
                    "recording": companion.recording(p),
                    **live.view(stress=True),
                }
            )
        return JSONResponse(
            {"study": companion.study, "participants": rows, "grafana_url": settings.grafana_url}
        )

    @researcher
    async def r_code(request: Request) -> Response:
        body = await _json(request)
        participant = companion.validate_participant(str(body.get("participant", "")))
        code = companion.new_code(participant)
        # The code travels in the link's fragment, which browsers never send to a server.
        url = f"{(public_url or str(request.base_url)).rstrip('/')}/#code={code}"
        return JSONResponse(
            {"participant": participant, "code": code, "url": url, "qr": qr_data_uri(url)}
        )

    @researcher
    async def r_recording(request: Request) -> Response:
        body = await _json(request)
        participant = companion.validate_participant(str(body.get("participant", "")))
        companion.set_recording(participant, body.get("on") is True)
        return JSONResponse({"participant": participant, "recording": body.get("on") is True})

    return [
        Route("/api/researcher/participants", r_participants),
        Route("/api/researcher/codes", r_code, methods=["POST"]),
        Route("/api/researcher/recording", r_recording, methods=["POST"]),
    ]


def _websocket(companion: Companion) -> Callable[[WebSocket], Awaitable[None]]:
    """The participant's WebSocket: packets in, acknowledgements, prompts and live state out."""
    sockets: dict[str, set[WebSocket]] = {}
    sending: set[asyncio.Future[None]] = set()

    def push(participant: str, message: dict[str, object]) -> None:
        for ws in list(sockets.get(participant, ())):
            task = asyncio.ensure_future(_send(ws, message))
            sending.add(task)
            task.add_done_callback(sending.discard)

    async def _send(ws: WebSocket, message: dict[str, object]) -> None:
        with contextlib.suppress(Exception):
            await ws.send_json(message)

    companion.listen(push)

    async def websocket(ws: WebSocket) -> None:
        await ws.accept()
        try:
            first = await ws.receive_json()
            token = first.get("auth") if isinstance(first, dict) else None
            participant = companion.participant_of(token if isinstance(token, str) else None)
        except (CompanionError, ValueError, WebSocketDisconnect):
            with contextlib.suppress(Exception):
                await ws.send_json({"type": "error", "error": "not enrolled"})
                await ws.close(code=4401)
            return
        sockets.setdefault(participant, set()).add(ws)
        try:
            await ws.send_json(
                {"type": "hello", "live": companion.live[participant].view(stress=False)}
            )
            while True:
                message = await ws.receive_json()
                try:
                    reply = _batch(companion, participant, message)
                except CompanionError as exc:
                    await ws.send_json({"type": "error", "error": exc.message})
                    if exc.status in (401, 403):
                        await ws.close(code=4403)
                        return
                    continue
                await ws.send_json(reply)
        except (WebSocketDisconnect, ValueError, RuntimeError):
            pass
        finally:
            sockets.get(participant, set()).discard(ws)

    return websocket


def _batch(companion: Companion, participant: str, message: object) -> dict[str, object]:
    """Store a batch of the participant's packets; the acknowledgement to send back."""
    if not isinstance(message, dict) or message.get("type") != "batch":
        raise CompanionError(400, 'expected {"type": "batch", ...}')
    claimed = message.get("participant")
    if claimed is not None and claimed != participant:
        raise CompanionError(403, "a participant can only send their own data")
    items = message.get("items")
    if not isinstance(items, list) or len(items) > MAX_BATCH:
        raise CompanionError(400, f"items must be a list of at most {MAX_BATCH} packets")
    for item in items:
        if isinstance(item, dict) and item.get("participant", participant) != participant:
            raise CompanionError(403, "a participant can only send their own data")
    packets = [Packet.parse(i) for i in items]
    sender = message.get("sender")
    last = companion.receive(participant, str(sender), packets)
    live = companion.live[participant].view(stress=companion.settings.show_stress)
    return {"type": "ack", "sender": sender, "seq": last, "live": live}


def _lifespan(
    companion: Companion, poll_s: float
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Poll for markers other processes stored while the app runs; close the companion after."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async def poll() -> None:
            while True:
                await asyncio.sleep(poll_s)
                try:
                    companion.poll_external()
                except Exception:  # never stop the server for one bad row
                    log.exception("reading markers stored by other processes failed")

        task = asyncio.ensure_future(poll())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            companion.close()

    return lifespan
