"""Every sample field in its documented range and unit (issue 19), end to end on one real
``gazescope serve`` with real frames, calibrated and uncalibrated.

The table is :mod:`gazescope.sample_fields` (docs/samples.md). A calibration is made once over the native
protocol with real webcam_dots images of subject ``hy`` (16 dots) and saved as hy's profile; sessions of
user ``hy`` then start calibrated (the user's newest profile is applied), sessions of another user do
not. Each protocol streams 40 frames of the desk video (one in flight); checked against the table: every
reply's sample fields (native ``/ws/sessions/{id}/track``, seed 000 ``/ws/session/{id}/track``), every
reply's seed fields (seed 000 ``face``/``gaze``, seed 001 ``PythonGazeData``, seed 002 metrics), the
stored samples (``GET /api/sessions/{id}/samples``) and the CSV export (``.../samples.csv``). Seed 003's
uploaded points and seed 004's calibration and prediction frames (``/ws/test_dispatcher/`` calibrated with
ridge and not, ``/ws/dispatcher/`` on a video) get no per-sample reply: their stored samples and CSV are
checked. Calibrated runs must have mapped samples, each inside the calibration's
screen, and ratios still in 0..1 (on main before 566fdb4 ``horizontal_ratio`` was the screen height).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import websockets

from gazescope.analytics.export import read_samples_csv
from gazescope.domain import SAMPLE_CSV_COLUMNS
from gazescope.sample_fields import SAMPLE_FIELDS, SEED_WIRE_FIELDS, STORED_EXTRA_FIELDS, violations

from .test_calibration_webcam_dots_e2e import Client, calibrate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUBJECT = "hy"  # calibrated user
STRANGER = "nobody"  # a user without a profile
N_FRAMES = 40
FRAME = {"frame_w": 640, "frame_h": 480}
SEED004_SCREEN = (1536, 920)
SEED004_GRID = ({50.0, 529.0, 1486.0}, {50.0, 559.0, 814.0})  # 9 of the 16 dots: a 3x3 grid
SEED004_DOT_FRAMES = 20


def seed_specs(prefix: str):
    (specs,) = (v for k, v in SEED_WIRE_FIELDS.items() if k.startswith(prefix))
    return specs


def all_violations(messages: list[dict[str, Any]], specs=SAMPLE_FIELDS, sizes=None, **kw: Any) -> list[str]:
    out = []
    for k, m in enumerate(messages):
        out += [f"#{k}: {v}" for v in violations(m, specs, sizes, **kw)]
    return out[:20]


@pytest.fixture(scope="module")
def server(module_serve, tmp_path_factory):
    return module_serve(
        GAZESCOPE_SEED004_MAPPER="ridge",
        GAZESCOPE_SEED004_SCREEN_W_PX=str(SEED004_SCREEN[0]),
        GAZESCOPE_SEED004_SCREEN_H_PX=str(SEED004_SCREEN[1]),
        GAZESCOPE_STIMULUS_VIDEO_DIR=str(tmp_path_factory.mktemp("videos")),
    )


@pytest.fixture(scope="module")
def frames(desk_jpegs) -> list[bytes]:
    return desk_jpegs[100 : 100 + N_FRAMES]


@pytest.fixture(scope="module")
def profile(server, webcam_dots) -> dict[str, Any]:
    """hy's calibration, saved as hy's profile: ``calibration_result`` (screen size in it)."""
    points = webcam_dots(SUBJECT, "1")

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=server.url) as http:
            sid = (await http.post("/api/sessions", json={"user_id": "calibrator"})).json()["id"]
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track", max_size=None) as ws:
            c = Client(ws)
            await c.next("session")
            return await calibrate(c, points, SUBJECT)

    result = asyncio.run(run())
    assert result["type"] == "calibration_result" and result["profile_id"], result
    return result


def screen_of(profile: dict[str, Any]) -> dict[str, float]:
    return {"screen_w": profile["screen_w_px"], "screen_h": profile["screen_h_px"]}


def stored_and_csv(server, sid: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stored = httpx.get(f"{server.url}/api/sessions/{sid}/samples", timeout=30).json()["samples"]
    text = httpx.get(f"{server.url}/api/sessions/{sid}/samples.csv", timeout=30).text
    assert text.splitlines()[0].split(",") == list(SAMPLE_CSV_COLUMNS)
    return stored, read_samples_csv(text)


def check_session_samples(
    server, sid: str, sizes: dict[str, float], *, calibrated: bool | None
) -> list[dict]:
    """The stored samples and the CSV rows of ``sid`` against the table; calibrated sessions must have
    mapped samples, uncalibrated ones none (None: not checked). Returns the stored samples."""
    stored, rows = stored_and_csv(server, sid)
    assert stored and len(rows) == len(stored)
    assert all_violations(stored, sizes=sizes) == []
    assert all_violations(stored, STORED_EXTRA_FIELDS, sizes, require_all=False) == []
    assert all_violations(rows, sizes=sizes) == []
    with_face = [s for s in stored if s["face_detected"]]
    assert len(with_face) >= 0.8 * len(stored)
    assert any(s["horizontal_ratio"] is not None for s in with_face)
    mapped = [s for s in stored if s["screen_x_px"] is not None]
    if calibrated is None:
        return stored
    if calibrated:
        assert len(mapped) >= 0.5 * len(with_face), f"{len(mapped)} of {len(with_face)} mapped"
        assert all(s["calibration_fit"] for s in mapped)
    else:
        assert mapped == [] and all(s["on_screen"] is None for s in stored)
    return stored


def data_url(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


async def recv_json(ws: Any, timeout: float = 60.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


@pytest.mark.parametrize("calibrated", [True, False], ids=["calibrated", "uncalibrated"])
def test_native_track_socket(server, profile, frames, calibrated: bool) -> None:
    user = SUBJECT if calibrated else STRANGER

    async def run() -> tuple[str, list[dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=server.url) as http:
            sid = (await http.post("/api/sessions", json={"user_id": user})).json()["id"]
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track", max_size=None) as ws:
            c = Client(ws)
            await c.next("session")
            got = [await c.frame(j) for j in frames]
        async with httpx.AsyncClient(base_url=server.url) as http:
            await http.post(f"/api/sessions/{sid}/end")
        return sid, got

    sid, replies = asyncio.run(run())
    sizes = {**FRAME, **screen_of(profile)}
    assert all_violations(replies, sizes=sizes) == []
    check_session_samples(server, sid, sizes, calibrated=calibrated)


@pytest.mark.parametrize("calibrated", [True, False], ids=["calibrated", "uncalibrated"])
def test_seed000_track_socket(server, profile, frames, calibrated: bool) -> None:
    user = SUBJECT if calibrated else STRANGER
    sid = httpx.post(f"{server.url}/session/start", json={"session_duration": 5, "user_id": user}).json()[
        "session_id"
    ]

    async def run() -> list[dict[str, Any]]:
        got = []
        async with websockets.connect(f"{server.ws_url}/ws/session/{sid}/track", max_size=None) as ws:
            for j in frames:  # one frame in flight: every frame is answered
                await ws.send(json.dumps({"image": data_url(j), "timestamp": int(time.time() * 1000)}))
                while True:
                    m = await recv_json(ws)
                    if m.get("type") in ("sample", "frame_dropped", "error"):
                        break
                got.append(m)
        return got

    replies = asyncio.run(run())
    samples = [m for m in replies if m["type"] == "sample"]
    assert len(samples) == len(frames), [m for m in replies if m["type"] != "sample"][:3]
    sizes = {**FRAME, **screen_of(profile)}
    assert all_violations(samples, sizes=sizes) == []
    assert all_violations(samples, seed_specs("seed 000"), sizes) == []
    assert sum(m["gaze"] is not None for m in samples) >= 0.8 * len(samples)
    httpx.post(f"{server.url}/session/end", json={"session_id": sid}, timeout=60)
    check_session_samples(server, sid, sizes, calibrated=calibrated)


def session_labelled(server, label: str, user: str) -> str:
    """The ended session ``label`` of ``user`` (seed sessions end when their connection closes; seed
    004's after its fit and the frames held meanwhile)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = [
            s for s in httpx.get(f"{server.url}/api/sessions").json()
            if s.get("label") == label and s.get("user_id") == user and s["status"] == "ended"
        ]  # fmt: skip
        if found:
            return str(found[0]["id"])
        time.sleep(0.2)
    raise AssertionError(f"no ended session {label!r} of {user!r}")


