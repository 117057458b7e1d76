"""The video analytics pool (api.analytics_pool): bounded, refusing beyond its queue, one run per key."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gazescope.api.analytics_pool import AnalyticsPool
from gazescope.errors import BusyError


def test_jobs_beyond_threads_and_queue_are_refused_and_the_pool_frees_up() -> None:
    release = threading.Event()

    def job(x: int) -> int:
        release.wait(10)
        return x

    async def scenario() -> tuple[list[int], BusyError, int, int]:
        pool = AnalyticsPool(threads=1, max_queued=1)
        try:
            running = [asyncio.ensure_future(pool.run("render", job, k)) for k in (1, 2)]
            await asyncio.sleep(0)
            with pytest.raises(BusyError) as refused:
                await pool.run("render", job, 3)
            release.set()
            done = list(await asyncio.gather(*running))
            return done, refused.value, await pool.run("render", job, 4), pool.pending
        finally:
            pool.shutdown()

    done, refused, after, pending = asyncio.run(scenario())
    assert done == [1, 2] and after == 4 and pending == 0
    assert refused.code == "analytics_busy" and "GAZESCOPE_ANALYTICS_MAX_QUEUED=1" in refused.message


def test_the_same_key_runs_once_and_both_callers_get_its_result() -> None:
    calls: list[int] = []
    release = threading.Event()

    def job(x: int) -> int:
        calls.append(x)
        release.wait(10)
        return x * 10

    async def scenario() -> list[int]:
        pool = AnalyticsPool(threads=2, max_queued=0)
        try:
            first = asyncio.ensure_future(pool.run("render", job, 1, key="a"))
            await asyncio.sleep(0)
            second = asyncio.ensure_future(pool.run("render", job, 2, key="a"))  # no place left: shares
            await asyncio.sleep(0)
            release.set()
            return list(await asyncio.gather(first, second))
        finally:
            pool.shutdown()

    assert asyncio.run(scenario()) == [10, 10]
    assert calls == [1]
