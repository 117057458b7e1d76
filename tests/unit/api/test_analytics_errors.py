"""Analytics and stimulus routes on the real app (TestClient, real lifespan, real SQLite file): unknown
ids, bad uploads, bad AOIs, bad gaze batches, nothing to draw, conflicting parameters, deleting a
stimulus, the API token, and the calibration accuracy feeding the report and the heatmap kernel."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from gazescope.api.app import create_app
from gazescope.config import Settings
from support.api import new_session


def png_bytes(w: int = 640, h: int = 360) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 200, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def fixation_points(
    x: float, y: float, n: int = 10, t0: float = 0.0, dt: float = 40.0
) -> list[dict[str, Any]]:
    return [{"t_ms": t0 + k * dt, "x_px": x + (2 if k % 2 else -2), "y_px": y} for k in range(n)]


def new_stimulus(client: TestClient, w: int = 640, h: int = 360) -> str:
    r = client.post("/api/stimuli", files={"file": ("s.png", png_bytes(w, h), "image/png")})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_unknown_ids_are_404(client: TestClient) -> None:
    for path in (
        "/api/sessions/nope/events",
        "/api/sessions/nope/heatmap.png",
        "/api/sessions/nope/scanpath.png",
        "/api/sessions/nope/trail.png",
        "/api/sessions/nope/report.html",
        "/api/sessions/nope/export/pymovements.csv",
        "/api/stimuli/nope",
        "/api/stimuli/nope/image",
        "/api/stimuli/nope/aois",
        "/api/stimuli/nope/heatmap.png",
        "/api/stimuli/nope/report",
        "/api/stimuli/nope/report.html",
        "/api/users/nobody/heatmap.png",
    ):
        r = client.get(path)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["detail"]
    assert client.delete("/api/stimuli/nope").status_code == 404
    assert client.put("/api/stimuli/nope/aois", json={"aois": []}).status_code == 404
    r = client.post("/api/sessions/nope/gaze", json={"points": fixation_points(1, 1)})
    assert r.status_code == 404


def test_upload_checks_format_and_limits(tmp_path: Path) -> None:
    s = Settings(
        db_path=tmp_path / "up.db", max_stimulus_bytes=4096, max_frame_width=320, max_frame_height=320
    )
    with TestClient(create_app(s)) as c:
        gif = b"GIF89a" + b"\x00" * 40
        r = c.post("/api/stimuli", files={"file": ("a.gif", gif, "image/gif")})
        assert r.status_code == 400 and "JPEG and PNG" in r.json()["detail"]
        r = c.post("/api/stimuli", files={"file": ("a.png", b"not an image at all", "image/png")})
        assert r.status_code == 400
        truncated = png_bytes(100, 100)[:-20]
        assert c.post("/api/stimuli", files={"file": ("t.png", truncated, "image/png")}).status_code == 400
        r = c.post("/api/stimuli", files={"file": ("big.png", png_bytes(400, 100), "image/png")})
        assert r.status_code == 413 and "400x100" in r.json()["detail"]
        noisy = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)).save(
            noisy, "PNG"
        )
        r = c.post("/api/stimuli", files={"file": ("noise.png", noisy.getvalue(), "image/png")})
        assert r.status_code == 413 and "4096 bytes" in r.json()["detail"]
        assert c.get("/api/stimuli").json() == []  # nothing stored by refused uploads


def test_stimulus_crud_and_aoi_validation(client: TestClient) -> None:
    sid = new_stimulus(client)
    r = client.get(f"/api/stimuli/{sid}/image")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == png_bytes()
    ok = [{"name": "a", "kind": "rect", "x_px": 10, "y_px": 10, "w_px": 50, "h_px": 50}]
    bad = {
        "unique": ok + ok,
        "AOI 0 is invalid": [{"name": "a", "kind": "rect", "x_px": 0, "y_px": 0, "w_px": -5, "h_px": 5}],
        "at least 3": [{"name": "p", "kind": "polygon", "points_px": [[0, 0], [5, 5]]}],
        "outside": [{"name": "far", "kind": "rect", "x_px": 1000, "y_px": 10, "w_px": 50, "h_px": 50}],
        "extra": [{"name": "a", "kind": "rect", "x_px": 0, "y_px": 0, "w_px": 5, "h_px": 5, "colour": "red"}],
    }
    for reason, aois in bad.items():
        r = client.put(f"/api/stimuli/{sid}/aois", json={"aois": aois})
        assert r.status_code == 422, (reason, r.text)
        assert reason in str(r.json()["detail"]), (reason, r.json())
    assert client.get(f"/api/stimuli/{sid}/aois").json()["aois"] == []
    assert client.put(f"/api/stimuli/{sid}/aois", json={"aois": ok}).status_code == 200
    assert client.get(f"/api/stimuli/{sid}/aois").json()["aois"] == ok
    listed = client.get("/api/stimuli").json()
    assert [(s["id"], s["aoi_count"]) for s in listed] == [(sid, 1)]
    assert client.get(f"/api/stimuli/{sid}").json()["aois"] == ok

    # a session on the stimulus is still analysed (on its screen) after the stimulus is deleted
    sess = new_session(client, stimulus_id=sid, screen_w_px=640, screen_h_px=360)
    assert (
        client.post(f"/api/sessions/{sess}/gaze", json={"points": fixation_points(35, 35)}).status_code == 200
    )
    assert client.delete(f"/api/stimuli/{sid}").status_code == 204
    assert client.get(f"/api/stimuli/{sid}").status_code == 404
    assert client.get(f"/api/stimuli/{sid}/image").status_code == 404
    r = client.get(f"/api/sessions/{sess}/heatmap.png")
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (640, 360)
    assert client.post(f"/api/sessions/{sess}/end").status_code == 200


def test_gaze_batches_are_validated(client: TestClient) -> None:
    sid = new_session(client)
    pts = fixation_points(100, 100)
    r = client.post(f"/api/sessions/{sid}/gaze", json={"points": pts})
    assert r.status_code == 422 and "no screen size" in r.json()["detail"]
    r = client.post(f"/api/sessions/{sid}/gaze", json={"points": pts, "screen_w_px": 800})
    assert r.status_code == 422
    r = client.post(f"/api/sessions/{sid}/gaze", json={"points": pts, "screen_w_px": 800, "screen_h_px": 600})
    assert r.status_code == 200 and r.json()["accepted"] == len(pts)
    assert client.get(f"/api/sessions/{sid}").json()["screen_w_px"] == 800
    r = client.post(
        f"/api/sessions/{sid}/gaze", json={"points": pts, "screen_w_px": 1024, "screen_h_px": 768}
    )
    assert r.status_code == 409 and "contradicts" in r.json()["detail"]
    r = client.post(f"/api/sessions/{sid}/gaze", json={"points": pts})  # back in time
    assert r.status_code == 409 and "back in time" in r.json()["detail"]

    bad_batches = [
        {"points": []},
        {"points": [{"x_px": 1, "y_px": 2}]},
        {"points": [{"t_ms": 1, "x_px": "left", "y_px": 2}]},
        {"points": [{"t_ms": 1, "x": 1, "y": 2}]},
        {"points": [{"t_ms": -5, "x_px": 1, "y_px": 2}]},
        {"points": [{"t_ms": 1e6 + k, "x_px": 1, "y_px": 2} for k in range(10_001)]},
        {"dots": []},
    ]
    for body in bad_batches:
        r = client.post(f"/api/sessions/{sid}/gaze", json=body)
        assert r.status_code == 422, (body if len(str(body)) < 200 else "big", r.text[:200])
    nan = '{"points": [{"t_ms": 1e6, "x_px": NaN, "y_px": 2}]}'
    r = client.post(f"/api/sessions/{sid}/gaze", content=nan, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert client.get(f"/api/sessions/{sid}").json()["sample_count"] == len(pts)  # nothing of the bad ones

    # points without gaze (face lost) are kept as gaps, out-of-screen points are not on screen
    later = [
        {"t_ms": 5000, "x_px": None, "y_px": None},
        {"t_ms": 5040, "x_px": 900, "y_px": 100},
        {"t_ms": 5080, "x_px": 100, "y_px": 100},
    ]
    r = client.post(f"/api/sessions/{sid}/gaze", json={"points": later})
    assert r.json() | {"session_id": None} == {
        "session_id": None,
        "accepted": 3,
        "on_screen": 1,
        "without_point": 1,
        "sample_count": len(pts) + 3,
    }
    rep = client.post(f"/api/sessions/{sid}/end").json()
    states = rep["attention_state_s"]  # off-screen: looking away; no point: absent; the rest focused
    assert states["absent"] > 0 and states["looking_away"] > 0 and states["focused"] > states["absent"]
    r = client.post(f"/api/sessions/{sid}/gaze", json={"points": [{"t_ms": 9000, "x_px": 1, "y_px": 1}]})
    assert r.status_code == 409 and "ended" in r.json()["detail"]


def test_nothing_to_draw_says_why(client: TestClient) -> None:
    empty = new_session(client, screen_w_px=800, screen_h_px=600)
    for fig in ("heatmap.png", "scanpath.png", "trail.png"):
        r = client.get(f"/api/sessions/{empty}/{fig}")
        assert r.status_code == 422 and r.json()["code"] == "no_gaze"
        assert "no calibrated gaze samples" in r.json()["detail"]
    assert client.get(f"/api/sessions/{empty}/events").json()["fixations"] == []

    # gaze that never rests: no fixation, but the samples can still be drawn
    moving = new_session(client, screen_w_px=800, screen_h_px=600)
    pts = [{"t_ms": 40.0 * k, "x_px": 30.0 + 150 * (k % 5), "y_px": 300.0} for k in range(20)]
    assert client.post(f"/api/sessions/{moving}/gaze", json={"points": pts}).status_code == 200
    r = client.get(f"/api/sessions/{moving}/heatmap.png")
    assert r.status_code == 422 and r.json()["code"] == "no_fixations"
    assert client.get(f"/api/sessions/{moving}/heatmap.png", params={"source": "samples"}).status_code == 200

    # overlay needs a stimulus; overlay and transparent exclude each other; unknown method
    r = client.get(f"/api/sessions/{moving}/heatmap.png", params={"overlay": 1, "source": "samples"})
    assert r.status_code == 422 and r.json()["code"] == "no_stimulus"
    r = client.get(f"/api/sessions/{moving}/heatmap.png", params={"overlay": 1, "transparent": 1})
    assert r.status_code == 422
    assert client.get(f"/api/sessions/{moving}/events", params={"method": "magic"}).status_code == 422

    # a stimulus nobody viewed, and sessions that are not on it
    stim = new_stimulus(client)
    r = client.get(f"/api/stimuli/{stim}/heatmap.png")
    assert r.status_code == 422 and "no session is on stimulus" in r.json()["detail"]
    r = client.get(f"/api/stimuli/{stim}/report", params={"sessions": moving})
    assert r.status_code == 422 and "not on stimulus" in r.json()["detail"]
    viewer = new_session(client, stimulus_id=stim, screen_w_px=640, screen_h_px=360)
    r = client.get(f"/api/stimuli/{stim}/heatmap.png")
    assert r.status_code == 422 and r.json()["code"] == "no_gaze"
    assert client.get(f"/api/stimuli/{stim}/report").json()["n_sessions_with_gaze"] == 0
    r = client.get(f"/api/stimuli/{stim}/heatmap.png", params={"sessions": f"{viewer},ghost"})
    assert r.status_code == 404


def test_token_protects_analytics(tmp_path: Path) -> None:
    s = Settings(db_path=tmp_path / "tok.db", api_token="s3cret")
    with TestClient(create_app(s)) as c:
        assert c.get("/api/stimuli").status_code == 401
        assert c.get("/api/sessions/x/heatmap.png").status_code == 401
        assert c.get("/api/stimuli", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_calibration_accuracy_sets_report_and_kernel(client: TestClient) -> None:
    a = new_session(client, screen_w_px=800, screen_h_px=600)
    b = new_session(client, screen_w_px=800, screen_h_px=600)
    pts = fixation_points(400, 300)
    for sid in (a, b):
        assert client.post(f"/api/sessions/{sid}/gaze", json={"points": pts}).status_code == 200
    store = client.app.state.gs.store
    store.put_document(
        "calibration_results",
        "cal-a",
        {"session_id": a, "kind": "calibration", "created_at_ms": 1.0, "accuracy": {"mean_error_px": 250.0}},
    )
    store.put_document(  # a later drift check does not replace the calibration's accuracy
        "calibration_results",
        "drift-a",
        {"session_id": a, "kind": "drift", "created_at_ms": 2.0, "accuracy": {"mean_error_px": 10.0}},
    )
    assert client.post(f"/api/sessions/{a}/end").json()["calibration_accuracy_px"] == 250.0
    assert client.post(f"/api/sessions/{b}/end").json()["calibration_accuracy_px"] is None

    def spread(sid: str) -> int:
        im = Image.open(io.BytesIO(client.get(f"/api/sessions/{sid}/heatmap.png?transparent=1").content))
        return int((np.asarray(im)[..., 3] > 0).sum())

    # 250 px mean error -> sigma 199 px, against 80 px by default: a much wider blob
    assert spread(a) > 3 * spread(b)


def test_calibration_accuracy_lookup_reads_the_profile_folder_without_creating_it(tmp_path: Path) -> None:
    import time

    from gazescope.domain import SessionInfo
    from gazescope.services.sessions import calibration_accuracy_px
    from gazescope.storage.profiles import ProfileStore
    from gazescope.storage.sqlite import SQLiteStore

    from .test_calibration_rest import fitted_profile

    store = SQLiteStore(tmp_path / "acc.db")
    cal = fitted_profile("folder-user")
    info = store.create_session(
        SessionInfo(id="s-acc", created_at_ms=time.time() * 1000, calibration_id=cal.profile_id)
    )
    missing = tmp_path / "no-profiles-here"
    assert calibration_accuracy_px(store, info, None, missing) is None
    assert not missing.exists()  # building a report must not create folders
    ProfileStore(tmp_path / "profiles").save(cal)
    assert calibration_accuracy_px(store, info, None, tmp_path / "profiles") == 120.0
