"""Session lifecycle shared by the REST routes, the seed-compatible routes and the WebSockets: create, get,
report, end, delete.

They run the blocking store calls in a thread (``ctx.io``) and report building in the CPU pool
(``ctx.cpu``), and coordinate with open tracking connections: ending or deleting a session first
closes its tracking connection and waits until its samples are flushed, under a per-session lock, so no
sample is lost or written after the end.
"""

from __future__ import annotations

import time
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any, Protocol

from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.engine.connection import EngineContext
from gazescope.engine.transport import CloseCode
from gazescope.errors import GazescopeError
from gazescope.services import quotas
from gazescope.services.reports import report_context, stimulus_aois, with_current_aois
from gazescope.storage import tracking_activity
from gazescope.storage.base import Store
from gazescope.storage.ownership import StopRequest


class SessionsContext(EngineContext, Protocol):
    """The engine's context plus the per-session lock that serialises claim, end and delete
    (``gazescope.api.state.AppState`` is one)."""

    def session_lock(self, session_id: str) -> AbstractAsyncContextManager[Any]: ...

    def release_session_lock(self, session_id: str) -> None: ...


def new_session_id() -> str:
    """A fresh session id (32 hex digits of a random UUID4)."""
    return uuid.uuid4().hex


async def create_session(state: SessionsContext, session_id: str | None = None, **fields: Any) -> SessionInfo:
    """Create and store a session with ``fields`` (``SessionInfo`` fields); returns it as stored.

    Raises ``ValidationError`` (code ``session_exists``) for a taken id, ``QuotaExceededError`` when
    ``Settings.max_sessions`` are stored already, ``StorageError`` when the store fails.
    """
    await state.io(quotas.check_new_session, state.store, state.settings.quotas)
    info = SessionInfo(
        id=session_id or new_session_id(),
        created_at_ms=round(time.time() * 1000.0, 3),
        **{k: v for k, v in fields.items() if v is not None},
    )
    stored = await state.io(state.store.create_session, info)
    state.logs.event("session_created", session_id=stored.id, user_id=stored.user_id)
    return stored


async def get_session(state: SessionsContext, session_id: str) -> SessionInfo:
    """The stored session; ``SessionNotFoundError`` when unknown (invalid ids are unknown too)."""
    return await state.io(state.store.get_session, session_id)


async def build_report(state: SessionsContext, info: SessionInfo) -> dict[str, Any]:
    """The report of a session's stored samples (analytics ``build_session_report`` with
    :func:`gazescope.services.reports.report_context`), not stored."""
    from gazescope.analytics.report import build_session_report

    samples = await state.io(state.store.get_samples, info.id)
    # AOIs of the session's stimulus and the calibration accuracy (heatmap kernel), when stored
    context = await state.io(report_context, state.store, info, profiles_dir=state.settings.profiles_dir)
    context["quality"], context["activity"] = state.settings.data_quality, state.settings.activity
    report = (await state.cpu(build_session_report, info.to_dict(), samples, **context)).to_dict()
    report["session_id"] = info.id
    return report


async def current_report(state: SessionsContext, info: SessionInfo) -> dict[str, Any]:
    """The session's report as served: the stored report with its AOI figures recomputed for the
    stimulus' current AOIs (:func:`gazescope.services.reports.with_current_aois`, so AOIs defined after
    the session ended have figures), or for a running session a provisional report over the samples
    stored so far (``provisional: true``, not stored)."""
    report = await state.io(state.store.get_report, info.id)
    if report is None:
        report = await build_report(state, info)
        report["provisional"] = True
        return report
    current = await state.io(stimulus_aois, state.store, info)
    if current is None or not report.get("has_gaze"):
        return report
    samples = await state.io(state.store.get_samples, info.id)
    return await state.cpu(with_current_aois, report, samples, current)


