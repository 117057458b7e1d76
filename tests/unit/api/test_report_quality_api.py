"""The data-quality card through the API (issue 19): a session streamed at 3.7 FPS (19 frames in about
5.2 s, as a new user's was) is flagged failed in its stored report, its HTML page and the seed 000 end;
the same frames sent as fast as they are answered pass. Real app in-process, real frames."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from support.frames import video_jpegs


@pytest.fixture(scope="module")
def frames(desk_video: Path) -> list[bytes]:
    return video_jpegs(desk_video, 19)


def stream(
    client, sid: str, frames: list[bytes], interval_s: float, capture_fps: float | None = None
) -> None:
    """Send ``frames`` ``interval_s`` apart; with ``capture_fps`` each carries a capture time that far
    apart (the session clock follows it), so the rate does not depend on this machine's load."""
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        ws.receive_json()
        for i, jpeg in enumerate(frames):
            if i:
                time.sleep(interval_s)
            if capture_fps is None:
                ws.send_bytes(jpeg)
            else:
                data = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
                ws.send_json({"type": "frame", "data": data, "t_ms": 1000.0 * i / capture_fps})
            assert ws.receive_json()["type"] == "sample"


def quality(report: dict) -> dict:
    return {c["name"]: c for c in report["data_quality"]["checks"]}


def test_a_session_at_3_7_fps_is_flagged_and_a_fast_one_passes(client, frames):
    slow = client.post("/api/sessions", json={"label": "slow"}).json()["id"]
    stream(client, slow, frames, 5.2 / 19)
    report = client.post(f"/api/sessions/{slow}/end").json()
    assert report["frames"] == 19
    fps = quality(report)["effective_fps"]
    assert fps["status"] == "fail" and fps["value"] < 10.0 and fps["threshold"] == 10.0
    assert fps["detail"].startswith("19 frames in ")
    assert report["data_quality"]["status"] == "fail" and "effective_fps" in report["data_quality"]["failed"]
    assert quality(report)["calibration_error"]["status"] == "not_applicable"
    assert client.get(f"/api/sessions/{slow}/report").json()["data_quality"] == report["data_quality"]
    page = client.get(f"/api/sessions/{slow}/report.html").text
    assert "Data quality" in page and "failed: effective fps" in page

    fast = client.post("/api/sessions", json={"label": "fast"}).json()["id"]
    stream(client, fast, frames, 0.0, capture_fps=30.0)
    report = client.post(f"/api/sessions/{fast}/end").json()
    assert quality(report)["effective_fps"]["status"] == "pass", quality(report)["effective_fps"]
    assert quality(report)["face_share"]["status"] == "pass"


def test_the_threshold_is_a_setting(make_client, frames):
    with make_client(quality_min_fps=2.0) as client:
        sid = client.post("/api/sessions").json()["id"]
        stream(client, sid, frames[:6], 0.3)
        report = client.post(f"/api/sessions/{sid}/end").json()
    fps = quality(report)["effective_fps"]
    assert fps["threshold"] == 2.0 and fps["status"] == "pass"


def test_a_report_stored_before_cards_gets_one_and_seed000_labels_a_stored_session(client, frames):
    sid = client.post("/session/start", json={"session_duration": 1}).json()["session_id"]
    stream(client, sid, frames[:5], 0.0, capture_fps=30.0)
    ended = client.post("/session/end", json={"session_id": sid}).json()
    assert set(ended["session_report"]) >= {
        "reading",
        "scanning",
        "idle",
        "focused",
        "looking_away",
        "absent",
    }
    assert ended["report"]["activity_data"] == ended["session_report"]
    latest = client.get(f"/session/{sid}/latest_activity")  # from the stored samples: no stream now
    assert latest.status_code == 200 and isinstance(latest.json()["activity"], str)
    # a report stored by an older gazescope has no card: it is derived from the stored figures
    store = client.app.state.gs.store
    old = {k: v for k, v in store.get_report(sid).items() if k != "data_quality"}
    store.save_report(sid, old)
    card = client.get(f"/api/sessions/{sid}/report").json()["data_quality"]
    assert card["checks"][0]["name"] == "effective_fps" and card["status"] in ("pass", "fail")
    page = client.get(f"/api/sessions/{sid}/report.html").text
    assert "Data quality" in page and "made before reports carried" not in page
