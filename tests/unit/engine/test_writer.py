"""SampleWriter on a real SQLite store: batches, the flush loop, retries while the store refuses writes,
the final flush and the hand-off to the backlog, frame indices reserved and given back."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

from gazescope.config import Settings
from gazescope.domain import GazeSample, SessionInfo
from gazescope.engine.sample import TrackedSample
from gazescope.engine.writer import SampleWriter
from gazescope.storage import frame_indices
from gazescope.storage.sqlite import SQLiteStore


class SlowFirstBatchStore(SQLiteStore):
    """A real SQLite store whose full batches take 0.3 s to append (a store under write contention)."""

    def append_samples(self, session_id, samples):
        time.sleep(0.3 if len(samples) == 30 else 0.0)
        return super().append_samples(session_id, samples)


def _sample(i: int) -> TrackedSample:
    return TrackedSample(GazeSample(t_ms=float(i), frame_index=i, face_detected=False))


def _refuse_samples(db: Path, on: bool) -> None:
    """Make the store refuse (or take again) sample writes, as a full or locked disk would."""
    with sqlite3.connect(db) as c:
        if on:
            c.execute(
                "CREATE TRIGGER refuse_samples BEFORE INSERT ON samples "
                "BEGIN SELECT RAISE(ABORT, 'injected: disk full'); END"
            )
        else:
            c.execute("DROP TRIGGER refuse_samples")


async def _until(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_a_flush_in_progress_commits_before_the_last_one_and_before_the_connection_is_done(
    tmp_path, state_on
):
    async def scenario():
        store = SlowFirstBatchStore(tmp_path / "g.db")
        store.create_session(SessionInfo(id="s1", created_at_ms=time.time() * 1000))
        writer = SampleWriter(state_on(store, Settings(sample_flush_s=0.05)), "s1", lambda: 0)
        for i in range(30):
            writer.append(_sample(i))
        writer.start()
        await asyncio.sleep(0.1)  # the flusher is inside append_samples, in a thread
        for i in range(30, 40):
            writer.append(_sample(i))
        await writer.finish()
        stored_when_done = store.count_samples("s1")
        await asyncio.sleep(0.5)
        return stored_when_done, [r["frame_index"] for r in store.get_samples("s1")]

    stored_when_done, order = asyncio.run(scenario())
    assert stored_when_done == 40
    assert order == list(range(40))


def test_a_full_batch_is_stored_at_once_and_store_before_reply_asks_for_a_flush(store, state_on):
    async def scenario():
        writer = SampleWriter(
            state_on(store, Settings(sample_batch_size=5, sample_flush_s=1.0)), "s1", lambda: 0
        )
        writer.start()
        asked = [writer.append(_sample(i)) for i in range(5)]
        t0 = time.monotonic()
        await _until(lambda: store.count_samples("s1") == 5)
        waited = time.monotonic() - t0
        await writer.finish()
        before = SampleWriter(state_on(store, Settings(store_before_reply=True)), "s1", lambda: 0)
        return asked, waited, before.append(_sample(5)), writer.stored

    asked, waited, before_reply, stored = asyncio.run(scenario())
    assert asked == [False] * 5
    assert waited < 0.9  # not the 1 s timer: the full batch woke the loop
    assert before_reply is True
    assert stored == 5


def test_refused_writes_are_retried_and_what_is_left_at_the_end_goes_to_the_backlog(
    tmp_path, caplog, state_on
):
    db = tmp_path / "g.db"
    store = SQLiteStore(db)
    store.create_session(SessionInfo(id="s1", created_at_ms=time.time() * 1000))
    dropped = [0]

    async def scenario():
        state = state_on(store, Settings(store_retry_s=0.05))
        writer = SampleWriter(state, "s1", lambda: dropped[0])
        await writer.start_at(0, 0)
        _refuse_samples(db, True)
        for _i in range(3):
            writer.append(_sample(writer.take_index()))
        await writer.flush()
        pending_while_failing = writer.pending
        reserve_while_failing = writer.must_reserve(10_000)
        _refuse_samples(db, False)
        await writer.flush()
        stored_after_retry = store.count_samples("s1")
        _refuse_samples(db, True)
        writer.append(_sample(writer.take_index()))
        dropped[0] = 2
        await writer.finish()
        held = state.backlog.held_samples
        _refuse_samples(db, False)
        await _until(lambda: not state.backlog.sessions())
        return pending_while_failing, reserve_while_failing, stored_after_retry, held, writer.held_back

    with caplog.at_level(logging.WARNING, logger="gazescope"):
        pending, reserve, stored_after_retry, held, held_back = asyncio.run(scenario())
    assert pending == 3 and reserve is False
    assert stored_after_retry == 3
    assert held == held_back == 1
    assert [s["frame_index"] for s in store.get_samples("s1")] == [0, 1, 2, 3]
    assert store.get_session("s1").dropped_frames == 2
    assert any(r.getMessage() == "store_append_failed" for r in caplog.records)


def test_frame_indices_are_reserved_ahead_and_the_unseen_ones_given_back_at_the_end(store, state_on):
    async def scenario():
        state = state_on(store, Settings(frame_index_reserve=100))
        writer = SampleWriter(state, "s1", lambda: 0)
        await writer.start_at(0, 0)
        while_open = frame_indices.continuation(store, "s1").next_frame_index
        for _ in range(5):
            i = writer.take_index()
            writer.append(_sample(i))
            writer.replied(i)
        writer.take_index()  # a sixth frame, dropped unseen
        await writer.finish()
        return while_open, frame_indices.continuation(store, "s1").next_frame_index

    while_open, after = asyncio.run(scenario())
    assert while_open == 100  # a restarted server would not reuse any index handed out meanwhile
    assert after == 5  # a clean reconnect continues right after the last sample
