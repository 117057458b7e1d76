"""Races and bounds in the tracking engine: a flush in progress when a connection ends, the session lock,
the byte bound of held frames, a video seek reported while a frame waits for the worker thread."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from gazescope.api.metrics import Metrics
from gazescope.api.seeds import seed004
from gazescope.api.state import AppState
from gazescope.api.tracking import TrackingConnection
from gazescope.api.video_time import handle_stimulus_time
from gazescope.api.wire import Inbound, NativeWire
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.services.stimuli import STIMULI
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


def test_seed004_held_frames_are_bounded_in_bytes_and_the_oldest_are_dropped(tmp_path):
    mib = 1024 * 1024

    def frame(n_bytes: int) -> Inbound:
        return Inbound(
            "frame", payload="x" * n_bytes, body={"seed004": "calibration", "target_px": (1.0, 1.0)}
        )

    async def scenario():
        settings = Settings(seed004_hold_frames=900, seed004_hold_bytes=2 * mib)
        store = SQLiteStore(tmp_path / "g.db")
        info = store.create_session(SessionInfo(id="s1", created_at_ms=time.time() * 1000))
        wire = seed004.Seed004Wire("dispatcher")
        conn = TrackingConnection(_state(store, settings), QuietWebSocket(), info, wire, "seed004")
        await seed004._start(conn)  # holds frames (nothing processes them here)
        dropped = [j.frame_index for k in range(5) for j in conn._enqueue(frame(600 * 1024))]
        return dropped, [j.frame_index for j in conn._waiting], conn.dropped

    dropped, waiting, count = asyncio.run(scenario())
    assert waiting == [2, 3, 4]  # 3 x 600 KiB fit in 2 MiB, 4 do not: the 2 oldest were dropped
    assert dropped == [0, 1] and count == 2


def test_a_frame_received_before_a_seek_keeps_the_position_it_arrived_at(tmp_path) -> None:
    async def scenario() -> list[float]:
        settings = Settings(frame_queue_size=2)  # both frames wait
        store = SQLiteStore(tmp_path / "g.db")
        store.put_document(STIMULI, "v1", {"id": "v1", "kind": "video", "duration_s": 100.0})
        info = store.create_session(SessionInfo(id="s1", created_at_ms=time.time() * 1000))
        conn = TrackingConnection(_state(store, settings), QuietWebSocket(), info, NativeWire(), "track")

        async def report(video_t_s: float) -> None:
            body = {"stimulus_id": "v1", "video_t_s": video_t_s, "playing": False}
            await handle_stimulus_time(conn, Inbound("stimulus_time", body=body))

        await report(10.0)
        conn._enqueue(Inbound("frame", payload=b"jpeg"))  # arrives at 10 s (paused)
        await report(50.0)  # the user seeks before the worker thread gets to the frame
        conn._enqueue(Inbound("frame", payload=b"jpeg"))  # arrives at 50 s
        out = []
        for job in conn._waiting:  # what the worker thread does with each frame, later
            sample = SimpleNamespace(t_ms=job.t_ms)
            fields = {}
            for hook in conn._frame_hooks:
                fields.update(hook(job.inbound, None, sample, None) or {})
            out.append(fields["video_t_s"])
        return out

    assert asyncio.run(scenario()) == [10.0, 50.0]
