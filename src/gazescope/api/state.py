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

from gazescope.api.backlog import StoreBacklog
from gazescope.api.metrics import Metrics
from gazescope.config import Settings
from gazescope.storage import LiveHub, Store

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
    """

    settings: Settings
    store: Store
    hub: LiveHub
    executor: ThreadPoolExecutor
    metrics: Metrics
    connections: dict[str, TrackingConnection] = field(default_factory=dict)
    _session_locks: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict)
    backlog: StoreBacklog = field(init=False)

    def __post_init__(self) -> None:
        self.backlog = StoreBacklog(self)

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the CPU thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call in asyncio's default thread pool."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def session_lock(self, session_id: str) -> asyncio.Lock:
        """The lock serialising claim/end/delete of one session. Every call must be paired with one
        :meth:`release_session_lock` (in a ``finally``): the lock is kept while anyone holds or waits for
        it (counted), so a waiter never ends up owning a lock that a newcomer no longer sees."""
        lock, users = self._session_locks.get(session_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._session_locks[session_id] = (lock, users + 1)
        return lock

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


def get_state(request: Request) -> AppState:
    """FastAPI dependency: the app's :class:`AppState`."""
    return request.app.state.gs


def ws_state(ws: WebSocket) -> AppState:
    return ws.app.state.gs
