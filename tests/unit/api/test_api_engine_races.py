"""Races in the tracking engine: a flush in progress when a connection ends, and the session lock."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from gazescope.api.metrics import Metrics
from gazescope.api.state import AppState
from gazescope.api.tracking import TrackingConnection
from gazescope.api.wire import NativeWire
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.storage import LocalOwnership, create_live_hub
from gazescope.storage.sqlite import SQLiteStore


class SlowFirstBatchStore(SQLiteStore):
    """A real SQLite store whose full batches take 0.3 s to append (a store under write contention)."""

    def append_samples(self, session_id, samples):
        time.sleep(0.3 if len(samples) == 30 else 0.0)
        return super().append_samples(session_id, samples)


class QuietWebSocket:
    application_state = None

    async def send_text(self, text):
        return None

    async def close(self, **kw):
        return None


def _state(store, settings):
    return AppState(
        settings=settings,
        store=store,
        hub=create_live_hub(settings),
        executor=ThreadPoolExecutor(2),
        metrics=Metrics(),
    )


def test_a_flush_in_progress_commits_before_the_last_one_and_before_the_connection_is_done(tmp_path):
    async def scenario():
        settings = Settings(sample_flush_s=0.05)
        store = SlowFirstBatchStore(tmp_path / "g.db")
        info = store.create_session(SessionInfo(id="s1", created_at_ms=time.time() * 1000))
        conn = TrackingConnection(_state(store, settings), QuietWebSocket(), info, NativeWire(), "track")
        conn._buffer = [{"t_ms": float(i), "frame_index": i} for i in range(30)]
        flusher = asyncio.create_task(conn._flush_loop())
        await asyncio.sleep(0.1)  # the flusher is inside append_samples, in a thread
        conn._buffer = [{"t_ms": float(i), "frame_index": i} for i in range(30, 40)]
        await conn._finish_inner(asyncio.create_task(asyncio.sleep(0)), flusher)
        stored_when_done = store.count_samples("s1")
        await asyncio.sleep(0.5)
        return stored_when_done, [r["frame_index"] for r in store.get_samples("s1")]

    stored_when_done, order = asyncio.run(scenario())
    assert stored_when_done == 40
    assert order == list(range(40))


def test_the_session_lock_admits_one_holder_at_a_time_while_others_wait():
    async def scenario():
        state = AppState.__new__(AppState)
        state._session_locks = {}
        state.ownership = LocalOwnership()  # one process: no cross-process lock
        inside = peak = 0

        async def user(hold):
            nonlocal inside, peak
            lock = state.session_lock("s")
            try:
                async with lock:
                    inside += 1
                    peak = max(peak, inside)
                    await asyncio.sleep(hold)
                    inside -= 1
            finally:
                state.release_session_lock("s")

        a = asyncio.create_task(user(0.1))
        await asyncio.sleep(0.01)
        b = asyncio.create_task(user(0.2))
        await asyncio.sleep(0.15)  # A has released, B holds: C must wait for B
        c = asyncio.create_task(user(0.05))
        await asyncio.gather(a, b, c)
        return peak, state._session_locks

    peak, left = asyncio.run(scenario())
    assert peak == 1
    assert left == {}  # the last user removed the lock
