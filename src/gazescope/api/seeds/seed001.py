"""Seed 001 (GazeTracking service for a Next.js app, client ``lib/gazeClient.ts``).

* ``GET /``: JSON ``{"message", "version", "endpoints": {"websocket": "/ws/gaze", "health": "/health",
  ...}, ...}``; a browser asking for HTML is redirected to the web app at ``/app/``.
* ``GET /health``: ``{"status": "healthy", "service", "gaze_tracking_available", ...}`` (503
  ``unhealthy`` when the store fails).
* WebSocket ``/ws/gaze``: frames ``{"type": "frame", "data": <JPEG data URL>}`` (also raw base64, a bare
  data URL, or JSON with a ``frame``/``image``/``data`` key). EVERY frame is answered by exactly one
  ``{"type": "gaze_data", "data": PythonGazeData}``, since the client keeps one frame in flight and sends
  the next only after a ``gaze_data``: a frame that fails, or is dropped under load, gets
  ``data = {"error": <code>, "message", "frame_processed": false, "timestamp", ...}``. ``{"type": "ping"}``
  answers ``{"type": "pong"}``. ``timestamp`` is the server's epoch time in seconds when the frame arrived.
  Each connection gets a session of its own (label ``seed001 /ws/gaze``, ``user_id`` from ``?user_id=``),
  ended with its report when the connection closes.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any, ClassVar

from fastapi import Request, WebSocket
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from gazescope import __version__
from gazescope.api.seeds.base import (
    Inbound,
    ProtocolError,
    State,
    WireFormat,
    implicit_session,
    loads_object,
    number,
    routers,
)
from gazescope.api.ws.tracking import run_tracking
from gazescope.domain import Direction, FrameFeatures

router, _ = routers("seed 001")

PLACEHOLDER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gazescope</title></head>
<body><h1>gazescope</h1><p>The web app is not installed in this build.</p>
<p>API documentation: <a href="/docs">/docs</a></p></body></html>
"""
_BACKEND_MODULES = {"mediapipe": "mediapipe", "dlib": "dlib"}


class GazeServiceWire(WireFormat):
    """Seed 001's ``/ws/gaze`` (see module docstring).

    ``PythonGazeData``: ``timestamp`` (epoch seconds), ``pupil_left``/``pupil_right`` ([x, y] frame
    pixels or null), ``horizontal_ratio``/``vertical_ratio`` (0..1 or null), ``is_left``/``is_right``/
    ``is_center`` (GazeTracking: horizontal_ratio <= 0.35 right, >= 0.65 left, else centre; all false when
    the pupils are not found or the eyes are closed), ``is_blinking``, ``attention_score`` (0..1),
    ``frame_processed``.
    """

    name = "seed001"
    announces = False
    FRAME_KEYS: ClassVar[tuple[str, ...]] = ("frame", "image", "data")

    def parse_text(self, text: str) -> Inbound:
        stripped = text.lstrip()
        if not stripped.startswith("{"):
            return Inbound("frame", payload=stripped)  # raw base64 or data URL
        msg = loads_object(stripped)
        mtype = msg.get("type")
        if isinstance(mtype, str) and mtype and mtype != "frame":
            return Inbound(mtype, body=msg)
        for key in self.FRAME_KEYS:
            data = msg.get(key)
            if isinstance(data, str) and data:
                t = number(msg.get("timestamp"))
                return Inbound(
                    "frame", payload=data, client_t_ms=t if t is not None else number(msg.get("t_ms"))
                )
        raise ProtocolError("bad_message", "send a base64 frame, a data URL, or JSON with a 'frame' key")

    @staticmethod
    def empty(epoch_ms: float) -> dict[str, Any]:
        """PythonGazeData of a frame that gave nothing (``frame_processed`` false)."""
        return {
            "timestamp": round(epoch_ms / 1000.0, 3),
            "pupil_left": None,
            "pupil_right": None,
            "horizontal_ratio": None,
            "vertical_ratio": None,
            "is_left": False,
            "is_right": False,
            "is_center": False,
            "is_blinking": False,
            "attention_score": 0.0,
            "frame_processed": False,
        }

    def sample(
        self,
        sample: dict[str, Any],
        inbound: Inbound,
        epoch_ms: float,
        features: FrameFeatures | None = None,
    ) -> dict[str, Any]:
        out = self.empty(epoch_ms)
        blinking = bool(sample.get("is_blinking"))
        direction = sample.get("direction") if not blinking else None
        out.update(
            pupil_left=sample.get("pupil_left_px"),
            pupil_right=sample.get("pupil_right_px"),
            horizontal_ratio=sample.get("horizontal_ratio"),
            vertical_ratio=sample.get("vertical_ratio"),
            is_left=direction == Direction.LEFT.value,
            is_right=direction == Direction.RIGHT.value,
            is_center=direction == Direction.CENTER.value,
            is_blinking=blinking,
            attention_score=float(sample.get("attention_score") or 0.0),
            frame_processed=True,
        )
        return {"type": "gaze_data", "data": out}

    def error(self, code: str, message: str, inbound: Inbound | None = None) -> dict[str, Any]:
        out = self.empty(time.time() * 1000.0)
        out.update(error=code, message=message)
        return {"type": "gaze_data", "data": out}

    def dropped(self, inbound: Inbound, epoch_ms: float) -> dict[str, Any]:
        out = self.empty(epoch_ms)
        out.update(error="frame_dropped", message="a newer frame arrived before this one was processed")
        return {"type": "gaze_data", "data": out}

    def pong(self, inbound: Inbound) -> dict[str, Any]:
        return {"type": "pong"}


