"""Live observer WebSockets: every message a session's tracking connection publishes, as it happens."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from gazescope.api import logs
from gazescope.api.deps import app_state
from gazescope.api.security import guard_websocket
from gazescope.api.wire import NativeWire
from gazescope.api.ws.tracking import admit, refuse
from gazescope.engine.transport import CloseCode
from gazescope.errors import GazescopeError, SessionNotFoundError
from gazescope.services import lifecycle


async def run_live(ws: WebSocket, session_id: str) -> None:
    """Serve a live observer WebSocket: first ``{"type": "session", "session": {...}}``, then every message the
    session's tracking connection publishes (``sample``, ``event``: tracking_started, tracking_stopped,
    session_ended, session_deleted). Closes (1000) after session_ended/session_deleted."""
    state = app_state(ws)
    if not await guard_websocket(ws, state.settings, session_id=session_id, right="live"):
        return
    try:
        info = await lifecycle.get_session(state, session_id)
    except SessionNotFoundError:
        await refuse(ws, NativeWire(), CloseCode.SESSION_NOT_FOUND, "session_not_found", "no such session")
        return
    except GazescopeError as exc:
        await refuse(ws, NativeWire(), CloseCode.INTERNAL_ERROR, exc.code, "the session store is unavailable")
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
                        await ws.close(code=int(CloseCode.NORMAL), reason=str(message["event"]))
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
                await ws.close(code=int(CloseCode.INTERNAL_ERROR), reason="live hub unavailable")
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
