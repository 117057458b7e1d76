"""Tracking and live WebSockets: ``/ws/sessions/{id}/track`` and ``/ws/sessions/{id}/live``.

:func:`run_tracking` is the shared runner of every tracking WebSocket (ours and the seed-compatible ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from gazescope.api import logs, service
from gazescope.api.security import deny_websocket, guard_websocket
from gazescope.api.state import AppState, ws_state
from gazescope.api.tracking import (
    WS_INTERNAL_ERROR,
    WS_NORMAL,
    WS_SESSION_ENDED,
    WS_SESSION_NOT_FOUND,
    TrackingConnection,
)
from gazescope.api.wire import NativeWire, WireFormat
from gazescope.errors import GazescopeError, SessionNotFoundError

router = APIRouter(tags=["tracking"])


async def _refuse(ws: WebSocket, wire: WireFormat, code: int, error_code: str, message: str) -> None:
    """Accept, send one error message, and close with ``code`` (so the client sees why)."""
    await ws.accept()
    with contextlib.suppress(Exception):
        await ws.send_text(json.dumps(wire.error(error_code, message)))
        await ws.close(code=code, reason=message[:120])


async def _end_implicit(state: Any, session_id: str) -> None:
    """End a seed connection's own session (report stored); when the store is down, hold the end for the
    backlog, which retries it once the store is back."""
    try:
        await service.end_session(state, session_id)
    except GazescopeError as exc:  # the store is down: end it once the store is back
        logs.event("implicit_session_end_failed", session_id=session_id, error=exc.message)
        state.backlog.hold_end(session_id)


def client_address(ws: WebSocket) -> str:
    """The client address connection limits count by (the TCP peer)."""
    return ws.client.host if ws.client is not None else "unknown"


async def admit(ws: WebSocket, state: AppState) -> str | None:
    """Take a connection slot (``Settings.max_connections``, ``max_connections_per_client``) for ``ws``
    before it is accepted; refuse it with HTTP 503 and the reason and return None when none is free.
    Returns the client address to :meth:`~gazescope.api.limits.ConnectionSlots.release` it with."""
    client = client_address(ws)
    assert state.ws_slots is not None
    refusal = state.ws_slots.acquire(client)
    if refusal is None:
        return client
    limit, reason = refusal
    state.metrics.refused.labels(reason=limit).inc()
    logs.event("ws_refused", path=ws.url.path, reason=limit, client=client)
    with contextlib.suppress(Exception):
        await deny_websocket(ws, 503, reason)
    return None


async def run_tracking(
    ws: WebSocket,
    session_id: str | None,
    wire: WireFormat,
    route: str,
    *,
    implicit: dict[str, Any] | None = None,
) -> None:
    """Serve a tracking WebSocket bound to ``session_id``, or, with ``implicit`` (session fields), to a
    session created for this connection and ended (report stored) when it closes."""
    state = ws_state(ws)
    if not await guard_websocket(ws, state.settings):
        return
    client = await admit(ws, state)
    if client is None:
        return
    gauge = state.metrics.active_connections.labels(kind=route)
    gauge.inc()
    try:
        if implicit is not None:
            try:
                info = await service.create_session(state, **implicit)
            except GazescopeError as exc:
                await _refuse(ws, wire, WS_INTERNAL_ERROR, exc.code, exc.message)
                return
            session_id = info.id
        assert session_id is not None
        lock = state.session_lock(session_id)
        conn: TrackingConnection | None = None
        claimed = False
        try:
            async with lock:
                try:
                    info = await service.get_session(state, session_id)
                except SessionNotFoundError:
                    await _refuse(
                        ws,
                        wire,
                        WS_SESSION_NOT_FOUND,
                        "session_not_found",
                        f"no session {session_id[:128]!r}",
                    )
                    return
                except GazescopeError as exc:  # the store is unreachable
                    logs.event("tracking_lookup_failed", session_id=session_id, error=exc.message)
                    await _refuse(ws, wire, WS_INTERNAL_ERROR, exc.code, "the session store is unavailable")
                    return
                if info.status == "ended":
                    await _refuse(
                        ws, wire, WS_SESSION_ENDED, "session_ended", "the session has ended; start a new one"
                    )
                    return
                await ws.accept()
                conn = TrackingConnection(state, ws, info, wire, route)
                try:
                    await conn.claim()
                except GazescopeError as exc:
                    conn.release_claim()
                    logs.event("tracking_claim_failed", session_id=session_id, error=exc.message)
                    with contextlib.suppress(Exception):
                        await ws.send_text(json.dumps(wire.error(exc.code, exc.message)))
                        await ws.close(code=WS_INTERNAL_ERROR, reason="store unavailable")
                    return
                claimed = True
        except GazescopeError as exc:  # the session lock's store (Redis, shared by instances) failed
            logs.event("tracking_lock_failed", session_id=session_id, error=exc.message)
            if not claimed:
                if conn is None:  # not accepted yet: answer like an unreachable store, not an HTTP 503
                    await _refuse(ws, wire, WS_INTERNAL_ERROR, exc.code, "the session store is unavailable")
                return
            # claimed, only the lock's release failed: it expires by itself (session_lock_ttl_s)
        finally:
            state.release_session_lock(session_id)
        assert conn is not None
        await conn.serve()
    finally:
        gauge.dec()
        assert state.ws_slots is not None
        state.ws_slots.release(client)
        # a seed session ends with its connection however it ends: also when it never served (lookup or
        # claim failed, an early return, the session lock raised)
        if implicit is not None and session_id is not None:
            await _end_implicit(state, session_id)


@router.websocket("/ws/sessions/{session_id}/track")
async def track(ws: WebSocket, session_id: str) -> None:
    """Tracking WebSocket (see :mod:`gazescope.api.tracking` and :class:`~gazescope.api.wire.NativeWire`):
    binary JPEG/PNG frames or ``{"type": "frame", "data": <base64|data URL>, "t_ms": <client ms>}``;
    replies ``{"type": "sample", ...}`` per processed frame, ``{"type": "error", "code", "message"}``."""
    await run_tracking(ws, session_id, NativeWire(), "track")


@router.websocket("/ws/sessions/{session_id}/live")
async def live(ws: WebSocket, session_id: str) -> None:
    """Live observer WebSocket: first ``{"type": "session", "session": {...}}``, then every message the
    session's tracking connection publishes (``sample``, ``event``: tracking_started, tracking_stopped,
    session_ended, session_deleted). Closes (1000) after session_ended/session_deleted."""
    state = ws_state(ws)
    if not await guard_websocket(ws, state.settings):
        return
    try:
        info = await service.get_session(state, session_id)
    except SessionNotFoundError:
        await _refuse(ws, NativeWire(), WS_SESSION_NOT_FOUND, "session_not_found", "no such session")
        return
    except GazescopeError as exc:
        await _refuse(ws, NativeWire(), WS_INTERNAL_ERROR, exc.code, "the session store is unavailable")
        return
    client = await admit(ws, state)
    if client is None:
        return
    gauge = state.metrics.active_connections.labels(kind="live")
    gauge.inc()
    try:
        await ws.accept()
        async with state.hub.subscribe(session_id) as sub:
            await ws.send_text(
                json.dumps(
                    {
                        "type": "session",
                        "session": info.to_dict(),
                        "tracking": session_id in await state.ownership.tracking([session_id]),
                    }
                )
            )

            async def watch_client() -> None:
                while True:
                    msg = await ws.receive()
                    if msg["type"] == "websocket.disconnect":
                        return

            watcher = asyncio.create_task(watch_client())
            try:
                async for message in _until(sub, watcher):
                    await ws.send_text(json.dumps(message))
                    if message.get("type") == "event" and message.get("event") in (
                        "session_ended",
                        "session_deleted",
                    ):
                        await ws.close(code=WS_NORMAL, reason=str(message["event"]))
                        break
            finally:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watcher
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    except GazescopeError as exc:
        logs.event("live_subscribe_failed", session_id=session_id, error=exc.message)
        if ws.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await ws.close(code=WS_INTERNAL_ERROR, reason="live hub unavailable")
    finally:
        gauge.dec()
        assert state.ws_slots is not None
        state.ws_slots.release(client)


async def _until(sub: Any, watcher: asyncio.Task[None]) -> Any:
    """Messages of ``sub`` until it ends or ``watcher`` (the client's side) finishes."""
    it = sub.__aiter__()
    while True:
        nxt = asyncio.ensure_future(it.__anext__())
        done, _ = await asyncio.wait({nxt, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if nxt not in done:
            nxt.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await nxt
            return
        try:
            yield nxt.result()
        except StopAsyncIteration:
            return
