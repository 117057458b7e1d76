"""TrackingConnection through its public interface: an in-memory transport, the real SQLite store, real
frames through the vision pipeline."""

from __future__ import annotations

import asyncio
import base64

from gazescope.api.wire import NativeWire
from gazescope.api.ws import video_time
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.transport import CloseCode
from gazescope.services.stimuli import STIMULI


async def _open(state, transport, store, wire=None):
    """Claim session ``s1`` and serve it in a task; returns (connection, task) once it said hello."""
    conn = TrackingConnection(state, transport, store.get_session("s1"), wire or NativeWire(), "track")
    await conn.claim()
    task = asyncio.create_task(conn.serve())
    await transport.wait_for("session")
    return conn, task


def test_frames_are_answered_stored_and_flushed_when_the_client_leaves(state_for, store, transport, jpeg):
    async def scenario():
        conn, task = await _open(state_for(frame_queue_size=4), transport, store)
        for k in range(3):
            transport.push(
                {"type": "frame", "data": "data:image/jpeg;base64," + _b64(jpeg), "t_ms": 1000.0 + 40 * k}
            )
        await transport.wait_for("sample", 3)
        transport.push({"type": "ping", "t_ms": 5})
        await transport.wait_for("pong")
        transport.leave()
        await asyncio.wait_for(task, 10)
        return conn, transport.messages()

    conn, messages = asyncio.run(scenario())
    hello = messages[0]
    assert hello["type"] == "session" and hello["next_frame_index"] == 0
    assert hello["message_types"] == ["frame", "landmarks", "ping"]
    samples = [m for m in messages if m["type"] == "sample"]
    assert [s["frame_index"] for s in samples] == [0, 1, 2]
    assert [s["client_t_ms"] for s in samples] == [1000.0, 1040.0, 1080.0]
    assert samples[2]["t_ms"] - samples[0]["t_ms"] == 80.0  # the client's clock
    assert {"type": "pong", "t_ms": 5} in messages
    assert conn.received == conn.processed == conn.stored == 3 and conn.dropped == 0
    assert [s["frame_index"] for s in store.get_samples("s1")] == [0, 1, 2]
    assert "s1" not in conn.state.connections


def test_bad_and_unknown_messages_are_answered_and_the_connection_goes_on(state_for, store, transport, jpeg):
    async def scenario():
        _conn, task = await _open(state_for(), transport, store)
        transport.push("not json")
        transport.push({"type": "nope"})
        transport.push(jpeg)  # binary: a frame
        await transport.wait_for("sample")
        transport.leave()
        await asyncio.wait_for(task, 10)
        return transport.messages()

    messages = asyncio.run(scenario())
    errors = [m for m in messages if m["type"] == "error"]
    assert [e["code"] for e in errors] == ["bad_message", "unknown_type"]
    assert "known: frame, ping" in errors[1]["message"]


def test_a_message_too_big_closes_with_1009_and_an_idle_client_with_1001(state_for, store, transport):
    async def scenario(**settings):
        t = type(transport)()
        _, task = await _open(state_for(**settings), t, store)
        if "max_message_bytes" in settings:
            t.push(b"x" * 2048)
        await asyncio.wait_for(task, 10)
        return t.closed

    too_big = asyncio.run(scenario(max_message_bytes=1024))
    idle = asyncio.run(scenario(idle_timeout_s=0.2))
    assert too_big == (CloseCode.MESSAGE_TOO_BIG, "message too big")
    assert idle is not None and idle[0] == CloseCode.GOING_AWAY


def test_a_newer_connection_takes_the_session_over_after_the_older_one_flushed(
    state_for, store, transport, jpeg
):
    async def scenario():
        state = state_for()  # one app context for both connections, as in one server process
        first, second = transport, type(transport)()
        _, old_task = await _open(state, first, store)
        first.push(jpeg)
        await first.wait_for("sample")
        new = TrackingConnection(state, second, store.get_session("s1"), NativeWire(), "track")
        await new.claim()  # returns once the older connection is closed and flushed
        stored_at_takeover = store.count_samples("s1")
        new_task = asyncio.create_task(new.serve())
        hello = (await second.wait_for("session"))[0]
        second.leave()
        await asyncio.wait_for(asyncio.gather(old_task, new_task), 10)
        return first.closed, stored_at_takeover, hello, dict(state.connections)

    closed, stored, hello, left = asyncio.run(scenario())
    assert closed == (CloseCode.REPLACED, "taken over by a newer connection")
    assert stored == 1
    assert hello["resumed"] is True and hello["next_frame_index"] == 1
    assert left == {}


