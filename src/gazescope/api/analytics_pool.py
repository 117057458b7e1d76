"""The thread pool of analytics (overlay renders, video inspection on upload, and every read that loads a
session's samples to compute a report, a figure or an export over them: issue 20), apart from the
tracking pool (:attr:`gazescope.api.state.AppState.executor`): a render can take minutes, and in the
tracking pool it would hold a thread every live frame needs.

At most ``Settings.analytics_threads`` jobs run and ``Settings.analytics_max_queued`` wait; more are
refused with :class:`~gazescope.errors.BusyError` (HTTP 503 ``analytics_busy``) at once rather than queued
behind minutes of renders. Jobs with the same ``key`` (e.g. one overlay file) run once: a second request
while the first runs waits for its result.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from gazescope.errors import BusyError

T = TypeVar("T")


class AnalyticsPool:
    """``threads`` worker threads, at most ``max_queued`` jobs waiting beyond the running ones."""

    def __init__(self, threads: int, max_queued: int) -> None:
        self.threads = threads
        self.max_queued = max_queued
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="gazescope-analytics")
        self._pending = 0  # running or waiting in the executor
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    @property
    def pending(self) -> int:
        """Jobs running or waiting now."""
        return self._pending

    async def run(
        self, what: str, fn: Callable[..., T], *args: Any, key: str | None = None, **kwargs: Any
    ) -> T:
        """``fn(*args, **kwargs)`` in the pool. With ``key``, a call while another with the same key runs
        awaits that one's result (or error) instead of running again. The job runs to its end even when
        the caller is cancelled (a client that left), so a key's result is never half made.

        Raises:
            BusyError: ``analytics_busy``: ``threads + max_queued`` jobs are already running or waiting
                (``what`` names the refused job in the message).
        """
        if key is not None and key in self._inflight:
            return await asyncio.shield(self._inflight[key])
        if self._pending >= self.threads + self.max_queued:
            raise BusyError(
                f"{what} refused: {self._pending} analytics jobs (reports, figures, video renders) are running "
                f"or waiting "
                f"(GAZESCOPE_ANALYTICS_THREADS={self.threads}, GAZESCOPE_ANALYTICS_MAX_QUEUED="
                f"{self.max_queued}); retry later",
                code="analytics_busy",
            )
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))
        self._pending += 1
        if key is not None:
            self._inflight[key] = fut
        fut.add_done_callback(functools.partial(self._done, key))
        return await asyncio.shield(fut)

    def _done(self, key: str | None, fut: asyncio.Future[Any]) -> None:
        self._pending -= 1
        if key is not None and self._inflight.get(key) is fut:
            del self._inflight[key]
        if not fut.cancelled():
            fut.exception()  # retrieved: no "never retrieved" warning when every caller left

    def shutdown(self) -> None:
        """Cancel the waiting jobs; a render still running finishes in its thread (not awaited here, so
        a minutes-long render does not hold the event loop at shutdown)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