@pytest.mark.parametrize("calibrated", [True, False], ids=["calibrated", "uncalibrated"])
def test_seed001_gaze_socket(server, profile, frames, calibrated: bool) -> None:
    user = SUBJECT if calibrated else STRANGER + "-001"

    async def run() -> list[dict[str, Any]]:
        got = []
        async with websockets.connect(f"{server.ws_url}/ws/gaze?user_id={user}", max_size=None) as ws:
            for j in frames:
                await ws.send(json.dumps({"type": "frame", "data": data_url(j)}))
                while (m := await recv_json(ws)).get("type") != "gaze_data":
                    pass
                got.append(m["data"])
        return got

    replies = asyncio.run(run())
    assert all(d["frame_processed"] for d in replies)
    assert all_violations(replies, seed_specs("seed 001"), FRAME) == []
    assert sum(d["horizontal_ratio"] is not None for d in replies) >= 0.8 * len(replies)
    sid = session_labelled(server, "seed001 /ws/gaze", user)
    check_session_samples(server, sid, {**FRAME, **screen_of(profile)}, calibrated=calibrated)


@pytest.mark.parametrize("calibrated", [True, False], ids=["calibrated", "uncalibrated"])
def test_seed002_socket(server, profile, frames, calibrated: bool) -> None:
    user = SUBJECT if calibrated else STRANGER + "-002"
    small = []
    for j in frames:  # the client captures 320x240
        img = cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR)
        ok, buf = cv2.imencode(".jpg", cv2.resize(img, (320, 240)), [cv2.IMWRITE_JPEG_QUALITY, 70])
        assert ok
        small.append(buf.tobytes())

    async def run() -> list[dict[str, Any]]:
        got = []
        async with websockets.connect(f"{server.ws_url}/ws?user_id={user}", max_size=None) as ws:
            await ws.send(json.dumps({"type": "init", "clientInfo": {"fps": 8}}))
            for j in small:
                await ws.send(json.dumps({"type": "frame", "data": data_url(j), "timestamp": 1}))
                got.append(await recv_json(ws))
        return got

    replies = asyncio.run(run())
    assert all("error" not in m for m in replies), replies[:3]
    assert all_violations(replies, seed_specs("seed 002")) == []
    assert sum(m["conf"] > 0 for m in replies) >= 0.8 * len(replies)
    sid = session_labelled(server, "seed002 /ws", user)
    sizes = {"frame_w": 320, "frame_h": 240, **screen_of(profile)}
    check_session_samples(server, sid, sizes, calibrated=calibrated)