def test_a_frame_received_before_a_seek_keeps_the_position_it_arrived_at(state_for, store, transport, jpeg):
    async def scenario() -> list[float]:
        store.put_document(STIMULI, "v1", {"id": "v1", "kind": "video", "duration_s": 100.0})
        handlers = HandlerRegistry()
        video_time.register(handlers)
        conn, task = await _open(state_for(handlers, frame_queue_size=2), transport, store)
        conn.hold_frames(10, pause_from=conn.next_frame_index)  # both frames wait for the worker

        def report(video_t_s: float) -> None:
            transport.push(
                {"type": "stimulus_time", "stimulus_id": "v1", "video_t_s": video_t_s, "playing": False}
            )

        report(10.0)
        transport.push(jpeg)  # arrives at 10 s (paused)
        report(50.0)  # the user seeks before the worker thread gets to the frame
        transport.push(jpeg)  # arrives at 50 s
        while conn.received < 2:
            await asyncio.sleep(0.01)
        conn.release_frames()
        await transport.wait_for("sample", 2)
        transport.leave()
        await asyncio.wait_for(task, 10)
        return [s["video_t_s"] for s in store.get_samples("s1")]

    assert asyncio.run(scenario()) == [10.0, 50.0]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_landmarks_are_tracked_as_frames_and_bad_ones_answered_while_the_connection_goes_on(
    state_for, store, transport, desk_video
):
    """Issue 22: binary and JSON landmarks messages become samples (``source: "landmarks"``, sent and
    stored) with no Face Mesh analyzer; bad ones get ``bad_landmarks`` and the connection goes on."""
    from itertools import islice

    import numpy as np

    from gazescope.config import Settings
    from gazescope.engine.landmarks import encode_landmarks
    from gazescope.evaluation.landmark_series import mesh_landmarks
    from gazescope.vision.video import iter_frames

    meshes = mesh_landmarks([rgb for _, _, rgb in islice(iter_frames(desk_video), 3)], Settings())
    nan = meshes[0].copy()
    nan[100, 0] = np.nan
    flat = [float(v) for v in meshes[1].reshape(-1)]

    async def scenario():
        conn, task = await _open(state_for(), transport, store)
        transport.push(encode_landmarks(meshes[0], 640, 480, 1000.0))
        transport.push(encode_landmarks(nan, 640, 480, 1010.0))  # NaN
        transport.push(encode_landmarks(meshes[0], 640, 480, 1020.0)[:-8])  # truncated
        transport.push({"type": "landmarks", "landmarks": [*flat, 0.5], "width": 640, "height": 480,
                        "face_count": 1})  # fmt: skip
        transport.push({"type": "landmarks", "landmarks": [1e9] * 1434, "width": 640, "height": 480,
                        "face_count": 1})  # fmt: skip
        transport.push({"type": "landmarks", "landmarks": flat, "width": 640, "height": 480,
                        "face_count": 1, "t_ms": 1033.0})  # fmt: skip
        transport.push(encode_landmarks(None, 640, 480, 1066.0))  # no face
        await transport.wait_for("sample", 3)
        transport.leave()
        await asyncio.wait_for(task, 10)
        return conn, transport.messages()

    conn, messages = asyncio.run(scenario())
    errors = [m for m in messages if m["type"] == "error"]
    assert [e["code"] for e in errors] == ["bad_landmarks"] * 4
    samples = [m for m in messages if m["type"] == "sample"]
    assert [s["client_t_ms"] for s in samples] == [1000.0, 1033.0, 1066.0]
    assert [s["face_detected"] for s in samples] == [True, True, False]
    assert all(s["source"] == "landmarks" for s in samples)
    assert samples[0]["ear_left"] is not None and samples[0]["yaw_deg"] is not None
    stored = store.get_samples("s1")
    assert [s["source"] for s in stored] == ["landmarks"] * 3
    assert conn.received == conn.processed == conn.stored == 3
    assert conn._analyzer is None  # no Face Mesh graph for a landmarks stream
