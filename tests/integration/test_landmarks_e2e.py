"""Landmarks instead of frames (issue 22), end to end on one real ``gazescope serve``.

The desk video's frames are encoded as the browser sends them (JPEG, quality 70) and decoded with the
server's own decoder; MediaPipe Face Mesh with iris refinement (the Python build, tracking mode, the
server's thresholds: ``gazescope.evaluation.landmark_series.mesh_landmarks``) gives the 478 landmarks a
client running Face Mesh would send. Three streams run at once, paced at the video's 30 FPS with one
message in flight: the JPEG frames, the landmarks as binary ``GSLM`` messages, the landmarks as JSON.
Checked: every message is answered with a sample, every field in its documented range on the wire, in
the store and in samples.csv (``gazescope.sample_fields``), ``source`` is ``landmarks`` on the wire, in
the store and in the CSV of both landmark streams and absent for frames; the blink counts (samples and
session reports) are equal and the attention states agree on at least 99 % of the frames (measured 99.6 to
100 %). The measures are the same bit for bit (``tests/unit/vision/test_landmarks.py``); what differs is
each session's clock, anchored to the server's when its first message arrives, so the timed filters see
intervals a few microseconds apart.

A calibrated run: subject ``hy``'s 16 webcam_dots images are sent as landmarks to calibrate with ridge
(``cnn``, which needs eye pixels, is refused with ``mapper_needs_frames``); a later session of the same
user starts calibrated and its landmark samples carry screen points inside the screen.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import websockets

from gazescope.config import Settings
from gazescope.engine.landmarks import encode_landmarks
from gazescope.evaluation.landmark_series import mesh_landmarks
from gazescope.sample_fields import SAMPLE_FIELDS, STORED_EXTRA_FIELDS
from gazescope.vision.frames import DecodeOptions

from .test_calibration_webcam_dots_e2e import Client, calibrate
from .test_sample_ranges_e2e import all_violations, check_session_samples, stored_and_csv

pytestmark = [pytest.mark.integration, pytest.mark.slow]

N_FRAMES = 450  # the desk video's first 15 s
FPS = 30.0
FRAME = {"frame_w": 640, "frame_h": 480}
USER = "hy-landmarks"


@pytest.fixture(scope="module")
def server(module_serve):
    return module_serve()


def decode(jpegs: list[bytes]) -> list[np.ndarray]:
    options = DecodeOptions.live(Settings())
    return [options.decode(j) for j in jpegs]


@pytest.fixture(scope="module")
def desk(desk_jpegs) -> tuple[list[bytes], np.ndarray]:
    """The first N_FRAMES JPEGs and their Face Mesh landmarks (N, 478, 3), NaN where no face."""
    jpegs = desk_jpegs[:N_FRAMES]
    return jpegs, mesh_landmarks(decode(jpegs), Settings())


def binary(mesh: np.ndarray, t_ms: float) -> bytes:
    return encode_landmarks(None if np.isnan(mesh).any() else mesh, 640, 480, t_ms)


def as_json(mesh: np.ndarray, t_ms: float) -> str:
    face = not np.isnan(mesh).any()
    flat = [float(v) for v in mesh.reshape(-1)] if face else []
    return json.dumps(
        {
            "type": "landmarks",
            "landmarks": flat,
            "width": 640,
            "height": 480,
            "t_ms": t_ms,
            "face_count": int(face),
        }
    )


async def stream(
    server, messages: list[bytes | str], warmup: bytes | str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Send ``messages`` on a new session's tracking socket at FPS, one in flight; the replies (sample
    or error, one per message) and the session id (ended afterwards). ``warmup``: a message sent and
    answered first, its reply left out."""
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        sid = (await http.post("/api/sessions", json={"user_id": "nobody"})).json()["id"]
    replies = []
    async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track", max_size=None) as ws:
        c = Client(ws)
        await c.next("session")
        if warmup is not None:
            await ws.send(warmup)
            await c.next("sample", "error")
        t0 = time.monotonic()
        for k, m in enumerate(messages):
            await asyncio.sleep(max(0.0, t0 + k / FPS - time.monotonic()))
            await ws.send(m)
            replies.append(await c.next("sample", "error", "frame_dropped"))
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        await http.post(f"/api/sessions/{sid}/end")
    return sid, replies


