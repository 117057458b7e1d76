"""Tracking and live WebSockets: ``/ws/sessions/{id}/track`` and ``/ws/sessions/{id}/live``."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from gazescope.api.wire import NativeWire
from gazescope.api.ws.live import run_live
from gazescope.api.ws.tracking import run_tracking

router = APIRouter(tags=["tracking"])


@router.websocket("/ws/sessions/{session_id}/track")
async def track(ws: WebSocket, session_id: str) -> None:
    """Tracking WebSocket (docs/engine.md and :class:`~gazescope.api.wire.NativeWire`): binary JPEG/PNG
    frames or ``{"type": "frame", "data": <base64|data URL>, "t_ms": <client ms>}``; replies
    ``{"type": "sample", ...}`` per processed frame, ``{"type": "error", "code", "message"}``."""
    await run_tracking(ws, session_id, NativeWire(), "track")


@router.websocket("/ws/sessions/{session_id}/live")
async def live(ws: WebSocket, session_id: str) -> None:
    """Live observer WebSocket: first ``{"type": "session", "session": {...}}``, then every message the
    session's tracking connection publishes (``sample``, ``event``: tracking_started, tracking_stopped,
    session_ended, session_deleted). Closes (1000) after session_ended/session_deleted."""
    await run_live(ws, session_id)
