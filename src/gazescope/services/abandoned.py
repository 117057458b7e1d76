"""Ending abandoned sessions: a session whose tracking connection ended (a closed tab, a lost network, a
crashed or stopped server) and that no connection took up again for ``Settings.session_abandon_after_s``
is ended with its report, as ``POST /api/sessions/{id}/end`` would (:func:`lifecycle.end_session_locked`).

The app runs :func:`sweep_abandoned_sessions` in the background; each pass reads the tracking activity
records (:mod:`gazescope.storage.tracking_activity`: only sessions that had a connection and are not ended) and, per
candidate under the session lock (across processes on Redis, so one process ends a session):

* a record that says *connected* but whose connection no process serves (its server crashed or was
  killed: the Redis owner key expired, or this process restarted) is marked disconnected now, so the
  session gets the full timeout from the moment the loss was seen;
* a record *disconnected* for ``session_abandon_after_s`` or more, of a session still not served, ends
  the session.

A new connection (a reload, a takeover, a continuation) claims the session under the same lock and
rewrites the record as connected, so a session that got one is never ended. Records live in the store, so
a restarted server still ends what was left active. Sessions that never had a tracking connection have no
record and are left alone (a participant may read instructions for long before starting).
"""

from __future__ import annotations

import asyncio
import logging

from gazescope.config import Settings
from gazescope.errors import GazescopeError, SessionNotFoundError
from gazescope.services import lifecycle
from gazescope.services.lifecycle import SessionsContext
from gazescope.storage import tracking_activity


def sweep_interval_s(settings: Settings) -> float:
    """Seconds between two passes: a quarter of ``session_abandon_after_s``, within 0.25-30 s, so a session
    is ended between the timeout and the timeout plus one interval after its connection ended."""
    return min(max(settings.session_abandon_after_s / 4.0, 0.25), 30.0)


async def end_abandoned_sessions(state: SessionsContext) -> list[str]:
    """One pass (see module docstring). Returns the ids of the sessions it ended. Raises the store's
    errors (``StorageError``) when the records cannot be read; a session that fails to end is logged and
    retried at the next pass."""
    after_ms = state.settings.session_abandon_after_s * 1000.0
    if after_ms <= 0:
        return []
    now = tracking_activity.now_ms()
    records = await state.io(tracking_activity.list_all, state.store)
    candidates = [
        r.session_id
        for r in records
        if r.session_id not in state.connections and (r.connected or now - r.since_ms >= after_ms)
    ]
    if not candidates:
        return []
    served = await state.ownership.tracking(candidates)
    ended: list[str] = []
    for session_id in candidates:
        if session_id in served:
            continue
        try:
            if await _settle(state, session_id, after_ms):
                ended.append(session_id)
        except GazescopeError as exc:
            state.logs.event(
                "abandoned_end_failed", level=logging.WARNING, session_id=session_id, error=exc.message
            )
    return ended


async def _settle(state: SessionsContext, session_id: str, after_ms: float) -> bool:
    """Under the session lock, look again and end the session when it is abandoned; True when ended."""
    lock = state.session_lock(session_id)
    try:
        async with lock:
            current, _ = await state.io(tracking_activity.get, state.store, session_id)
            if current is None:  # ended or deleted meanwhile (here or by another process)
                return False
            if session_id in state.connections or await state.ownership.tracking([session_id]):
                return False  # a connection took it up
            if current.connected:  # no one serves it and no one said goodbye: its server went away
                await state.io(tracking_activity.mark_disconnected, state.store, session_id, current.conn_id)
                state.logs.event("tracking_connection_lost", session_id=session_id, conn=current.conn_id)
                return False
            if tracking_activity.now_ms() - current.since_ms < after_ms:
                return False
            try:
                info = await lifecycle.get_session(state, session_id)
            except SessionNotFoundError:
                await state.io(tracking_activity.clear, state.store, session_id)
                return False
            if info.status == "ended":
                await state.io(tracking_activity.clear, state.store, session_id)
                return False
            await lifecycle.end_session_locked(state, session_id, reason="abandoned")
            state.logs.event(
                "session_abandoned",
                session_id=session_id,
                disconnected_s=round((tracking_activity.now_ms() - current.since_ms) / 1000.0, 1),
            )
            return True
    finally:
        state.release_session_lock(session_id)


async def sweep_abandoned_sessions(state: SessionsContext) -> None:
    """Run :func:`end_abandoned_sessions` every :func:`sweep_interval_s` until cancelled (the app
    lifespan); returns at once when ``session_abandon_after_s`` is 0. Failures are logged and retried."""
    if state.settings.session_abandon_after_s <= 0:
        return
    interval = sweep_interval_s(state.settings)
    while True:
        await asyncio.sleep(interval)
        try:
            await end_abandoned_sessions(state)
        except GazescopeError as exc:
            state.logs.event("abandoned_sweep_failed", level=logging.WARNING, error=exc.message)
        except Exception:
            state.logs.log.exception("abandoned-session sweep failed")
