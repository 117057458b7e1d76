"""Seed-compatible endpoints: clients written for the systems gazescope replaces work unchanged.

Seed 000 (FastAPI + Redis session tracker): ``POST /session/start`` -> ``{"session_id": ...}`` (optional
JSON body: session fields and/or ``session_id``), ``POST /session/end`` with ``{"session_id": ...}`` ->
the session report (plus ``session_id``), ``GET /sessions`` -> the sessions (each also with
``session_id``), WebSocket ``/ws/session/{session_id}/track`` with the protocol of
``/ws/sessions/{id}/track``.

Seed 001 (GazeTracking service): ``GET /`` service information (a browser asking for HTML is redirected
to the web app at ``/app/``), ``GET /health``, WebSocket ``/ws/gaze`` (base64 frames -> ``PythonGazeData``).

Seed 002 (eye-contact server): WebSocket ``/ws`` (``{"type": "frame", "data": <data URL>}`` -> eye-contact
metrics).

``/ws/gaze`` and ``/ws`` carry no session id: each connection gets a session of its own (label
``seed001 /ws/gaze`` or ``seed002 /ws``, ``user_id`` from ``?user_id=``), ended with its report when the
connection closes, so their samples are stored and listed like any other session.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from gazescope import __version__ as _pkg_version
from gazescope.api import service
from gazescope.api.limits import MAX_QUERY_INT, GuardedRoute
from gazescope.api.models import SeedSessionEnd, SeedSessionStart
from gazescope.api.routes.tracking import run_tracking
from gazescope.api.security import require_token
from gazescope.api.state import AppState, get_state
from gazescope.api.tracking import message_types
from gazescope.api.wire import EyeContactWire, GazeServiceWire, NativeWire

State = Annotated[AppState, Depends(get_state)]

router = APIRouter(route_class=GuardedRoute, tags=["seed-compatible"])
protected = APIRouter(
    route_class=GuardedRoute, tags=["seed-compatible"], dependencies=[Depends(require_token)]
)

PLACEHOLDER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gazescope</title></head>
<body><h1>gazescope</h1><p>The web app is not installed in this build.</p>
<p>API documentation: <a href="/docs">/docs</a></p></body></html>
"""


def wants_html(request: Request) -> bool:
    """True when the client asks for HTML before JSON (a browser navigating to the page)."""
    accept = request.headers.get("accept", "")
    if "text/html" not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or accept.find("text/html") < json_at


@router.get("/", response_model=None)
async def root(request: Request, state: State) -> Any:
    """Service information (JSON); a browser asking for HTML is redirected to ``/app/``."""
    if wants_html(request):
        return RedirectResponse("/app/", status_code=307)
    return {
        "service": "gazescope",
        "version": _pkg_version,
        "status": "running",
        "store": state.settings.store_kind,
        "docs": "/docs",
        "app": "/app/",
        "endpoints": {
            "sessions": "/api/sessions",
            "tracking_ws": "/ws/sessions/{session_id}/track",
            "live_ws": "/ws/sessions/{session_id}/live",
            "gaze_ws": "/ws/gaze",
            "eye_contact_ws": "/ws",
            "health": "/health",
            "metrics": "/metrics",
        },
        "message_types": message_types(),
    }


@router.get("/health")
async def health(state: State) -> Any:
    """Health check (seed 001): ``{"status": "healthy", ...}``, or 503 ``unhealthy`` when the store fails."""
    try:
        ok = await state.io(state.store.ping)
    except Exception:
        ok = False
    body = {
        "status": "healthy" if ok else "unhealthy",
        "service": "gazescope",
        "store": state.settings.store_kind,
        "active_sessions": len(state.connections),
    }
    return JSONResponse(body, status_code=200 if ok else 503)


def placeholder_app() -> HTMLResponse:
    """``/app/`` while the web app is not installed."""
    return HTMLResponse(PLACEHOLDER_HTML)


# --- seed 000 -------------------------------------------------------------------------------------------


@protected.post("/session/start")
async def session_start(
    state: State, body: Annotated[SeedSessionStart | None, Body()] = None
) -> dict[str, Any]:
    """Start a session; answers ``{"session_id": ..., "session": {...}}``."""
    fields = body.model_dump(exclude_none=True) if body else {}
    session_id = fields.pop("session_id", None)
    info = await service.create_session(state, session_id, **fields)
    return {"session_id": info.id, "session": info.to_dict()}


@protected.post("/session/end")
async def session_end(state: State, body: SeedSessionEnd) -> dict[str, Any]:
    """End a session; answers its report (with ``session_id``)."""
    report = await service.end_session(state, body.session_id)
    return {"session_id": body.session_id, **report}


@protected.get("/sessions")
async def sessions(
    state: State,
    user_id: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
) -> list[dict[str, Any]]:
    """Past and running sessions, newest first (each with ``session_id``)."""
    infos = await state.io(state.store.list_sessions, user_id=user_id, limit=limit, offset=offset)
    return [{"session_id": i.id, **i.to_dict()} for i in infos]


@router.websocket("/ws/session/{session_id}/track")
async def seed000_track(ws: WebSocket, session_id: str) -> None:
    """Seed 000's tracking WebSocket (the protocol of ``/ws/sessions/{id}/track``)."""
    await run_tracking(ws, session_id, NativeWire(), "seed000")


# --- seed 001 / 002 -------------------------------------------------------------------------------------


def _implicit(ws: WebSocket, label: str) -> dict[str, Any]:
    user = ws.query_params.get("user_id")
    return {"label": label, "user_id": user[:256] if user else None}


@router.websocket("/ws/gaze")
async def seed001_gaze(ws: WebSocket) -> None:
    """Seed 001's WebSocket: base64 frames in, ``PythonGazeData`` out (see ``GazeServiceWire``)."""
    await run_tracking(ws, None, GazeServiceWire(), "seed001", implicit=_implicit(ws, "seed001 /ws/gaze"))


@router.websocket("/ws")
async def seed002_ws(ws: WebSocket) -> None:
    """Seed 002's WebSocket: ``{"type": "frame", "data": <data URL>}`` in, eye-contact metrics out."""
    await run_tracking(ws, None, EyeContactWire(), "seed002", implicit=_implicit(ws, "seed002 /ws"))
