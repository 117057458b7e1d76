"""The real clients of seeds 000-003 against a real ``gazescope serve`` (issue 11).

Each test replays one client's exact messages, at its rate, as its code sends them (the protocols are in
docs/seeds.md), with real webcam frames (the desk video as JPEG data URLs) or real screen gaze points
(the webcam_dots labels), and accepts only what that client's code can use:

* seed 000 (React tracker on http://localhost:3000): credentialed CORS answered with the origin itself,
  ``result.data`` readable, every ``{image, timestamp}`` frame sent every 100 ms answered with ``face``
  and ``gaze``;
* seed 001 (``lib/gazeClient.ts``): a reply counts only if its ``type`` is ``gaze_data``; one per frame,
  one frame in flight;
* seed 002 (``useGazeSocket.js``): ``init`` first, 320x240 frames at 8 FPS; every message has the metric
  keys; an idle ``/ws`` outlives the native idle timeout;
* seed 003 (a ``file://`` page): ``Origin: null`` passes the preflight, the answer is a PNG that decodes.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import socket
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import websockets
from PIL import Image

pytestmark = pytest.mark.integration

SEED000_ORIGIN = "http://localhost:3000"
METRIC_KEYS = {"t", "earLeft", "earRight", "blink", "eyeContact", "eyeContactPct", "gazeVector", "conf"}
#: The native idle timeout of the test server (s): seed 002's /ws must outlive it.
NATIVE_IDLE_S = 3
#: Seed 003's session gap on the test server (s): uploads a second apart continue a session.
SEED003_GAP_S = 3


@pytest.fixture(scope="module")
def server(module_serve):
    return module_serve(
        GAZESCOPE_IDLE_TIMEOUT_S=str(NATIVE_IDLE_S), GAZESCOPE_SEED003_SESSION_GAP_S=str(SEED003_GAP_S)
    )


@pytest.fixture(scope="module")
def data_urls(desk_jpegs) -> list[str]:
    """Desk video frames 100-199 as the JPEG data URLs ``canvas.toDataURL("image/jpeg")`` gives."""
    return ["data:image/jpeg;base64," + base64.b64encode(j).decode() for j in desk_jpegs[100:200]]


@pytest.fixture(scope="module")
def small_data_urls(desk_jpegs) -> list[str]:
    """Frames 200-259 scaled to 320x240, as seed 002's client captures them."""
    out = []
    for jpeg in desk_jpegs[200:260]:
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        ok, buf = cv2.imencode(".jpg", cv2.resize(img, (320, 240)), [cv2.IMWRITE_JPEG_QUALITY, 70])
        assert ok
        out.append("data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode())
    return out


async def recv_json(ws, timeout: float = 30.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


# --- seed 000 -------------------------------------------------------------------------------------------


def test_seed000_react_client_flow(server, data_urls):
    seed000_flow(server, data_urls, "seed000-user")


def test_seed000_react_client_flow_on_redis(serve, redis_server, data_urls):
    """The seed kept its sessions in Redis: the same flow on gazescope's Redis store."""
    seed000_flow(serve(GAZESCOPE_REDIS_URL=redis_server), data_urls[50:], "seed000-redis-user")


def seed000_flow(server, data_urls: list[str], user: str) -> None:
    """Seed 000's React client, step by step (see module docstring)."""
    origin = {"Origin": SEED000_ORIGIN}
    with httpx.Client(base_url=server.url, headers=origin, timeout=30) as c:
        pre = c.options(
            "/session/start",
            headers={
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == SEED000_ORIGIN
        assert pre.headers["access-control-allow-credentials"] == "true"

        r = c.post("/session/start", json={"session_duration": 25, "user_id": user})
        assert r.status_code == 201, r.text
        assert r.headers["access-control-allow-origin"] == SEED000_ORIGIN  # never "*"
        assert r.headers["access-control-allow-credentials"] == "true"
        started = r.json()
        sid = started["session_id"]
        assert started["status"] == "active" and started["session_duration"] == 25
        assert started["message"] and started["start_time"].endswith("+00:00")

        result = c.get(f"/session/{sid}").json()
        assert result["data"]["session_id"] == sid and result["session_id"] == sid
        assert result["data"]["session_duration"] == 25 and result["data"]["status"] == "active"
        assert c.get(f"/session/{sid}/latest_activity").status_code == 404  # nothing tracked yet

        async def stream() -> tuple[list[dict[str, Any]], int]:
            """The client's setInterval(100 ms): send regardless of replies; read every reply."""
            replies: list[dict[str, Any]] = []
            async with websockets.connect(
                f"{server.ws_url}/ws/session/{sid}/track", origin=SEED000_ORIGIN
            ) as ws:

                async def reader() -> None:
                    while True:
                        replies.append(await recv_json(ws))

                task = asyncio.create_task(reader())
                sent = 0
                t_next = time.monotonic()
                for url in data_urls[:50]:
                    await ws.send(json.dumps({"image": url, "timestamp": int(time.time() * 1000)}))
                    sent += 1
                    t_next += 0.1
                    await asyncio.sleep(max(0.0, t_next - time.monotonic()))
                deadline = time.monotonic() + 30
                while len([m for m in replies if m.get("type") != "session"]) < sent:
                    assert time.monotonic() < deadline, f"{len(replies)} replies to {sent} frames"
                    await asyncio.sleep(0.05)
                task.cancel()
                return replies, sent

        replies, sent = asyncio.run(stream())
        frames = [m for m in replies if m.get("type") != "session"]
        assert len(frames) == sent  # every frame answered, exactly once
        for m in frames:  # what the client reads: data.face, data.gaze (and the activity record)
            assert "face" in m and "gaze" in m, m
            assert {"timestamp", "gaze_direction", "activity", "blink_rate"} <= set(m), m
        samples = [m for m in frames if m["type"] == "sample"]
        assert len(samples) >= sent // 2
        with_face = [m for m in samples if m["face"] is not None]
        assert len(with_face) >= 0.9 * len(samples)
        for m in with_face:
            box = m["face"]
            assert 0 <= box["x"] < 640 and 0 <= box["y"] < 480 and 40 < box["w"] < 640 and 40 < box["h"] < 480
        gazes = [m["gaze"] for m in samples if m["gaze"] is not None]
        assert len(gazes) >= 0.8 * len(samples)
        for g in gazes:
            assert -1.0 <= g["horizontal"] <= 1.0 and 0.0 <= g["vertical"] <= 1.0
            for eye in ("left", "right"):
                assert 0 <= g["eyes"][eye]["x"] < 640 and 0 <= g["eyes"][eye]["y"] < 480
        print(f"\nseed 000: {sent} frames at 10 FPS -> {len(samples)} samples, {sent - len(samples)} dropped")

        latest = c.get(f"/session/{sid}/latest_activity")
        assert latest.status_code == 200
        assert {"timestamp", "gaze_direction", "activity", "blink_rate"} <= set(latest.json())

        end = c.post("/session/end", json={"session_id": sid})
        assert end.status_code == 200
        e = end.json()
        assert e["session_id"] == sid and e["message"]
        assert e["focus_time"] + e["distraction_time"] > 1.0
        assert set(e["session_report"]) >= {"focused", "looking_away", "absent"}
        assert e["report"]["session_id"] == sid and e["report"]["focus_time"] == e["focus_time"]
        assert e["report"]["activity_data"] == e["session_report"]
        assert e["frames"] == len(samples)  # gazescope's own report rides along

        listed = {s["session_id"]: s for s in c.get("/sessions").json()}
        mine = listed[sid]
        assert mine["status"] == "completed" and mine["session_duration"] == 25
        assert mine["focus_time"] == e["focus_time"] and mine["user_id"] == user
        assert mine["start_time"] == started["start_time"]
        by_user = c.get(f"/sessions/user/{user}").json()
        assert by_user["message"] and [s["session_id"] for s in by_user["data"]] == [sid]
        assert c.get(f"/session/{sid}").json()["data"]["status"] == "completed"
        native = httpx.get(f"{server.url}/api/sessions/{sid}/samples").json()
        assert native["total"] == len(samples)  # stored like native frames


# --- seed 001 -------------------------------------------------------------------------------------------


def test_seed001_gaze_client_flow(server, data_urls):
    info = httpx.get(f"{server.url}/", headers={"Accept": "application/json"}).json()
    assert info["message"] and info["version"]
    assert info["endpoints"]["websocket"] == "/ws/gaze" and info["endpoints"]["health"] == "/health"
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "healthy" and health["service"]
    assert health["gaze_tracking_available"] is True

    async def run() -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with websockets.connect(f"{server.ws_url}/ws/gaze") as ws:

            async def next_gaze_data() -> dict[str, Any]:
                while True:  # the client ignores anything that is not gaze_data
                    msg = await recv_json(ws)
                    if msg.get("type") == "gaze_data":
                        return msg["data"]

            for url in data_urls[:30]:  # one frame in flight: the next only after a gaze_data
                await ws.send(json.dumps({"type": "frame", "data": url}))
                got.append(await next_gaze_data())
            await ws.send(json.dumps({"type": "ping"}))
            pong = await recv_json(ws)
            await ws.send(json.dumps({"type": "frame", "data": "data:image/jpeg;base64,AAAA"}))
            failed = await next_gaze_data()
            await ws.send(json.dumps({"type": "frame", "data": data_urls[30]}))
            got.append(await next_gaze_data())
            # a client that does not wait: still one gaze_data per frame (dropped ones say so)
            for url in data_urls[40:48]:
                await ws.send(json.dumps({"type": "frame", "data": url}))
            burst = [await next_gaze_data() for _ in range(8)]
            assert all(d["frame_processed"] or d["error"] == "frame_dropped" for d in burst), burst
            print(f"\nseed 001: burst of 8 frames -> {sum(d['frame_processed'] for d in burst)} processed")
        return got, pong, failed

    t0 = time.time()
    got, pong, failed = asyncio.run(run())
    assert pong == {"type": "pong"}
    assert failed["frame_processed"] is False and failed["error"] and t0 - 1 <= failed["timestamp"]
    assert len(got) == 31
    for d in got:
        assert d["frame_processed"] is True
        assert t0 - 1 <= d["timestamp"] <= time.time() + 1  # seconds
    found = [d for d in got if d["pupil_left"] is not None]
    assert len(found) >= 25
    assert sum(d["is_left"] or d["is_right"] or d["is_center"] for d in found) >= 15


# --- seed 002 -------------------------------------------------------------------------------------------


def test_seed002_interview_client_flow(server, small_data_urls):
    async def run() -> tuple[list[dict[str, Any]], int, list[dict[str, Any]]]:
        messages: list[dict[str, Any]] = []
        async with websockets.connect(f"{server.ws_url}/ws", origin=SEED000_ORIGIN) as ws:

            async def reader() -> None:
                while True:
                    messages.append(await recv_json(ws))

            task = asyncio.create_task(reader())
            await ws.send(json.dumps({"type": "init", "clientInfo": {"userAgent": "pytest", "fps": 8}}))
            # Connect, then wait before Start: longer than the native idle timeout
            await asyncio.sleep(NATIVE_IDLE_S + 1.5)
            assert messages == []  # init is accepted silently
            sent = 0
            t_next = time.monotonic()
            for url in small_data_urls[:40]:  # 8 FPS, no flow control
                await ws.send(
                    json.dumps({"type": "frame", "data": url, "timestamp": int(time.time() * 1000)})
                )
                sent += 1
                t_next += 0.125
                await asyncio.sleep(max(0.0, t_next - time.monotonic()))
            await ws.send(json.dumps({"type": "frame", "data": "data:image/jpeg;base64,AAAA"}))
            await asyncio.sleep(3.0)
            task.cancel()
            return messages, sent, []

    messages, sent, _ = asyncio.run(run())
    assert messages, "no reply at all"
    for m in messages:  # the client replaces its metrics with whatever arrives
        assert set(m) >= METRIC_KEYS, m
        assert 0.0 <= m["eyeContactPct"] <= 1.0 and 0.0 <= m["conf"] <= 1.0
        assert len(m["gazeVector"]) == 2
    metrics = [m for m in messages if "error" not in m]
    errors = [m for m in messages if "error" in m]
    assert len(errors) == 1 and errors[0]["code"] == "bad_frame"
    assert sent // 2 <= len(metrics) <= sent
    faces = [m for m in metrics if m["conf"] > 0]
    assert len(faces) >= 0.8 * len(metrics)
    print(f"\nseed 002: {sent} frames at 8 FPS -> {len(metrics)} metric replies")


def test_seed002_dead_peer_is_found_by_websocket_pings(serve):
    """A peer that never answers pings (a raw socket after the handshake) is closed by the server within
    ping interval + timeout, although /ws itself waits 30 minutes for messages."""
    server = serve(GAZESCOPE_WS_PING_INTERVAL_S="0.5", GAZESCOPE_WS_PING_TIMEOUT_S="0.5")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        key = base64.b64encode(b"0123456789abcdef").decode()
        sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        t0 = time.monotonic()
        received = b""
        while True:  # read everything the server sends until it hangs up; never answer
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
            assert time.monotonic() - t0 < 10, "the dead peer was not closed within 10 s"
        waited = time.monotonic() - t0
    head, _, frames = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    assert frames[:1] == b"\x89"  # the first frame is a ping (FIN + opcode 9)
    print(f"\nseed 002: silent peer closed after {waited:.2f} s (ping interval 0.5 s, timeout 0.5 s)")


# --- seed 003 -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def screen_points(data_dir: Path) -> list[dict[str, int]]:
    """Real screen points people looked at (the webcam_dots click labels), as the page posts them."""
    with (data_dir / "gaze" / "webcam_dots" / "labels.csv").open() as fh:
        return [{"x": int(r["x"]), "y": int(r["y"]), "weight": 1} for r in csv.DictReader(fh)]


def test_seed003_file_page_flow(server, screen_points):
    null = {"Origin": "null"}
    pre = httpx.options(
        f"{server.url}/upload",
        headers={
            **null,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status_code in (200, 204)
    assert pre.headers["access-control-allow-origin"] in ("*", "null")
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert "content-type" in pre.headers["access-control-allow-headers"].lower()

    batches = [screen_points[i : i + 30] for i in range(0, 90, 30)]
    sessions = set()
    for batch in batches:  # every second, as the page does
        r = httpx.post(f"{server.url}/upload", json={"points": batch}, headers=null, timeout=30)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.headers["access-control-allow-origin"] in ("*", "null")
        img = Image.open(io.BytesIO(r.content))
        img.load()
        assert img.size == (1920, 1080)
        assert np.asarray(img.convert("RGBA"))[..., 3].max() > 0  # something drawn
        sessions.add(r.headers["x-gazescope-session"])
        time.sleep(1.0)
    for body in ({"points": []}, {}):
        r = httpx.post(f"{server.url}/upload", json=body, headers=null)
        assert r.status_code == 400 and r.json() == {"error": "No gaze data provided"}
        assert r.headers["access-control-allow-origin"] in ("*", "null")

    assert len(sessions) == 1  # one client, uploads a second apart: one session
    sid = sessions.pop()
    info = httpx.get(f"{server.url}/api/sessions/{sid}").json()
    assert info["sample_count"] == 90 and info["label"] == "seed003 /upload"
    samples = httpx.get(f"{server.url}/api/sessions/{sid}/samples").json()["samples"]
    assert [s["screen_x_px"] for s in samples] == [p["x"] for b in batches for p in b]
    t = [s["t_ms"] for s in samples]
    assert t == sorted(t)
    heat = httpx.get(f"{server.url}/api/sessions/{sid}/heatmap.png", params={"source": "samples"})
    assert heat.status_code == 200 and heat.content[:8] == b"\x89PNG\r\n\x1a\n"  # the dashboard's view

    time.sleep(SEED003_GAP_S + 0.5)  # the visitor comes back later: a new session, the old one ended
    r = httpx.post(f"{server.url}/upload", json={"points": batches[0]}, headers=null)
    assert r.status_code == 200 and r.headers["x-gazescope-session"] != sid
    ended = httpx.get(f"{server.url}/api/sessions/{sid}").json()
    assert ended["status"] == "ended" and ended["sample_count"] == 90
    report = httpx.get(f"{server.url}/api/sessions/{sid}/report").json()
    assert report["frames"] == 90


# --- all: token ------------------------------------------------------------------------------------------


def test_seed_routes_stay_protected_with_a_token(serve):
    server = serve(GAZESCOPE_API_TOKEN="s3cret")
    assert httpx.post(f"{server.url}/session/start", json={"session_duration": 5}).status_code == 401
    assert httpx.get(f"{server.url}/sessions").status_code == 401
    r = httpx.post(f"{server.url}/upload", json={"points": [{"x": 1, "y": 1, "weight": 1}]})
    assert r.status_code == 401 and "error" in r.json()
    pre = httpx.options(
        f"{server.url}/upload", headers={"Origin": "null", "Access-Control-Request-Method": "POST"}
    )
    assert pre.status_code in (200, 204)  # a preflight never carries credentials
    for path in ("/ws/gaze", "/ws"):
        with pytest.raises(websockets.exceptions.InvalidStatus) as exc:
            asyncio.run(_connect(f"{server.ws_url}{path}"))
        assert exc.value.response.status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert httpx.post(f"{server.url}/session/start", json={}, headers=auth).status_code == 201
    r = httpx.post(f"{server.url}/upload", json={"points": [{"x": 1, "y": 1, "weight": 1}]}, headers=auth)
    assert r.status_code == 200


async def _connect(url: str) -> None:
    async with websockets.connect(url):
        pass
