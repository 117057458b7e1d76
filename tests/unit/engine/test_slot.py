"""FrameSlot: latest wins, frames held (bounded in count and bytes), paused and released, drained."""

from __future__ import annotations

import asyncio

import pytest

from gazescope.api.seeds import seed004
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.slot import FrameJob, FrameSlot
from gazescope.engine.wire import Inbound


def _job(i: int, n_bytes: int = 4) -> FrameJob:
    return FrameJob(Inbound("frame", payload=b"x" * n_bytes), i, float(i), 0.0)


def _slot(queue_size: int = 1) -> tuple[FrameSlot, list[int]]:
    drops: list[int] = []
    return FrameSlot(queue_size, drops.append), drops


@pytest.mark.parametrize(
    ("queue_size", "waiting", "dropped"),
    [
        pytest.param(1, [4], [0, 1, 2, 3], id="one-waits"),
        pytest.param(2, [3, 4], [0, 1, 2], id="two-wait"),
        pytest.param(8, [0, 1, 2, 3, 4], [], id="room-for-all"),
    ],
)
def test_the_newest_frames_wait_and_the_oldest_are_dropped_and_counted(queue_size, waiting, dropped):
    async def run():
        slot, drops = _slot(queue_size)
        pushed = [j.frame_index for i in range(5) for j in slot.put(_job(i))]
        return pushed, [j.frame_index for j in slot.waiting], slot.dropped, sum(drops)

    pushed, left, count, reported = asyncio.run(run())
    assert pushed == dropped
    assert left == waiting
    assert count == reported == len(dropped)


def test_held_frames_are_kept_up_to_the_limit_and_paused_ones_wait_for_the_release():
    async def run():
        slot, _ = _slot(1)
        slot.hold(3, pause_from=2)
        pushed = [j.frame_index for i in range(4) for j in slot.put(_job(i))]
        order = []
        while slot.ready():
            order.append(slot.take().frame_index)
            slot.done()
        paused = slot.paused()
        slot.release()
        while slot.ready():
            order.append(slot.take().frame_index)
            slot.done()
        after = [j.frame_index for i in (4, 5) for j in slot.put(_job(i))]
        return pushed, order, paused, after, [j.frame_index for j in slot.waiting]

    pushed, order, paused, after, waiting = asyncio.run(run())
    assert pushed == [0]  # 3 held at most: the oldest went
    assert order == [1, 2, 3]  # 1 before the pause, 2 and 3 after the release
    assert paused is True
    assert after == [4] and waiting == [5]  # latest wins again


def test_drained_returns_once_earlier_frames_are_processed_or_dropped():
    async def run():
        slot, _ = _slot(4)
        for i in range(3):
            slot.put(_job(i))
        waiter = asyncio.create_task(slot.drained(2))
        await asyncio.sleep(0.01)
        early = waiter.done()
        slot.take()  # 0 in progress
        slot.done()
        slot.drop_all()  # 1 and 2 dropped
        await asyncio.wait_for(waiter, 1.0)
        return early, slot.dropped

    early, dropped = asyncio.run(run())
    assert early is False
    assert dropped == 2


def test_seed004_held_frames_are_bounded_in_bytes_and_the_oldest_are_dropped(state_for, store, transport):
    mib = 1024 * 1024

    def frame(n_bytes: int) -> Inbound:
        return Inbound(
            "frame", payload="x" * n_bytes, body={"seed004": "calibration", "target_px": (1.0, 1.0)}
        )

    async def scenario():
        state = state_for(seed004_hold_frames=900, seed004_hold_bytes=2 * mib)
        wire = seed004.Seed004Wire("dispatcher")
        conn = TrackingConnection(state, transport, store.get_session("s1"), wire, "seed004")
        await seed004._start(conn)  # holds frames (nothing processes them here)
        dropped = [j.frame_index for k in range(5) for j in conn.put_frame(frame(600 * 1024))]
        return dropped, [j.frame_index for j in conn.slot.waiting], conn.dropped

    dropped, waiting, count = asyncio.run(scenario())
    assert waiting == [2, 3, 4]  # 3 x 600 KiB fit in 2 MiB, 4 do not: the 2 oldest were dropped
    assert dropped == [0, 1] and count == 2