def wants_html(request: Request) -> bool:
    """True when the client asks for HTML before JSON (a browser navigating to the page)."""
    accept = request.headers.get("accept", "")
    if "text/html" not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or accept.find("text/html") < json_at


def gaze_tracking_available(backend: str) -> bool:
    """Whether the configured landmark backend's package is installed (not loaded: that is per frame)."""
    module = _BACKEND_MODULES.get(backend)
    return module is not None and importlib.util.find_spec(module) is not None


@router.get("/", response_model=None)
async def root(request: Request, state: State) -> Any:
    """Service information (JSON); a browser asking for HTML is redirected to ``/app/``."""
    if wants_html(request):
        return RedirectResponse("/app/", status_code=307)
    return {
        "message": "gazescope gaze tracking service",
        "service": "gazescope",
        "version": __version__,
        "status": "running",
        "store": state.settings.store_kind,
        "docs": "/docs",
        "app": "/app/",
        "endpoints": {
            "websocket": "/ws/gaze",
            "health": "/health",
            "sessions": "/api/sessions",
            "tracking_ws": "/ws/sessions/{session_id}/track",
            "live_ws": "/ws/sessions/{session_id}/live",
            "gaze_ws": "/ws/gaze",
            "eye_contact_ws": "/ws",
            "metrics": "/metrics",
        },
        "message_types": state.handlers.message_types(),
    }


@router.get("/health")
async def health(state: State) -> Any:
    """Health check: ``{"status": "healthy", "service", "gaze_tracking_available", ...}``, or 503
    ``unhealthy`` when the store fails."""
    try:
        ok = await state.io(state.store.ping)
    except Exception:
        ok = False
    body = {
        "status": "healthy" if ok else "unhealthy",
        "service": "gazescope",
        "version": __version__,
        "gaze_tracking_available": gaze_tracking_available(state.settings.landmark_backend),
        "store": state.settings.store_kind,
        "active_sessions": len(state.connections),
    }
    return JSONResponse(body, status_code=200 if ok else 503)


def placeholder_app() -> HTMLResponse:
    """``/app/`` while the web app is not installed."""
    return HTMLResponse(PLACEHOLDER_HTML)


@router.websocket("/ws/gaze")
async def gaze_ws(ws: WebSocket) -> None:
    """Seed 001's WebSocket (see module docstring)."""
    await run_tracking(
        ws, None, GazeServiceWire(), "seed001", implicit=implicit_session(ws, "seed001 /ws/gaze")
    )