def test_seed003_upload_points(server) -> None:
    inside = [{"x": 100 + 20 * k, "y": 200 + 10 * k, "weight": 1} for k in range(20)]
    outside = [{"x": -50, "y": 100, "weight": 1}, {"x": 2500, "y": 1200, "weight": 1}]
    r = httpx.post(f"{server.url}/upload", json={"points": inside + outside}, headers={"Origin": "null"})
    assert r.status_code == 200, r.text
    sid = r.headers["x-gazescope-session"]
    stored, rows = stored_and_csv(server, sid)
    sizes = {"screen_w": 1920, "screen_h": 1080}
    rows = [{**r, "source": "client_gaze"} for r in rows]  # the CSV has no source column
    for samples in (stored, rows):
        assert len(samples) == 22
        assert all_violations(samples, sizes=sizes) == []
        on = [s for s in samples if s["on_screen"]]
        assert len(on) == 20
        assert all(0 <= s["screen_x_px"] <= 1920 and 0 <= s["screen_y_px"] <= 1080 for s in on)
    assert all(s["source"] == "client_gaze" for s in stored)


def test_seed004_dispatcher_calibrated_and_not(server, webcam_dots, desk_jpegs) -> None:
    dots = [d for d in webcam_dots(SUBJECT, "1") if d["x"] in SEED004_GRID[0] and d["y"] in SEED004_GRID[1]]
    assert len(dots) == 9
    predict = webcam_dots(SUBJECT, "4")[:10]

    def msg(kind: str, jpeg: bytes, user: str, coords: list[float] | None = None) -> bytes:
        body: dict[str, Any] = {"userId": user, "images": base64.b64encode(jpeg).decode(), "age": 30}
        if coords is not None:
            body["coordinates"] = coords
        return (kind + json.dumps(body)).encode()

    async def app(user: str, calib: list[bytes], pred: list[bytes]) -> None:
        async with websockets.connect(f"{server.ws_url}/ws/test_dispatcher/", max_size=None) as ws:
            t0 = time.monotonic()
            for k, m in enumerate([*calib, *pred]):  # 30 FPS, as the app
                await ws.send(m)
                await asyncio.sleep(max(0.0, t0 + (k + 1) / 30 - time.monotonic()))
            await asyncio.sleep(1.0)

    calib = [msg("C", d["jpeg"], "hy4", [d["x"], d["y"]]) for d in dots for _ in range(SEED004_DOT_FRAMES)]
    pred = [msg("P", p["jpeg"], "hy4") for p in predict for _ in range(3)]
    asyncio.run(app("hy4", calib, pred))
    stranger = [msg("P", j, "stranger4") for j in desk_jpegs[300:330]]
    asyncio.run(app("stranger4", [], stranger))

    sizes = {**FRAME, "screen_w": SEED004_SCREEN[0], "screen_h": SEED004_SCREEN[1]}
    label = "seed004 /ws/test_dispatcher/"
    stored = check_session_samples(server, session_labelled(server, label, "hy4"), sizes, calibrated=None)
    targets = [s for s in stored if s.get("calibration_target_px")]
    assert targets and all_violations(stored, STORED_EXTRA_FIELDS, sizes, require_all=False) == []
    # calibration frames are taken before the fit; the prediction frames after it are mapped
    predicted = [s for s in stored if not s.get("calibration_target_px") and s["face_detected"]]
    mapped = [s for s in predicted if s["screen_x_px"] is not None]
    assert predicted and len(mapped) >= 0.5 * len(predicted), f"{len(mapped)} of {len(predicted)} mapped"
    check_session_samples(server, session_labelled(server, label, "stranger4"), sizes, calibrated=False)


