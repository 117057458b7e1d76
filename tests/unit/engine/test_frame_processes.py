"""Frame worker processes (Settings.frame_processes): real spawned workers, real desk-video frames, and a
tracking connection that uses them end to end."""

from __future__ import annotations

import asyncio
import os
import signal

import numpy as np
import pytest

from gazescope.api.wire import NativeWire
from gazescope.config import Settings
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.frame_processes import FrameProcessPool, FrameWorkerError
from gazescope.errors import FrameDecodeError
from gazescope.vision.frames import decode_frame
from gazescope.vision.pipeline import FrameAnalyzer
from support.frames import video_jpegs


@pytest.fixture(scope="module")
def desk_jpegs(desk_video) -> list[bytes]:
    """The first 12 frames of the desk video as JPEG (quality 70, as browsers send)."""
    return video_jpegs(desk_video, 12)


def test_workers_measure_each_stream_like_an_analyzer_in_this_process(desk_jpegs):
    """Two streams go to two workers; each keeps its own tracking graph, so the features equal those of
    an analyzer in this process fed the same frames; a corrupt frame is an error and the stream goes on."""
    settings = Settings()

    async def scenario():
        pool = FrameProcessPool(settings, 2)
        try:
            pids = await pool.start()
            a, b = [], []
            for jpeg in desk_jpegs:
                a.append(await pool.analyze("a", jpeg))
                b.append(await pool.analyze("b", jpeg, want_image=True))
            load = pool.streams_per_worker()
            with pytest.raises(FrameDecodeError) as bad:
                await pool.analyze("a", b"\xff\xd8 not a jpeg")
            after = await pool.analyze("a", desk_jpegs[0])
            await pool.release("a")
            return pids, a, b, load, bad.value, after, pool.streams_per_worker()
        finally:
            pool.shutdown()

    pids, a, b, load, bad, after, load_after = asyncio.run(scenario())
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert load == [1, 1]  # the least-loaded worker takes a new stream
    assert load_after == [0, 1] or load_after == [1, 0]
    local = FrameAnalyzer(settings)
    try:
        expected = [local.analyze(decode_frame(j)) for j in desk_jpegs]
    finally:
        local.close()
    for got in (a, b):
        assert [g.features.face_detected for g in got] == [e.face_detected for e in expected]
        for g, e in zip(got, expected, strict=True):
            assert g.features.landmarks is not None and e.landmarks is not None
            np.testing.assert_allclose(g.features.landmarks.points_px, e.landmarks.points_px, atol=1e-3)
            assert g.features.right_eye.ear == pytest.approx(e.right_eye.ear, abs=1e-6)
            assert 0 < g.decode_ms <= g.total_ms
    assert all(r.image_rgb is None for r in a)
    assert all(r.image_rgb is not None and r.image_rgb.shape == (480, 640, 3) for r in b)
    assert bad.code == "bad_frame"
    assert after.features is not None and after.features.face_detected


def test_a_worker_that_dies_is_replaced_and_its_streams_go_on(desk_jpegs):
    async def scenario():
        pool = FrameProcessPool(Settings(), 1)
        try:
            (pid,) = await pool.start()
            first = await pool.analyze("s", desk_jpegs[0])
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(FrameWorkerError):
                for _ in range(3):  # the kill may land after the next frame was taken
                    await pool.analyze("s", desk_jpegs[1])
            again = await pool.analyze("s", desk_jpegs[2])
            return first, again, await pool.start()
        finally:
            pool.shutdown()

    first, again, pids = asyncio.run(scenario())
    assert first.features.face_detected and again.features.face_detected
    assert len(pids) == 1


def test_a_connection_on_worker_processes_stores_every_sample_it_answers(
    state_for, store, transport, desk_jpegs
):
    """The engine with a frame pool: samples answered in order, stored == processed, the stream's graph
    released at the end."""

    async def scenario():
        state = state_for(frame_queue_size=16)
        state.frame_pool = FrameProcessPool(state.settings, 2)
        try:
            await state.frame_pool.start()
            conn = TrackingConnection(state, transport, store.get_session("s1"), NativeWire(), "track")
            await conn.claim()
            task = asyncio.create_task(conn.serve())
            await transport.wait_for("session")
            for jpeg in desk_jpegs:
                transport.push(jpeg)
            await transport.wait_for("sample", 1)
            transport.push(b"\x00 corrupt")
            await transport.wait_for("error", 1)
            transport.push(desk_jpegs[0])
            transport.leave()
            await asyncio.wait_for(task, 30)
            return conn, transport.messages(), state.frame_pool.streams_per_worker()
        finally:
            state.frame_pool.shutdown()

    conn, messages, load = asyncio.run(scenario())
    samples = [m for m in messages if m["type"] == "sample"]
    assert [s["frame_index"] for s in samples] == sorted({s["frame_index"] for s in samples})
    assert any(s["face_detected"] for s in samples)
    assert [e["code"] for e in messages if e["type"] == "error"] == ["bad_frame"]
    stored = store.get_samples("s1")
    assert (
        conn.processed == conn.stored == len(stored) >= len(samples)
    )  # the last reply may miss a gone client
    indices = [s["frame_index"] for s in stored]
    assert indices == sorted(set(indices)) and {s["frame_index"] for s in samples} <= set(indices)
    assert conn.received == conn.processed + conn.dropped + conn.refused
    assert load == [0, 0]


def test_pixels_come_back_from_the_worker_only_while_an_observer_reads_them(
    state_for, store, transport, desk_jpegs
):
    """An observer that needs the image gets it while its callable says so; otherwise it gets None."""
    wants = {"on": False}
    seen: list[bool] = []

    async def scenario():
        state = state_for()
        state.frame_pool = FrameProcessPool(state.settings, 1)
        try:
            await state.frame_pool.start()
            conn = TrackingConnection(state, transport, store.get_session("s1"), NativeWire(), "track")
            conn.add_frame_observer(
                lambda ff, sample, rgb: seen.append(rgb is not None), needs_image=lambda: wants["on"]
            )
            await conn.claim()
            task = asyncio.create_task(conn.serve())
            await transport.wait_for("session")
            for k, jpeg in enumerate(desk_jpegs[:6]):
                wants["on"] = k >= 3
                transport.push(jpeg)
                await transport.wait_for("sample", k + 1)
            transport.leave()
            await asyncio.wait_for(task, 30)
        finally:
            state.frame_pool.shutdown()

    asyncio.run(scenario())
    assert seen == [False, False, False, True, True, True]
