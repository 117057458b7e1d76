"""Video stimuli and seed 004's routes on the real app in-process (Starlette TestClient, real lifespan,
real SQLite file): bad uploads are refused and leave nothing behind, AOI time ranges are checked, the
``stimulus_time`` message and seed 004's messages answer bad input with clear errors and go on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

W, H, FRAMES, FPS = 64, 48, 20, 10.0


def tiny_mp4(path: Path) -> bytes:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    for k in range(FRAMES):
        w.write(np.full((H, W, 3), 10 * k, dtype=np.uint8))
    w.release()
    return path.read_bytes()


def png() -> bytes:
    return cv2.imencode(".png", np.zeros((H, W, 3), dtype=np.uint8))[1].tobytes()


def test_upload_serve_and_delete_a_video(client: TestClient, tmp_path: Path) -> None:
    r = client.post(
        "/api/stimuli", files={"file": ("v.mp4", tiny_mp4(tmp_path / "v.mp4"))}, data={"name": "tiny"}
    )
    assert r.status_code == 201, r.text
    v = r.json()
    assert (v["kind"], v["name"], v["frame_count"], v["width_px"], v["height_px"]) == (
        "video",
        "tiny",
        FRAMES,
        W,
        H,
    )
    assert v["duration_s"] == pytest.approx(FRAMES / FPS)
    part = client.get(v["video_url"], headers={"Range": "bytes=4-7"})
    assert (part.status_code, part.content) == (206, b"ftyp")
    assert client.head(v["video_url"]).status_code == 200
    # the file is rebuilt from the store when it is missing
    (tmp_path / "videos" / f"{v['id']}.mp4").unlink()
    assert client.get(v["video_url"]).content == (tmp_path / "v.mp4").read_bytes()
    assert client.delete(f"/api/stimuli/{v['id']}").status_code == 204
    assert not (tmp_path / "videos" / f"{v['id']}.mp4").exists()
    assert client.get(v["video_url"]).status_code == 404


@pytest.mark.parametrize(
    ("data", "status"),
    [
        pytest.param(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 300, 400, id="mp4-that-does-not-decode"),
        pytest.param(b"\x1a\x45\xdf\xa3" + b"\x01" * 300, 400, id="webm-that-does-not-decode"),
    ],
)
def test_bad_videos_are_refused_and_leave_nothing(
    client: TestClient, tmp_path: Path, data: bytes, status: int
) -> None:
    r = client.post("/api/stimuli", files={"file": ("x.mp4", data)})
    assert r.status_code == status, r.text
    assert client.get("/api/stimuli").json() == []
    assert not any((tmp_path / "videos").glob("*.*"))


def test_video_over_the_size_limit_is_413(tmp_path: Path, make_client: Callable[..., TestClient]) -> None:
    data = tiny_mp4(tmp_path / "v.mp4")
    with make_client(max_stimulus_video_bytes=1024) as c:
        r = c.post("/api/stimuli", files={"file": ("v.mp4", data)})
        assert r.status_code == 413 and "1024 bytes" in r.json()["detail"]
        assert c.get("/api/stimuli").json() == []


def test_aoi_time_ranges_are_checked(client: TestClient, tmp_path: Path) -> None:
    vid = client.post("/api/stimuli", files={"file": ("v.mp4", tiny_mp4(tmp_path / "v.mp4"))}).json()["id"]
    rect = {"name": "a", "kind": "rect", "x_px": 0, "y_px": 0, "w_px": 10, "h_px": 10}
    assert (
        client.put(
            f"/api/stimuli/{vid}/aois", json={"aois": [{**rect, "start_s": 0.5, "end_s": 1.5}]}
        ).status_code
        == 200
    )
    for bad in ({"start_s": 5.0}, {"start_s": 1.0, "end_s": 0.5}, {"start_s": -1}):
        r = client.put(f"/api/stimuli/{vid}/aois", json={"aois": [{**rect, **bad}]})
        assert r.status_code == 422, (bad, r.text)
    assert client.get(f"/api/stimuli/{vid}/aois").json()["aois"][0]["start_s"] == 0.5
    img = client.post("/api/stimuli", files={"file": ("i.png", png())}).json()["id"]
    r = client.get(f"/api/stimuli/{img}/video")
    assert r.status_code == 404 and r.json()["code"] == "not_a_video"
    r = client.get(f"/api/stimuli/{img}/video/report")
    assert r.status_code == 422 and r.json()["code"] == "not_a_video"


def test_stimulus_time_errors_keep_the_connection(client: TestClient, tmp_path: Path) -> None:
    img = client.post("/api/stimuli", files={"file": ("i.png", png())}).json()["id"]
    sid = client.post("/api/sessions", json={}).json()["id"]
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        assert ws.receive_json()["type"] == "session"
        for msg, code in (
            ({"stimulus_id": "nope", "video_t_s": 1.0}, "stimulus_not_found"),
            ({"stimulus_id": img, "video_t_s": 1.0}, "not_a_video"),
            ({"stimulus_id": img, "video_t_s": -1.0}, "invalid_request"),
            ({"stimulus_id": "bad id!", "video_t_s": 1.0}, "invalid_request"),
        ):
            ws.send_text(json.dumps({"type": "stimulus_time", **msg}))
            reply = ws.receive_json()
            assert (reply["type"], reply["code"]) == ("error", code), reply
        ws.send_text(json.dumps({"type": "ping", "t_ms": 1}))
        assert ws.receive_json()["type"] == "pong"


def test_seed004_bad_messages_are_answered_and_the_connection_goes_on(client: TestClient) -> None:
    with client.websocket_connect("/ws/dispatcher") as ws:
        for text in ("Xhello", "C{not json", 'C{"images": "QUJD", "coordinates": [1]}'):
            ws.send_text(text)
            reply = ws.receive_json()
            assert (reply["type"], reply["code"]) == ("error", "bad_message"), reply
        ws.send_bytes(b"\xff\xfe")
        assert ws.receive_json()["code"] == "bad_message"
        ws.send_text("RequestVideoURL:3")
        assert ws.receive_json() == {"video_urls": []}
    with client.websocket_connect("/ws/test_dispatcher/") as ws:
        ws.send_text("RequestVideoURL:1")
        assert ws.receive_text() == "VideoURLs:"
    sessions = [s for s in client.get("/api/sessions").json() if s["label"].startswith("seed004")]
    assert {(s["screen_w_px"], s["screen_h_px"]) for s in sessions} == {(1600, 720)}
