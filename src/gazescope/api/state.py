"""What the app's lifespan creates and every route uses: settings, store, live hub, thread pool, metrics,
and the registry of open tracking connections (``app.state.gs``)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request, WebSocket

from gazescope.api.analytics_pool import AnalyticsPool
from gazescope.api.backlog import StoreBacklog
from gazescope.api.metrics import Metrics
from gazescope.config import Settings
from gazescope.storage import LiveHub, Store
from gazescope.storage.ownership import LocalOwnership, SessionOwnership, StopRequest

if TYPE_CHECKING:
    from gazescope.api.tracking import TrackingConnection

T = TypeVar("T")


@dataclass
class AppState:
    """Per-app service objects (one per ``create_app``), created in the lifespan.

    ``executor``: ``settings.worker_threads`` threads for CPU work (decoding, vision, tracking, reports).
    Store calls run in asyncio's default thread pool (:meth:`io`), so slow frames never delay storage.
    ``connections``: the open tracking connection of each session (at most one; a newer one takes over).
    ``backlog``: samples and session ends the store refused, retried in the background.
    ``ownership``: which process tracks each session (:mod:`gazescope.storage.ownership`; across
    processes on Redis).
    ``analytics``: the separate, bounded pool of video overlay renders and video inspection
    (:mod:`gazescope.api.analytics_pool`), so they never take the tracking pool's threads.
    """

    settings: Settings
    store: Store
    hub: LiveHub
    executor: ThreadPoolExecutor
    metrics: Metrics
    connections: dict[str, TrackingConnection] = field(default_factory=dict)
    ownership: SessionOwnership = field(default_factory=LocalOwnership)
    _session_locks: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict)
    backlog: StoreBacklog = field(init=False)
    analytics: AnalyticsPool = field(init=False)

    def __post_init__(self) -> None:
        self.backlog = StoreBacklog(self)
        self.analytics = AnalyticsPool(self.settings.analytics_threads, self.settings.analytics_max_queued)

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the CPU thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call in asyncio's default thread pool."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def session_lock(self, session_id: str) -> _SessionLock:
        """The lock serialising claim/end/delete of one session. Every call must be paired with one
        :meth:`release_session_lock` (in a ``finally``): the lock is kept while anyone holds or waits for
        it (counted), so a waiter never ends up owning a lock that a newcomer no longer sees."""
        lock, users = self._session_locks.get(session_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._session_locks[session_id] = (lock, users + 1)
        return _SessionLock(lock, self.ownership, session_id)

    def release_session_lock(self, session_id: str) -> None:
        """Undo one :meth:`session_lock`; the last user removes the lock."""
        entry = self._session_locks.get(session_id)
        if entry is None:
            return
        lock, users = entry
        if users <= 1:
            del self._session_locks[session_id]
        else:
            self._session_locks[session_id] = (lock, users - 1)

    async def stop_local(self, request: StopRequest) -> None:
        """Stop this process's tracking connection named by ``request`` (another process took the session
        over, ended or deleted it) and return once its samples are flushed."""
        conn = self.connections.get(request.session_id)
        if conn is None or (request.conn_id is not None and conn.conn_id != request.conn_id):
            return
        if request.announce_end and conn.wire.announces:
            await conn.send({"type": "session_ended", "session_id": request.session_id})
        await conn.stop(request.code, request.reason, deleted=request.deleted)


class _SessionLock:
    """``async with``: the process-local lock, then the cross-process one of ``ownership`` (Redis)."""

    def __init__(self, local: asyncio.Lock, ownership: SessionOwnership, session_id: str) -> None:
        self._local = local
        self._shared = ownership.lock(session_id)

    async def __aenter__(self) -> None:
        await self._local.acquire()
        try:
            await self._shared.__aenter__()
        except BaseException:
            self._local.release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._shared.__aexit__(None, None, None)
        finally:
            self._local.release()


def get_state(request: Request) -> AppState:
    """FastAPI dependency: the app's :class:`AppState`."""
    return request.app.state.gs


def ws_state(ws: WebSocket) -> AppState:
    return ws.app.state.gs
