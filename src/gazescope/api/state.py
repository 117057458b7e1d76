"""What the app's lifespan creates and every route uses: settings, store, live hub, thread pool, metrics,
the open tracking connections and the tracking message handlers (``app.state.gs``; routes receive it
through :mod:`gazescope.api.deps`). :class:`AppState` is the engine's context
(:class:`gazescope.engine.connection.EngineContext`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from gazescope.api import logs as api_logs
from gazescope.api.analytics_pool import AnalyticsPool
from gazescope.api.connection_slots import ConnectionSlots
from gazescope.api.metrics import Metrics
from gazescope.calibration.session import CalibrationResult, CalibrationSession
from gazescope.config import Settings
from gazescope.engine.backlog import StoreBacklog
from gazescope.engine.frame_processes import FrameProcessPool
from gazescope.engine.handlers import HandlerRegistry
from gazescope.errors import CalibrationError
from gazescope.services import lifecycle
from gazescope.storage import LiveHub, Store
from gazescope.storage.ownership import LocalOwnership, SessionOwnership, StopRequest

if TYPE_CHECKING:
    from gazescope.engine.connection import TrackingConnection
    from gazescope.engine.context import EngineLog

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
    ``handlers``: the tracking connections' message handlers and start hooks (filled by ``create_app``).
    """

    settings: Settings
    store: Store
    hub: LiveHub
    executor: ThreadPoolExecutor
    metrics: Metrics
    connections: dict[str, TrackingConnection[AppState]] = field(default_factory=dict)
    ownership: SessionOwnership = field(default_factory=LocalOwnership)
    handlers: HandlerRegistry[TrackingConnection[Any]] = field(default_factory=HandlerRegistry)
    _session_locks: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict)
    backlog: StoreBacklog = field(init=False)
    analytics: AnalyticsPool = field(init=False)
    #: Calibration fits run here, never in ``executor`` (``Settings.calibration_fit_threads`` threads).
    fit_executor: ThreadPoolExecutor | None = None
    #: Fits reserved or running (at most ``Settings.calibration_fit_threads``).
    fits_running: int = 0
    #: Open WebSockets, in total and per client address (``Settings.max_connections*``).
    ws_slots: ConnectionSlots | None = None
    #: Frame worker processes (``Settings.frame_processes`` > 0), else None: frames run in ``executor``.
    frame_pool: FrameProcessPool | None = None

    def __post_init__(self) -> None:
        self.backlog = StoreBacklog(self, self._end_session)
        self.analytics = AnalyticsPool(self.settings.analytics_threads, self.settings.analytics_max_queued)
        if self.ws_slots is None:
            s = self.settings
            self.ws_slots = ConnectionSlots(s.max_connections, s.max_connections_per_client)

    @property
    def logs(self) -> EngineLog:
        """The service's structured logs (:mod:`gazescope.api.logs`)."""
        return api_logs

    async def _end_session(self, session_id: str) -> None:
        await lifecycle.end_session(self, session_id)

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the CPU thread pool."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call in asyncio's default thread pool."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def reserve_fit(self) -> bool:
        """Take one of the ``Settings.calibration_fit_threads`` fit slots; False when all are taken. The
        slot is given back by :meth:`fit` when its thread is done (or by :meth:`release_fit`)."""
        if self.fits_running >= self.settings.calibration_fit_threads:
            return False
        self.fits_running += 1
        self.metrics.calibration_fits.set(self.fits_running)
        return True

    def release_fit(self) -> None:
        self.fits_running = max(0, self.fits_running - 1)
        self.metrics.calibration_fits.set(self.fits_running)

    async def fit(
        self, fn: Callable[..., T], *args: Any, cancel: threading.Event | None = None, **kwargs: Any
    ) -> T:
        """Run the fit ``fn(*args, **kwargs)`` in the fit pool, under a slot taken with
        :meth:`reserve_fit` (given back when the thread is done, not when this await ends). When this
        await is cancelled (the client left, the session was deleted) ``cancel`` is set and the await
        waits for the thread to stop (``fn`` must check ``cancel``), so no fit outlives its connection."""
        loop = asyncio.get_running_loop()
        try:
            if self.fit_executor is None:
                self.fit_executor = ThreadPoolExecutor(
                    self.settings.calibration_fit_threads,
                    thread_name_prefix="gazescope-fit",
                    initializer=_fit_thread_init,
                )
            fut = loop.run_in_executor(self.fit_executor, functools.partial(_in_fit_thread, fn, args, kwargs))
        except BaseException:
            self.release_fit()
            raise
        fut.add_done_callback(lambda _f: self.release_fit())
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            if cancel is not None:
                cancel.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([fut])
            if fut.done() and not fut.cancelled():
                fut.exception()  # retrieved (FitStoppedError): not logged as "never retrieved"
            raise

    async def reserve_fit_waiting(self, wait_s: float) -> bool:
        """:meth:`reserve_fit`, waiting at most ``wait_s`` seconds for a slot (polled every 0.1 s) when
        all are taken; False when none freed in time (cancelling the await takes no slot)."""
        deadline = time.monotonic() + wait_s
        while not self.reserve_fit():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return True

    async def fit_calibration(
        self,
        cs: CalibrationSession,
        *,
        cancel: threading.Event,
        wait_s: float = 0.0,
        reserved: bool = False,
        leave_one_out: bool = True,
    ) -> CalibrationResult:
        """Fit ``cs`` (:meth:`CalibrationSession.finish`) through :meth:`fit`: in the fit pool, at its
        lower priority and PyTorch thread limit, stopped once ``cancel`` is set (also when this await is
        cancelled) or ``Settings.calibration_fit_timeout_s`` seconds after it started. A fit slot is taken
        first (waiting at most ``wait_s`` seconds), unless ``reserved`` says the caller holds one.

        Raises:
            CalibrationError: every fit slot stayed taken (code ``server_busy``).
            FitStoppedError: cancelled or past the time limit (``cancel.is_set()`` tells which).
            NotEnoughDataError: too few usable calibration points.
        """
        if not reserved and not await self.reserve_fit_waiting(wait_s):
            self.metrics.refused.labels(reason="fits").inc()
            n = self.settings.calibration_fit_threads
            raise CalibrationError(
                f"the server is fitting {n} calibration{'s' if n != 1 else ''} already, the most it runs at "
                "once (GAZESCOPE_CALIBRATION_FIT_THREADS)",
                code="server_busy",
            )
        deadline = time.monotonic() + self.settings.calibration_fit_timeout_s

        def should_stop() -> bool:
            return cancel.is_set() or time.monotonic() > deadline

        return await self.fit(cs.finish, should_stop, cancel=cancel, leave_one_out=leave_one_out)

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


def limit_torch_threads() -> None:
    """Keep PyTorch (when it is imported) to one intra-op thread in the calling thread: a cnn fit then
    takes one core, not every core the frames need, and on a 2-core machine it is faster too (30 epochs:
    1.5 s on one thread, 25 s on two, which contend). OpenMP keeps the count per thread, so this is called
    in the thread that runs the fit."""
    torch = sys.modules.get("torch")
    if torch is not None:  # per calling thread: OpenMP keeps the count per thread
        with contextlib.suppress(Exception):
            torch.set_num_threads(1)


def _in_fit_thread(fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
    limit_torch_threads()  # in this thread (PyTorch may have been imported since the thread started)
    return fn(*args, **kwargs)


def _fit_thread_init() -> None:
    """Initializer of the fit threads: run at a lower CPU priority than frame processing (Linux: a
    thread's nice value is its own), and keep PyTorch to one thread."""
    with contextlib.suppress(Exception):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    limit_torch_threads()
