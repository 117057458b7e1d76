"""Sessions REST API and tracking WebSocket on the real app in-process (Starlette TestClient, real lifespan,
real SQLite file, real frames where a face is needed)."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gazescope.api.app import create_app
from gazescope.config import Settings
from support.frames import video_jpegs


def wait_until_untracked(client: TestClient, sid: str, timeout_s: float = 10.0) -> None:
    """The server finishes a connection (final flush, then ``tracking`` false) after the client's socket
    closes; with the in-process client that happens concurrently, so wait for it before reading the store."""
    deadline = time.monotonic() + timeout_s
    while client.get(f"/api/sessions/{sid}").json()["tracking"] and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture(scope="module")
def desk_jpegs(desk_video: Path) -> list[bytes]:
    """The first frames of the desk video as JPEG (quality 70)."""
    return video_jpegs(desk_video, 5)


def test_session_crud_and_filters(client):
    a = client.post(
        "/api/sessions", json={"user_id": "ann", "label": "one", "screen_w_px": 1920, "screen_h_px": 1080}
    )
    assert a.status_code == 201
    body = a.json()
    assert body["status"] == "active" and body["sample_count"] == 0 and body["tracking"] is False
    b = client.post("/api/sessions").json()  # no body at all
    assert b["user_id"] is None
    assert [s["id"] for s in client.get("/api/sessions", params={"user_id": "ann"}).json()] == [body["id"]]
    created = body["created_at_ms"]
    ids = [s["id"] for s in client.get("/api/sessions", params={"since": created, "until": created}).json()]
    assert ids == [body["id"]]
    assert client.get("/api/sessions", params={"until": "2000-01-01T00:00:00Z"}).json() == []
    assert len(client.get("/api/sessions", params={"limit": 1}).json()) == 1

    rep = client.get(f"/api/sessions/{body['id']}/report").json()
    assert rep["provisional"] is True and rep["frames"] == 0
    ended = client.post(f"/api/sessions/{body['id']}/end").json()
    assert ended["frames"] == 0 and ended["session_id"] == body["id"]
    assert client.get(f"/api/sessions/{body['id']}").json()["status"] == "ended"
    assert client.post(f"/api/sessions/{body['id']}/end").json() == ended
    assert "provisional" not in client.get(f"/api/sessions/{body['id']}/report").json()
    csv_text = client.get(f"/api/sessions/{body['id']}/samples.csv").text
    assert csv_text.startswith("t_ms,frame_index,face_detected")
    assert client.delete(f"/api/sessions/{body['id']}").status_code == 204
    assert client.delete(f"/api/sessions/{body['id']}").status_code == 404
    assert client.get(f"/api/sessions/{body['id']}").status_code == 404


def test_bad_requests(client):
    assert client.post("/api/sessions", json={"screen_w_px": 0}).status_code == 422
    assert client.post("/api/sessions", json={"label": "x" * 600}).status_code == 422
    assert client.post("/api/sessions", json={"unknown": 1}).status_code == 422
    assert client.get("/api/sessions/abc/samples", params={"start": -1}).status_code == 422
    assert client.get("/api/sessions/abc/samples", params={"format": "xml"}).status_code == 422
    r = client.get("/api/sessions/abc")
    assert r.status_code == 404 and r.json() == {"detail": r.json()["detail"], "code": "session_not_found"}
    assert client.post("/session/start", json={"session_id": "bad id!"}).status_code == 422
    sid = client.post("/session/start", json={"session_id": "my-session.1"}).json()["session_id"]
    assert sid == "my-session.1"
    r = client.post("/session/start", json={"session_id": "my-session.1"})
    assert r.status_code == 422 and r.json()["code"] == "session_exists"


def test_tracking_websocket_in_process(client, desk_jpegs):
    sid = client.post("/api/sessions").json()["id"]
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "session" and hello["session"]["id"] == sid
        assert client.get(f"/api/sessions/{sid}").json()["tracking"] is True
        ws.send_bytes(desk_jpegs[0])
        s0 = ws.receive_json()
        data = "data:image/jpeg;base64," + base64.b64encode(desk_jpegs[1]).decode()
        ws.send_json({"type": "frame", "data": data, "t_ms": 1000.0})
        s1 = ws.receive_json()
        ws.send_json({"type": "nope"})
        err = ws.receive_json()
    assert s0["type"] == "sample" and s0["frame_index"] == 0 and s0["client_t_ms"] is None
    assert s1["frame_index"] == 1 and s1["client_t_ms"] == 1000.0 and s1["t_ms"] > s0["t_ms"]
    assert s1["face_detected"] is True and s1["ear_left"] > 0.1
    assert err["code"] == "unknown_type"
    # the disconnect flushed both samples
    wait_until_untracked(client, sid)
    page = client.get(f"/api/sessions/{sid}/samples").json()
    assert page["total"] == 2 and [s["frame_index"] for s in page["samples"]] == [0, 1]


def test_end_closes_the_tracking_connection_after_flushing(client, desk_jpegs):
    sid = client.post("/api/sessions").json()["id"]
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        ws.receive_json()
        for jpeg in desk_jpegs[:3]:
            ws.send_bytes(jpeg)
            assert ws.receive_json()["type"] == "sample"
        report = client.post(f"/api/sessions/{sid}/end").json()
        assert ws.receive_json() == {"type": "session_ended", "session_id": sid}
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_json()
        assert exc.value.code == 1000
    assert report["frames"] == 3


def test_unknown_session_websocket_closes_4404(client):
    with client.websocket_connect("/ws/sessions/nope/track") as ws:
        assert ws.receive_json()["code"] == "session_not_found"
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_json()
    assert exc.value.code == 4404


def test_ops_endpoints(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    text = client.get("/metrics").text
    for name in (
        "gazescope_frames_processed_total",
        "gazescope_frames_dropped_total",
        "gazescope_frame_processing_seconds",
        "gazescope_active_connections",
        "gazescope_active_sessions",
    ):
        assert name in text
    assert client.get("/openapi.json").json()["info"]["title"] == "gazescope"


def test_oversize_message_is_refused_by_the_app_too(tmp_path, desk_jpegs):
    """Without uvicorn's ws_max_size (another ASGI server), the app itself closes with 1009."""
    app = create_app(Settings(db_path=tmp_path / "g.db", max_message_bytes=64 * 1024))
    with TestClient(app) as client:
        sid = client.post("/api/sessions").json()["id"]
        with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
            ws.receive_json()
            ws.send_bytes(desk_jpegs[0])
            assert ws.receive_json()["type"] == "sample"
            ws.send_bytes(b"\xff\xd8" + b"\x00" * (65 * 1024))
            with pytest.raises(WebSocketDisconnect) as exc:
                ws.receive_json()
            assert exc.value.code == 1009
        wait_until_untracked(client, sid)
        assert client.get(f"/api/sessions/{sid}").json()["sample_count"] == 1
