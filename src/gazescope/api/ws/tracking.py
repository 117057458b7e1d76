"""Tracking WebSockets on the engine: :class:`WebSocketTransport` adapts a Starlette WebSocket to
:class:`~gazescope.engine.transport.Transport`, and :func:`run_tracking` serves every tracking route
(ours and the seed-compatible ones)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from gazescope.api import logs
from gazescope.api.deps import app_state
from gazescope.api.security import deny_websocket, guard_websocket
from gazescope.api.state import AppState
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.transport import CloseCode, Disconnected, TransportError
from gazescope.engine.wire import WireFormat
from gazescope.errors import GazescopeError, SessionNotFoundError
from gazescope.services import lifecycle


class WebSocketTransport:
    """A Starlette WebSocket (accepted) as the engine's transport."""

    __slots__ = ("ws",)

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws

    @property
    def connected(self) -> bool:
        return self.ws.application_state == WebSocketState.CONNECTED

    async def send_text(self, text: str) -> None:
        try:
            await self.ws.send_text(text)
        except (WebSocketDisconnect, RuntimeError) as exc:
            raise TransportError(str(exc)) from exc

    async def receive(self) -> str | bytes:
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError) as exc:
            raise TransportError(str(exc)) from exc
        if message["type"] == "websocket.disconnect":
            raise Disconnected(message.get("code"))
        data = message.get("bytes")
        return data if data is not None else (message.get("text") or "")

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code=int(code), reason=reason)


async def refuse(ws: WebSocket, wire: WireFormat, code: int, error_code: str, message: str) -> None:
    """Accept, send one error message, and close with ``code`` (so the client sees why)."""
    await ws.accept()
    with contextlib.suppress(Exception):
        await ws.send_text(json.dumps(wire.error(error_code, message)))
        await ws.close(code=int(code), reason=message[:120])


async def _end_implicit(state: AppState, session_id: str) -> None:
    """End a seed connection's own session (report stored); when the store is down, hold the end for the
    backlog, which retries it once the store is back."""
    try:
        await lifecycle.end_session(state, session_id)
    except GazescopeError as exc:  # the store is down: end it once the store is back
        logs.event("implicit_session_end_failed", session_id=session_id, error=exc.message)
        state.backlog.hold_end(session_id)


def client_address(ws: WebSocket) -> str:
    """The client address connection limits count by (the TCP peer)."""
    return ws.client.host if ws.client is not None else "unknown"


async def admit(ws: WebSocket, state: AppState) -> str | None:
    """Take a connection slot (``Settings.max_connections``, ``max_connections_per_client``) for ``ws``
    before it is accepted; refuse it with HTTP 503 and the reason and return None when none is free.
    Returns the client address to :meth:`~gazescope.api.connection_slots.ConnectionSlots.release` it with."""
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
    state = app_state(ws)
    if not await guard_websocket(ws, state.settings, session_id=session_id, right="track"):
        return
    client = await admit(ws, state)
    if client is None:
        return
    gauge = state.metrics.active_connections.labels(kind=route)
    gauge.inc()
    try:
        if implicit is not None:
            try:
                info = await lifecycle.create_session(state, **implicit)
            except GazescopeError as exc:
                await refuse(ws, wire, CloseCode.INTERNAL_ERROR, exc.code, exc.message)
                return
            session_id = info.id
        assert session_id is not None
        lock = state.session_lock(session_id)
        conn: TrackingConnection[AppState] | None = None
        claimed = False
        try:
            async with lock:
                try:
                    info = await lifecycle.get_session(state, session_id)
                except SessionNotFoundError:
                    await refuse(
                        ws,
                        wire,
                        CloseCode.SESSION_NOT_FOUND,
                        "session_not_found",
                        f"no session {session_id[:128]!r}",
                    )
                    return
                except GazescopeError as exc:  # the store is unreachable
                    logs.event("tracking_lookup_failed", session_id=session_id, error=exc.message)
                    await refuse(
                        ws, wire, CloseCode.INTERNAL_ERROR, exc.code, "the session store is unavailable"
                    )
                    return
                if info.status == "ended":
                    await refuse(
                        ws,
                        wire,
                        CloseCode.SESSION_ENDED,
                        "session_ended",
                        "the session has ended; start a new one",
                    )
                    return
                await ws.accept()
                conn = TrackingConnection(state, WebSocketTransport(ws), info, wire, route)
                try:
                    await conn.claim()
                except GazescopeError as exc:
                    conn.release_claim()
                    logs.event("tracking_claim_failed", session_id=session_id, error=exc.message)
                    with contextlib.suppress(Exception):
                        await ws.send_text(json.dumps(wire.error(exc.code, exc.message)))
                        await ws.close(code=int(CloseCode.INTERNAL_ERROR), reason="store unavailable")
                    return
                claimed = True
        except GazescopeError as exc:  # the session lock's store (Redis, shared by instances) failed
            logs.event("tracking_lock_failed", session_id=session_id, error=exc.message)
            if not claimed:
                if conn is None:  # not accepted yet: answer like an unreachable store, not an HTTP 503
                    await refuse(
                        ws, wire, CloseCode.INTERNAL_ERROR, exc.code, "the session store is unavailable"
                    )
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
