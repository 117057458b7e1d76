"""The video analytics pool (api.analytics_pool) and the overlay cache bound (api.video_analytics)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from gazescope.api.analytics_pool import AnalyticsPool
from gazescope.api.video_analytics import evict_overlays, overlay_window_s
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


@pytest.mark.parametrize(
    ("window_s", "expected"),
    [
        pytest.param(1.0, 1.0, id="exact"),
        pytest.param(1.000001, 1.0, id="nearly-equal-shares-the-render"),
        pytest.param(1.26, 1.3, id="rounded-to-0.1"),
        pytest.param(0.01, 0.1, id="clamped-low"),
        pytest.param(500.0, 30.0, id="clamped-high"),
    ],
)
def test_overlay_windows_are_quantised(window_s: float, expected: float) -> None:
    assert overlay_window_s(window_s) == expected


def test_the_least_recently_used_overlays_beyond_the_bound_are_deleted(tmp_path: Path) -> None:
    names = ["old.mp4", "mid.mp4", "new.mp4", "kept.mp4"]
    for k, name in enumerate(names):
        p = tmp_path / name
        p.write_bytes(b"x" * 100)
        os.utime(p, (1000 + k, 1000 + k))
    (tmp_path / ".new.abc.part.mp4").write_bytes(b"x" * 500)  # a render in progress
    os.utime(tmp_path / "old.mp4", (2000, 2000))  # a cache hit made it the most recently used

    deleted = evict_overlays(tmp_path, 250, keep=tmp_path / "kept.mp4")
    assert sorted(p.name for p in deleted) == ["mid.mp4", "new.mp4"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".new.abc.part.mp4", "kept.mp4", "old.mp4"]