def test_seed004_simulation_client_on_a_video(server, webcam_dots, short_video: Path) -> None:
    """The seed's simulation client on ``/ws/dispatcher/``: calibration frames, then prediction frames
    stamped with a video and ``relativeTime``, then ``END``; the stored samples carry ``stimulus_id`` and
    ``video_t_s`` (in the video's length)."""
    dots = [d for d in webcam_dots(SUBJECT, "1") if d["x"] in SEED004_GRID[0] and d["y"] in SEED004_GRID[1]]
    predict = webcam_dots(SUBJECT, "4")[:10]
    vid = httpx.post(
        f"{server.url}/api/stimuli", files={"file": ("clip.mp4", short_video.read_bytes())}, timeout=120
    ).json()
    url = f"{server.url}/api/stimuli/{vid['id']}/video"

    def b64(jpeg: bytes) -> str:
        return base64.b64encode(jpeg).decode()

    async def client() -> None:
        msgs = [
            "C" + json.dumps({"images": b64(d["jpeg"]), "coordinates": [d["x"], d["y"]]})
            for d in dots
            for _ in range(SEED004_DOT_FRAMES)
        ]
        msgs += [
            "P"
            + json.dumps(
                {"images": b64(p["jpeg"]), "relativeTime": 100 * k, "videoIndex": 0, "videos": [url]}
            )
            for k, p in enumerate(q for q in predict for _ in range(3))
        ]
        async with websockets.connect(f"{server.ws_url}/ws/dispatcher/", max_size=None) as ws:
            t0 = time.monotonic()
            for k, m in enumerate(msgs):
                await ws.send(m)
                await asyncio.sleep(max(0.0, t0 + (k + 1) / 30 - time.monotonic()))
            await ws.send("END")
            with contextlib.suppress(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 120)

    asyncio.run(client())
    deadline = time.monotonic() + 120
    while True:
        found = [
            s
            for s in httpx.get(f"{server.url}/api/sessions").json()
            if s.get("label") == "seed004 /ws/dispatcher/"
        ]
        if found and found[0]["status"] == "ended":
            break
        assert time.monotonic() < deadline, "the dispatcher session did not end"
        time.sleep(0.3)
    sizes = {**FRAME, "screen_w": SEED004_SCREEN[0], "screen_h": SEED004_SCREEN[1]}
    stored = check_session_samples(server, found[0]["id"], sizes, calibrated=None)
    on_video = [s for s in stored if s.get("video_t_s") is not None]
    assert on_video and all(s["stimulus_id"] == vid["id"] for s in on_video)
    assert all(0 <= s["video_t_s"] <= vid["duration_s"] for s in on_video)
    assert all_violations(stored, STORED_EXTRA_FIELDS, sizes, require_all=False) == []
    mapped = [s for s in on_video if s["screen_x_px"] is not None]
    assert len(mapped) >= 0.5 * len(on_video), f"{len(mapped)} of {len(on_video)} mapped"