def current_report_blocking(store: Store, settings: Settings, info: SessionInfo) -> dict[str, Any]:
    """:func:`current_report` in one blocking call (store reads and computing), for a bounded pool
    (``gazescope.api.analytics_pool``): the session's samples are held only while it runs."""
    from gazescope.analytics.report import build_session_report

    report = store.get_report(info.id)
    if report is None:
        samples = store.get_samples(info.id)
        context = report_context(store, info, profiles_dir=settings.profiles_dir)
        context["quality"], context["activity"] = settings.data_quality, settings.activity
        report = build_session_report(info.to_dict(), samples, **context).to_dict()
        report["session_id"] = info.id
        report["provisional"] = True
        return report
    current = stimulus_aois(store, info)
    if current is None or not report.get("has_gaze"):
        return report
    return with_current_aois(report, store.get_samples(info.id), current)


async def end_session(state: SessionsContext, session_id: str) -> dict[str, Any]:
    """End a session: close its tracking connection (flushing it), build, store and return the report.

    Idempotent: a session already ended returns its stored report. ``SessionNotFoundError`` when unknown.
    """
    lock = state.session_lock(session_id)
    try:
        async with lock:
            return await end_session_locked(state, session_id)
    finally:
        state.release_session_lock(session_id)


async def end_session_locked(
    state: SessionsContext, session_id: str, *, reason: str = "end"
) -> dict[str, Any]:
    """:func:`end_session` for a caller that holds the session lock (``state.session_lock``).
    ``reason`` is logged with the ``session_ended`` event (``end``, ``abandoned`` ...)."""
    conn = state.connections.get(session_id)
    if conn is not None:
        if conn.wire.announces:
            await conn.send({"type": "session_ended", "session_id": session_id})
        await conn.stop(CloseCode.NORMAL, "session ended")
    else:  # tracked by another process (Redis)
        await state.ownership.stop_owner(
            StopRequest(session_id, None, CloseCode.NORMAL, "session ended", announce_end=True)
        )
    await state.backlog.drain(session_id)  # the report covers samples the store refused before
    info = await get_session(state, session_id)
    if info.status == "ended":
        stored = await state.io(state.store.get_report, session_id)
        if stored is not None:
            await _forget_activity(state, session_id)
            return stored
    ended = replace(info, ended_at_ms=info.ended_at_ms or round(time.time() * 1000.0, 3), status="ended")
    report = await build_report(state, ended)
    await state.io(state.store.save_report, session_id, report)
    await state.io(state.store.update_session, session_id, ended_at_ms=ended.ended_at_ms, status="ended")
    await _forget_activity(state, session_id)
    state.logs.event(
        "session_ended",
        session_id=session_id,
        reason=reason,
        frames=report.get("frames"),
        dropped_frames=report.get("dropped_frames"),
    )
    try:
        await state.hub.publish(
            session_id, {"type": "event", "event": "session_ended", "session_id": session_id}
        )
    except Exception as exc:
        state.logs.event("live_publish_failed", session_id=session_id, error=str(exc))
    return report


async def _forget_activity(state: SessionsContext, session_id: str) -> None:
    """Drop the session's tracking activity record: an ended session is no candidate of the abandon sweep
    (best effort: the sweep drops a leftover record of an ended session itself)."""
    try:
        await state.io(tracking_activity.clear, state.store, session_id)
    except GazescopeError as exc:
        state.logs.event("activity_write_failed", session_id=session_id, error=exc.message)


async def delete_session(state: SessionsContext, session_id: str) -> None:
    """Delete every trace of a session (closing its tracking connection first).
    ``SessionNotFoundError`` when unknown."""
    lock = state.session_lock(session_id)
    try:
        async with lock:
            await get_session(state, session_id)
            conn = state.connections.get(session_id)
            if conn is not None:
                await conn.stop(CloseCode.SESSION_DELETED, "session deleted", deleted=True)
            else:
                await state.ownership.stop_owner(
                    StopRequest(session_id, None, CloseCode.SESSION_DELETED, "session deleted", deleted=True)
                )
            await state.io(state.store.delete_session, session_id)
            state.backlog.discard(session_id)
            state.logs.event("session_deleted", session_id=session_id)
            try:
                await state.hub.publish(
                    session_id, {"type": "event", "event": "session_deleted", "session_id": session_id}
                )
            except Exception as exc:
                state.logs.event("live_publish_failed", session_id=session_id, error=str(exc))
    finally:
        state.release_session_lock(session_id)