def agreement(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> float:
    return sum(x[key] == y[key] for x, y in zip(a, b, strict=True)) / len(a)


def median_abs_diff(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> float:
    d = [abs(x[key] - y[key]) for x, y in zip(a, b, strict=True) if x[key] is not None and y[key] is not None]
    return statistics.median(d) if d else float("nan")


def test_landmark_streams_match_the_frames_stream(server, desk) -> None:
    jpegs, meshes = desk
    times = [k * 1000.0 / FPS for k in range(len(jpegs))]
    runs = {
        "frames": [
            json.dumps({"type": "frame", "data": _b64(j), "t_ms": t})
            for j, t in zip(jpegs, times, strict=True)
        ],
        "binary": [binary(m, t) for m, t in zip(meshes, times, strict=True)],
        "json": [as_json(m, t) for m, t in zip(meshes, times, strict=True)],
    }

    # A stream's Face Mesh graph starts on its first frame and may take seconds on a loaded machine; a
    # frame that long in flight would re-anchor the frames session's clock (engine/clock.py) in the middle
    # and shift its timed measures. So every stream starts with one faceless message far in the client's
    # past (the frames stream: a grey frame, which starts the graph): the first measured message then
    # re-anchors each session's clock, and from it on all three follow the same client clock.
    ok, grey = cv2.imencode(".jpg", np.full((480, 640, 3), 128, np.uint8))
    assert ok
    far = -1e6
    warmups = {
        "frames": json.dumps({"type": "frame", "data": _b64(grey.tobytes()), "t_ms": far}),
        "binary": encode_landmarks(None, 640, 480, far),
        "json": as_json(np.full((478, 3), np.nan, np.float32), far),
    }

    async def all_runs() -> dict[str, tuple[str, list[dict[str, Any]]]]:
        got = await asyncio.gather(*(stream(server, m, warmups[k]) for k, m in runs.items()))
        return dict(zip(runs, got, strict=True))

    results = asyncio.run(all_runs())
    frames = results["frames"][1]
    for name, (sid, replies) in results.items():
        assert [r["type"] for r in replies] == ["sample"] * len(jpegs), name
        assert all_violations(replies, sizes=FRAME) == [], name
        assert all_violations(replies, STORED_EXTRA_FIELDS, FRAME, require_all=False) == [], name
        stored = check_session_samples(server, sid, FRAME, calibrated=False)
        _, rows = stored_and_csv(server, sid)
        source = None if name == "frames" else "landmarks"
        assert {r.get("source") for r in replies} == {s.get("source") for s in stored} == {source}
        assert {r.get("source") for r in rows} == {source}
        if name == "frames":
            continue
        blinks = (frames[-1]["blink_count"], replies[-1]["blink_count"])
        states = agreement(frames, replies, "attention_state")
        print(
            f"\n{name}: blinks frames/landmarks {blinks}, attention states agree on {states:.4f}, "
            f"blinking on {agreement(frames, replies, 'is_blinking'):.4f}; median |diff| "
            + ", ".join(
                f"{k} {median_abs_diff(frames, replies, k):.2e}"
                for k in ("ear_left", "ear_right", "horizontal_ratio", "yaw_deg", "attention_score")
            )
        )
        reports = [
            httpx.get(f"{server.url}/api/sessions/{i}/report", timeout=60).json()
            for i in (results["frames"][0], sid)
        ]
        report_blinks = [r["blink_count"] for r in reports]
        print(f"{name}: report blink counts frames/landmarks {report_blinks}")
        assert blinks[0] > 0 and blinks[0] == blinks[1]
        assert states >= 0.99
        assert report_blinks[0] == report_blinks[1] > 0
        assert reports[0]["frames_with_face"] == reports[1]["frames_with_face"] == len(jpegs)


def _b64(jpeg: bytes) -> str:
    import base64

    return base64.b64encode(jpeg).decode()


class LandmarksClient(Client):
    """Sends each frame's landmarks (binary) instead of the frame."""

    def __init__(self, ws: Any, meshes: dict[bytes, np.ndarray]) -> None:
        super().__init__(ws)
        self.meshes = meshes
        self.t_ms = 0.0

    async def frame(self, jpeg: bytes) -> dict[str, Any]:
        self.t_ms += 1000.0 / FPS
        await self.ws.send(binary(self.meshes[jpeg], self.t_ms))
        return await self.next("sample")


def test_a_calibration_from_landmarks_maps_later_landmark_samples(server, webcam_dots, desk) -> None:
    points = webcam_dots("hy", "1")
    meshes = {p["jpeg"]: mesh_landmarks(decode([p["jpeg"]]), Settings())[0] for p in points}
    sizes = {**FRAME, "screen_w": points[0]["w"], "screen_h": points[0]["h"]}

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            sid = (await http.post("/api/sessions", json={"user_id": USER})).json()["id"]
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track", max_size=None) as ws:
            c = LandmarksClient(ws, meshes)
            await c.next("session")
            await c.frame(points[0]["jpeg"])  # the stream sends landmarks from now on
            await c.send({"type": "calibration_start", "layout": "16", "mapper": "cnn",
                          "screen_w_px": points[0]["w"], "screen_h_px": points[0]["h"]})  # fmt: skip
            refused = await c.next("error", "calibration_started")
            return refused, await calibrate(c, points, USER)

    refused, result = asyncio.run(run())
    assert refused["type"] == "error" and refused["code"] == "mapper_needs_frames", refused
    assert result["type"] == "calibration_result" and result["profile_id"], result

    async def calibrated() -> tuple[str, list[dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            sid = (await http.post("/api/sessions", json={"user_id": USER})).json()["id"]
        replies = []
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track", max_size=None) as ws:
            c = Client(ws)
            await c.next("session")
            for k, m in enumerate(desk[1][100:160]):
                await ws.send(binary(m, k * 1000.0 / FPS))
                replies.append(await c.next("sample"))
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            await http.post(f"/api/sessions/{sid}/end")
        return sid, replies

    sid, replies = asyncio.run(calibrated())
    assert all_violations(replies, SAMPLE_FIELDS, sizes) == []
    mapped = [r for r in replies if r["screen_x_px"] is not None]
    assert len(mapped) >= 0.5 * len(replies) and all(r["source"] == "landmarks" for r in replies)
    stored = check_session_samples(server, sid, sizes, calibrated=True)
    assert {s["source"] for s in stored} == {"landmarks"}


def test_bad_landmarks_are_answered_and_the_session_goes_on(server, desk) -> None:
    """Wrong length, NaN, huge numbers, truncated binary: each answered ``bad_landmarks``; the good
    message after them is tracked and stored."""
    mesh = desk[1][0]
    good = binary(mesh, 0.0)
    nan = mesh.copy()
    nan[7, 1] = np.nan
    flat = [float(v) for v in mesh.reshape(-1)]
    base = {"type": "landmarks", "width": 640, "height": 480, "face_count": 1}
    bad: list[bytes | str] = [
        json.dumps({**base, "landmarks": flat[:-3]}),  # wrong length
        json.dumps({**base, "landmarks": [*flat[:-1], float("nan")]}),  # NaN (Python's json writes it)
        json.dumps({**base, "landmarks": [*flat[:-1], 1e300]}),  # huge
        encode_landmarks(nan, 640, 480, 1.0),  # NaN in binary
        encode_landmarks(mesh * 1e20, 640, 480, 2.0),  # huge in binary
        good[:-12],  # truncated
        good + b"\0" * 12,  # too long
    ]
    sid, replies = asyncio.run(stream(server, [*bad, binary(mesh, 100.0)]))
    assert [(r["type"], r.get("code")) for r in replies] == [("error", "bad_landmarks")] * len(bad) + [
        ("sample", None)
    ]
    assert replies[-1]["source"] == "landmarks" and replies[-1]["face_detected"]
    stored, _ = stored_and_csv(server, sid)
    assert [s["source"] for s in stored] == ["landmarks"]
