"""What the store refused, held and retried: samples of finished connections and session ends
(docs/engine.md, "Storage")."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from gazescope.engine.context import StoreContext
from gazescope.errors import SessionNotFoundError
from gazescope.storage import frame_indices


@dataclass
class _Held:
    """What one session still owes the store."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    dropped_frames: int | None = None
    end: bool = False
    since: float = field(default_factory=time.monotonic)


class StoreBacklog:
    """Per-app holder of unstored samples and session ends.

    A background task retries every ``Settings.store_retry_s`` until the store takes them, within
    ``Settings.store_backlog_max_samples`` (held across sessions; past it the oldest are dropped) and
    ``Settings.store_backlog_max_s`` (a session whose writes failed this long is given up; only samples
    or a dropped count stored restart its clock). What is given up, or still held when the server stops,
    is logged at ERROR as ``samples_lost`` / ``session_end_lost``. Work on one session is serialised, and
    appends are idempotent by ``frame_index``, so a retry racing a new connection stores nothing twice.

    Args:
        state: the app's storage context (store, settings, metrics, logs).
        end_session: ``await end_session(session_id)`` ends a session, report included (held ends).
    """

    def __init__(self, state: StoreContext, end_session: Callable[[str], Awaitable[None]]) -> None:
        self._state = state
        self._end_session = end_session
        self._logs = state.logs
        self._held: dict[str, _Held] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # --- what others call ----------------------------------------------------------------------------

    @property
    def held_samples(self) -> int:
        """Samples held across all sessions."""
        return sum(len(h.samples) for h in self._held.values())

    def sessions(self) -> list[str]:
        """Ids of the sessions with something held."""
        return list(self._held)

    def hold(self, session_id: str, samples: list[dict[str, Any]], dropped_frames: int | None) -> None:
        """Keep a finished connection's unstored ``samples`` (in order) and its session's final
        ``dropped_frames`` (None: nothing to record) until the store takes them."""
        held = self._held.setdefault(session_id, _Held())
        held.samples.extend(samples)
        if dropped_frames is not None:
            held.dropped_frames = dropped_frames
        self._enforce_bound()
        self._logs.event(
            "store_backlog_hold",
            level=logging.WARNING,
            session_id=session_id,
            samples=len(samples),
            held_total=self.held_samples,
        )
        self._start()

    def hold_end(self, session_id: str) -> None:
        """End ``session_id`` (report included) once its held samples are stored."""
        self._held.setdefault(session_id, _Held()).end = True
        self._logs.event("store_backlog_hold_end", level=logging.WARNING, session_id=session_id)
        self._start()

    def discard(self, session_id: str) -> None:
        """Forget what ``session_id`` owes (it was deleted)."""
        self._held.pop(session_id, None)

    async def drain(self, session_id: str) -> None:
        """Store what ``session_id`` holds now (samples, dropped count; not its end). Raises the store's
        error (``StorageError``) when it still fails; a missing session drops what it held."""
        async with self._lock:
            await self._store(session_id)

    async def continuation(self, session_id: str) -> frame_indices.Continuation:
        """Where ``session_id`` continues (next frame index, last sample), read after :meth:`drain`, so
        nothing added next reuses the frame index of a sample held since an outage. Raises what
        :meth:`drain` and the store raise."""
        await self.drain(session_id)
        return await self._state.io(frame_indices.continuation, self._state.store, session_id)

    async def close(self) -> None:
        """Stop retrying after one last try; log what is lost (the server stops)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._retry_all(final=True)

    # --- retrying ------------------------------------------------------------------------------------

    def _start(self) -> None:
        if self._closed or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="gs-store-backlog")

    async def _run(self) -> None:
        while self._held:
            await asyncio.sleep(self._state.settings.store_retry_s)
            await self._retry_all(final=False)

    async def _retry_all(self, *, final: bool) -> None:
        s = self._state.settings
        for session_id in list(self._held):
            try:
                await self.drain(session_id)
                held = self._held.get(session_id)
                if held is not None and held.end:
                    await self._end_session(session_id)  # drains again: nothing left
                    self._held.pop(session_id, None)
                    self._logs.event("store_backlog_session_ended", session_id=session_id)
            except SessionNotFoundError:
                self._held.pop(session_id, None)
            except Exception as exc:
                held = self._held.get(session_id)
                if held is None:
                    continue
                if final or time.monotonic() - held.since > s.store_backlog_max_s:
                    self._give_up(session_id, "server stopping" if final else "store_backlog_max_s")
                else:
                    self._logs.event(
                        "store_backlog_retry_failed",
                        level=logging.WARNING,
                        session_id=session_id,
                        held=len(held.samples),
                        error=str(exc),
                    )

    async def _store(self, session_id: str) -> None:
        held = self._held.get(session_id)
        if held is None:
            return
        store, io = self._state.store, self._state.io
        wrote = False
        try:
            if held.samples:
                await io(store.append_samples, session_id, held.samples)
                self._state.metrics.samples_stored.inc(len(held.samples))
                self._logs.event("store_backlog_stored", session_id=session_id, samples=len(held.samples))
                held.samples = []
                wrote = True
            if held.dropped_frames is not None:
                await io(store.update_session, session_id, dropped_frames=held.dropped_frames)
                held.dropped_frames = None
                wrote = True
        except SessionNotFoundError:
            self._held.pop(session_id, None)
            self._logs.event("tracking_session_gone", session_id=session_id, lost_samples=len(held.samples))
            raise
        if not held.end:
            self._held.pop(session_id, None)
        if wrote:  # progress: the store_backlog_max_s clock restarts (a held end failing alone never does)
            held.since = time.monotonic()

    def _enforce_bound(self) -> None:
        limit = self._state.settings.store_backlog_max_samples
        excess = self.held_samples - limit
        for session_id, held in list(self._held.items()):  # oldest sessions first
            if excess <= 0:
                return
            n = min(excess, len(held.samples))
            if n:
                del held.samples[:n]
                excess -= n
                self._logs.event(
                    "samples_lost",
                    level=logging.ERROR,
                    session_id=session_id,
                    lost=n,
                    reason="store_backlog_max_samples",
                    limit=limit,
                )

    def _give_up(self, session_id: str, reason: str) -> None:
        held = self._held.pop(session_id)
        if held.samples:
            self._logs.event(
                "samples_lost",
                level=logging.ERROR,
                session_id=session_id,
                lost=len(held.samples),
                reason=reason,
            )
        if held.end:
            self._logs.event("session_end_lost", level=logging.ERROR, session_id=session_id, reason=reason)
