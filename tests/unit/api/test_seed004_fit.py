"""Seed 004's "mini training" goes through the app's fit path (``AppState.fit_calibration``): its
wall-clock limit and its cancel flag stop it, and no fit outlives the connection that asked for it.

The seed's Android app is replayed in process on ``/ws/test_dispatcher/`` with real webcam_dots images
(9 dots of subject ``hy``, 0.6 s each at 30 FPS, binary ``C`` messages), then ``RequestVideoURL:1`` (the
fit starts), then ``P`` frames while the fit runs (held, not dropped), then the client leaves. The cnn
mapper gets a training budget far beyond the test, so only the time limit or the cancel flag can end it.
Whether a fit still runs is read from the threads' stacks (a frame of ``CalibrationSession.finish``).
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.unit.api.conftest import MakeClient

from gazescope.storage.profiles import ProfileRepository
from support.frames import webcam_dots_rows

pytest.importorskip("torch")

SUBJECT = "hy"
FPS = 30
PER_DOT = 18  # 0.6 s a dot: 300 ms settle, then ~9 usable frames
P_FRAMES = 20
GRID = ({50.0, 529.0, 1486.0}, {50.0, 559.0, 814.0})  # 9 of the 16 dots: a 3x3 grid
LABEL = "seed004 /ws/test_dispatcher/"
SETTINGS: dict[str, Any] = {
    "seed004_screen_w_px": 1536,
    "seed004_screen_h_px": 920,
    "seed004_mapper": "cnn",
    "seed004_cnn_time_budget_s": 300.0,  # far beyond the test: only the time limit or cancel ends it
}


def dots(data_dir: Path, session: str) -> list[dict[str, Any]]:
    folder, rows = webcam_dots_rows(data_dir, SUBJECT, session)
    return [
        {"b64": base64.b64encode((folder / r["image"]).read_bytes()).decode(), "x": float(r["x"]), "y": float(r["y"])}
        for r in rows
    ]  # fmt: skip


def fitting_threads() -> list[int]:
    """Ids of the threads running ``CalibrationSession.finish`` now."""
    out = []
    for tid, frame in sys._current_frames().items():
        f: Any = frame
        while f is not None:
            if f.f_code.co_name == "finish" and f.f_code.co_filename.endswith("calibration/session.py"):
                out.append(tid)
                break
            f = f.f_back
    return out


def wait_until(what: str, check: Any, timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def session_of(client: TestClient) -> dict[str, Any] | None:
    found = [s for s in client.get("/api/sessions").json() if s.get("label") == LABEL]
    return found[0] if found else None


def replay_until_fitting(client: TestClient, data_dir: Path, until: Any = fitting_threads) -> int:
    """Calibrate, start the fit, send ``P_FRAMES`` prediction frames, wait for ``until()`` (default: a
    fit is running) and leave; returns the number of frames sent."""
    calib = [d for d in dots(data_dir, "1") if d["x"] in GRID[0] and d["y"] in GRID[1]]
    assert len(calib) == 9
    predict = dots(data_dir, "4")
    c_msgs = [
        ("C" + json.dumps({"userId": SUBJECT, "images": d["b64"], "coordinates": [d["x"], d["y"]]})).encode()
        for d in calib
        for _ in range(PER_DOT)
    ]
    with client.websocket_connect("/ws/test_dispatcher/") as ws:
        t0 = time.monotonic()
        for k, m in enumerate(c_msgs):
            ws.send_bytes(m)
            time.sleep(max(0.0, t0 + (k + 1) / FPS - time.monotonic()))

        def all_processed() -> bool:  # so that no calibration frame is still waiting when the client leaves
            s = session_of(client)
            return s is not None and s["sample_count"] + s["dropped_frames"] == len(c_msgs)

        wait_until("the calibration frames to be processed", all_processed)
        ws.send_text("RequestVideoURL:1")
        assert ws.receive_text() == "VideoURLs:"
        for k in range(P_FRAMES):
            ws.send_bytes(
                ("P" + json.dumps({"userId": SUBJECT, "images": predict[k % len(predict)]["b64"]})).encode()
            )
        wait_until(getattr(until, "__doc__", None) or "the fit to start", until)
    return len(c_msgs) + P_FRAMES


def closed(client: TestClient) -> dict[str, Any]:
    """The session once its connection is done: samples flushed, close callbacks run."""
    state = client.app.state.gs  # type: ignore[attr-defined]
    wait_until("the connection to close", lambda: not state.connections)
    sess = session_of(client)
    assert sess is not None
    return sess


def test_a_fit_past_the_time_limit_is_stopped_and_the_held_frames_are_stored(
    make_client: MakeClient, data_dir: Path
) -> None:
    with make_client(**SETTINGS, calibration_fit_timeout_s=2.0, seed004_close_wait_s=60.0) as client:
        sent = replay_until_fitting(client, data_dir)
        sess = closed(client)
        state = client.app.state.gs  # type: ignore[attr-defined]
        assert fitting_threads() == [] and state.fits_running == 0
        assert sess["sample_count"] + sess["dropped_frames"] == sent
        samples = client.get(f"/api/sessions/{sess['id']}/samples").json()["samples"]
        pred = [s for s in samples if s.get("calibration_target_px") is None]
        assert len(pred) == P_FRAMES  # held during the fit, stored once the time limit stopped it
        assert client.get("/api/profiles", params={"user_id": SUBJECT}).json() == []  # no model was kept


def test_a_client_that_leaves_mid_fit_leaves_no_fit_running(make_client: MakeClient, data_dir: Path) -> None:
    with make_client(**SETTINGS, calibration_fit_timeout_s=600.0, seed004_close_wait_s=0.0) as client:
        replay_until_fitting(client, data_dir)
        closed(client)
        state = client.app.state.gs  # type: ignore[attr-defined]
        assert fitting_threads() == []  # the fit nobody will use was stopped, not left running
        assert state.fits_running == 0
        assert client.get("/api/profiles", params={"user_id": SUBJECT}).json() == []


def test_a_ridge_fit_is_pooled_with_the_users_earlier_sitting(
    make_client: MakeClient, data_dir: Path
) -> None:
    settings = {**SETTINGS, "seed004_mapper": "ridge"}
    with make_client(**settings) as client:
        state = client.app.state.gs  # type: ignore[attr-defined]
        repo = ProfileRepository(state.store)
        for n in (1, 2):

            def saved(n: int = n) -> bool:
                """the fit's profile to be saved"""
                return len(repo.list(SUBJECT)) == n

            replay_until_fitting(client, data_dir, saved)
            closed(client)
        first, second = sorted(repo.list(SUBJECT), key=lambda d: d.created_at_ms)
        assert len(first.calibration().sittings) == 1
        assert len(second.calibration().sittings) == 2  # pooled with the first sitting, as native fits are
