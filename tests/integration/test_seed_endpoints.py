"""The seeds' endpoints on a real ``gazescope serve``, driven with the exact client messages their
READMEs show (../shared/seeds/000_*, 001_*, 002_*), on real webcam frames (the desk video as JPEG).
The real clients' flows (issue 11) are replayed in test_seed_clients.py."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import httpx
import pytest
import websockets

pytestmark = pytest.mark.integration

PYTHON_GAZE_DATA_KEYS = {
    "timestamp",
    "pupil_left",
    "pupil_right",
    "horizontal_ratio",
    "vertical_ratio",
    "is_left",
    "is_right",
    "is_center",
    "is_blinking",
    "attention_score",
    "frame_processed",
}
EYE_CONTACT_KEYS = {"t", "earLeft", "earRight", "blink", "eyeContact", "eyeContactPct", "gazeVector", "conf"}


@pytest.fixture(scope="module")
def server(module_serve):
    return module_serve()


@pytest.fixture(scope="module")
def frames(desk_jpegs) -> list[bytes]:
    return desk_jpegs[100:140]


def b64(jpeg: bytes) -> str:
    return base64.b64encode(jpeg).decode()


async def recv_json(ws, timeout: float = 30.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


def wait_for_session(server, label: str, timeout: float = 15.0) -> dict[str, Any]:
    """The newest session with ``label`` once it has ended (implicit sessions end when their socket
    closes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for s in httpx.get(f"{server.url}/sessions").json():
            if s["label"] == label and s["status"] == "completed":  # seed 000's name for "ended"
                return s
        time.sleep(0.2)
    raise AssertionError(f"no ended session labelled {label!r}")


# --- seed 000 -------------------------------------------------------------------------------------------


def test_seed000_session_flow(server, frames):
    r = httpx.post(f"{server.url}/session/start")
    assert r.status_code == 201  # seed 000's client code expects 201 Created (issue 11)
    sid = r.json()["session_id"]
    r = httpx.post(f"{server.url}/session/start", json={"user_id": "alice", "label": "seed000"})
    assert r.status_code == 201 and r.json()["session"]["user_id"] == "alice"
    sid2 = r.json()["session_id"]

    async def track() -> list[dict[str, Any]]:
        async with websockets.connect(f"{server.ws_url}/ws/session/{sid2}/track") as ws:
            assert (await recv_json(ws))["type"] == "session"
            out = []
            for i, jpeg in enumerate(frames[:10]):
                await ws.send(jpeg)  # binary JPEG
                msg = await recv_json(ws)
                assert msg["type"] == "sample", msg
                out.append(msg)
                assert msg["frame_index"] == i
            return out

    samples = asyncio.run(track())
    assert all(s["face_detected"] for s in samples)
    report = httpx.post(f"{server.url}/session/end", json={"session_id": sid2})
    assert report.status_code == 200
    rep = report.json()
    assert rep["session_id"] == sid2 and rep["frames"] == 10
    assert {"focus_pct", "attention_mean", "attention_state_s", "blink_count", "eye_contact_pct"} <= set(rep)
    listed = {s["session_id"]: s for s in httpx.get(f"{server.url}/sessions").json()}
    assert listed[sid2]["status"] == "completed" and listed[sid2]["sample_count"] == 10
    assert listed[sid]["status"] == "active"
    r = httpx.post(f"{server.url}/session/end", json={"session_id": "nope"})
    assert r.status_code == 404
    assert httpx.post(f"{server.url}/session/end", json={}).status_code == 422
    assert httpx.get(f"{server.url}/docs").status_code == 200  # Swagger UI, as the README says


# --- seed 001 -------------------------------------------------------------------------------------------


def test_seed001_info_health_and_app(server):
    info = httpx.get(f"{server.url}/", headers={"Accept": "application/json"})
    assert info.status_code == 200 and info.json()["service"] == "gazescope"
    assert httpx.get(f"{server.url}/").json()["endpoints"]["gaze_ws"] == "/ws/gaze"
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    r = httpx.get(f"{server.url}/", headers=browser)
    assert r.status_code == 307 and r.headers["location"] == "/app/"
    app = httpx.get(f"{server.url}/app/", headers=browser)
    assert app.status_code == 200 and "text/html" in app.headers["content-type"]
    health = httpx.get(f"{server.url}/health")
    assert health.status_code == 200 and health.json()["status"] == "healthy"


def test_seed001_ws_gaze_replies_python_gaze_data(server, frames):
    async def run() -> list[dict[str, Any]]:
        out = []
        async with websockets.connect(f"{server.ws_url}/ws/gaze") as ws:
            messages = []
            for i, jpeg in enumerate(frames[:12]):
                kind = i % 3
                if kind == 0:
                    messages.append(b64(jpeg))  # raw base64 text
                elif kind == 1:
                    messages.append("data:image/jpeg;base64," + b64(jpeg))  # canvas.toDataURL()
                else:
                    messages.append(json.dumps({"frame": "data:image/jpeg;base64," + b64(jpeg)}))
            for m in messages:
                await ws.send(m)
                out.append(await recv_gaze_data(ws))
            await ws.send("this is not an image")
            out.append(await recv_gaze_data(ws))
            await ws.send(b64(frames[12]))
            out.append(await recv_gaze_data(ws))
        return out

    async def recv_gaze_data(ws) -> dict[str, Any]:
        msg = await recv_json(ws)
        assert msg["type"] == "gaze_data", msg  # every reply wrapped, as the real client reads it
        return msg["data"]

    t0 = time.time()  # PythonGazeData timestamps are epoch seconds
    replies = asyncio.run(run())
    for r in replies[:12] + replies[13:]:
        assert set(r) == PYTHON_GAZE_DATA_KEYS, r
        assert r["frame_processed"] is True
        assert t0 - 1 <= r["timestamp"] <= time.time() + 1
        assert 0.0 <= r["attention_score"] <= 1.0
    found = [r for r in replies[:12] if r["pupil_left"] is not None]
    assert len(found) >= 10
    for r in found:
        assert len(r["pupil_left"]) == 2 and len(r["pupil_right"]) == 2
        assert 0.0 <= r["horizontal_ratio"] <= 1.0 and 0.0 <= r["vertical_ratio"] <= 1.0
        assert r["is_left"] + r["is_right"] + r["is_center"] <= 1
    assert sum(r["is_left"] or r["is_right"] or r["is_center"] for r in found) >= 5
    bad = replies[12]
    assert bad["frame_processed"] is False and bad["error"] == "bad_frame" and bad["message"]
    session = wait_for_session(server, "seed001 /ws/gaze")
    assert session["sample_count"] == 13
    report = httpx.get(f"{server.url}/api/sessions/{session['id']}/report").json()
    assert report["frames"] == 13 and "provisional" not in report


# --- seed 002 -------------------------------------------------------------------------------------------


def test_seed002_ws_replies_eye_contact_metrics(server, frames):
    async def run() -> list[dict[str, Any]]:
        out = []
        async with websockets.connect(f"{server.ws_url}/ws") as ws:
            for jpeg in frames[:15]:
                await ws.send(json.dumps({"type": "frame", "data": "data:image/jpeg;base64," + b64(jpeg)}))
                out.append(await recv_json(ws))
            await ws.send(json.dumps({"type": "frame", "data": "data:image/jpeg;base64,AAAA"}))
            out.append(await recv_json(ws))
            await ws.send(json.dumps({"type": "hello"}))
            out.append(await recv_json(ws))
        return out

    t0 = time.time() * 1000
    replies = asyncio.run(run())
    for r in replies[:15]:
        assert set(r) == EYE_CONTACT_KEYS, r
        assert isinstance(r["t"], int) and r["t"] >= t0 - 1000
        assert 0.0 <= r["eyeContactPct"] <= 1.0
        assert isinstance(r["blink"], bool) and isinstance(r["eyeContact"], bool)
        assert len(r["gazeVector"]) == 2 and all(-1.0 <= v <= 1.0 for v in r["gazeVector"])
        assert 0.0 <= r["conf"] <= 1.0
    faces = [r for r in replies[:15] if r["conf"] > 0]
    assert len(faces) >= 12
    assert all(0.1 < r["earLeft"] < 0.5 and 0.1 < r["earRight"] < 0.5 for r in faces)
    assert replies[15]["type"] == "error" and replies[15]["code"] == "bad_frame"
    assert replies[16]["type"] == "error" and replies[16]["code"] == "unknown_type"
    assert all(set(r) >= EYE_CONTACT_KEYS for r in replies[15:])  # errors keep the metrics' shape
    session = wait_for_session(server, "seed002 /ws")
    assert session["sample_count"] == 15
