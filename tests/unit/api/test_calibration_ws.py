"""Calibration messages on the tracking WebSocket of the real app (Starlette TestClient, real SQLite file):
start/cancel, errors (unknown mapper listing the available ones, not_enough_data naming how many points
are needed, bad targets, nothing to finish), pursuit targets, applying saved profiles by message and when a
session starts (``calibration_id`` or ``user_id``), and the session-linked record of what was applied."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gazescope.api.app import create_app
from gazescope.config import Settings
from support.api import new_session

from .test_calibration_rest import fitted_profile


def recv_type(ws, *types: str) -> dict[str, Any]:
    """The next message of one of ``types`` (others, e.g. progress, are skipped)."""
    for _ in range(50):
        msg = ws.receive_json()
        if msg["type"] in types:
            return msg
    raise AssertionError(f"no {types} message")


def test_start_cancel_and_errors(client: TestClient) -> None:
    sid = new_session(client, screen_w_px=1280, screen_h_px=800)
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        hello = ws.receive_json()
        assert "calibration_start" in hello["message_types"]

        ws.send_json({"type": "calibration_start", "mapper": "nope"})
        err = recv_type(ws, "error")
        assert err["code"] == "unknown_mapper"
        assert "ridge" in err["message"]

        ws.send_json({"type": "calibration_start", "layout": "7"})
        err = recv_type(ws, "error")
        assert err["code"] == "invalid_request" and "pursuit" in err["message"]

        ws.send_json({"type": "calibration_finish"})
        assert recv_type(ws, "error")["code"] == "no_calibration"

        # screen size defaults to the session's
        ws.send_json({"type": "calibration_start", "layout": "9"})
        started = recv_type(ws, "calibration_started")
        assert (started["screen_w_px"], started["screen_h_px"]) == (1280, 800)
        assert len(started["targets"]) == 13
        assert sum(t["validation"] for t in started["targets"]) == 4
        t0 = started["targets"][0]
        assert t0["x_px"] == pytest.approx(t0["x_norm"] * 1280, abs=0.01)
        assert started["samples_per_target"] >= 1 and started["settle_ms"] >= 0

        ws.send_json({"type": "calibration_target", "index": 13})
        err = recv_type(ws, "error")
        assert err["code"] == "invalid_request" and "0..12" in err["message"]
        ws.send_json({"type": "calibration_target", "x_px": 5000, "y_px": 10})
        assert "off the" in recv_type(ws, "error")["message"]
        ws.send_json({"type": "calibration_target"})
        assert recv_type(ws, "error")["code"] == "invalid_request"
        ws.send_json({"type": "calibration_target", "index": 0})

        # no frames: too few points; the message says how many are needed; the calibration stays open
        ws.send_json({"type": "calibration_finish"})
        err = recv_type(ws, "error")
        assert err["code"] == "not_enough_data"
        assert "at least 4" in err["message"]
        ws.send_json({"type": "calibration_finish"})
        assert recv_type(ws, "error")["code"] == "not_enough_data"

        ws.send_json({"type": "calibration_cancel"})
        cancelled = recv_type(ws, "calibration_cancelled")
        assert cancelled["calibration_id"] == started["calibration_id"]
        ws.send_json({"type": "calibration_finish"})
        assert recv_type(ws, "error")["code"] == "no_calibration"

        ws.send_json({"type": "drift_start", "x_px": 10, "y_px": 10})
        assert recv_type(ws, "error")["code"] == "not_calibrated"
        ws.send_json({"type": "drift_finish"})
        assert recv_type(ws, "error")["code"] == "no_drift_check"
        ws.send_json({"type": "calibration_use", "profile_id": "missing"})
        assert recv_type(ws, "error")["code"] == "profile_not_found"
        ws.send_json({"type": "calibration_use", "user_id": "nobody"})
        assert recv_type(ws, "error")["code"] == "profile_not_found"
        ws.send_json({"type": "calibration_use"})
        assert recv_type(ws, "error")["code"] == "invalid_request"


def test_start_needs_a_screen_size(client: TestClient) -> None:
    sid = new_session(client)
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        ws.receive_json()
        ws.send_json({"type": "calibration_start"})
        err = recv_type(ws, "error")
        assert "screen_w_px" in err["message"]
        ws.send_json({"type": "calibration_start", "layout": 16, "screen_w_px": 1536, "screen_h_px": 920})
        started = recv_type(ws, "calibration_started")
        assert started["layout"] == "16" and len(started["targets"]) == 20


def test_pursuit_targets(client: TestClient) -> None:
    sid = new_session(client)
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        ws.receive_json()
        ws.send_json(
            {
                "type": "calibration_start",
                "layout": "pursuit",
                "screen_w_px": 1000,
                "screen_h_px": 500,
                "duration_ms": 2000,
                "rate_hz": 10,
            }
        )
        started = recv_type(ws, "calibration_started")
        targets = started["targets"]
        assert len(targets) == 21
        assert [t["index"] for t in targets] == list(range(21))
        assert [t["validation"] for t in targets].count(True) == 4  # every 5th point
        assert started["samples_per_target"] == 1
        assert all(100 - 1e-6 <= t["x_px"] <= 900 + 1e-6 for t in targets)
        assert targets[-1]["t_ms"] == pytest.approx(2000)
        ws.send_json({"type": "calibration_target", "index": 20})
        ws.send_json({"type": "calibration_target", "index": 21})
        assert "0..20" in recv_type(ws, "error")["message"]


def test_profiles_applied_by_message_and_on_session_start(client: TestClient) -> None:
    cal = fitted_profile("ann", 1280, 800)
    assert client.post("/api/profiles", json=cal.to_dict()).status_code == 201
    pid = cal.profile_id

    # calibration_use with a profile id, then with the user id
    sid = new_session(client, screen_w_px=1280, screen_h_px=800)
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        ws.receive_json()
        ws.send_json({"type": "calibration_use", "profile_id": pid})
        applied = recv_type(ws, "calibration_applied")
        assert (applied["profile_id"], applied["grade"], applied["source"]) == (
            pid,
            "good",
            "calibration_use",
        )
        assert applied["accuracy"]["mean_error_px"] == 120.0
        assert "warning" not in applied
        ws.send_json({"type": "calibration_use", "user_id": "ann"})
        assert recv_type(ws, "calibration_applied")["profile_id"] == pid
        # a drift check can start now
        ws.send_json({"type": "drift_start", "x_px": 640, "y_px": 400})
        assert recv_type(ws, "drift_started")["x_px"] == 640
        ws.send_json({"type": "drift_finish"})  # no frames: not enough data, the check stays open
        assert recv_type(ws, "error")["code"] == "not_enough_data"
    assert client.get(f"/api/sessions/{sid}").json()["calibration_id"] == pid

    # a session created with calibration_id gets the profile when tracking starts
    sid2 = new_session(client, calibration_id=pid, screen_w_px=1920, screen_h_px=1080)
    with client.websocket_connect(f"/ws/sessions/{sid2}/track") as ws:
        assert ws.receive_json()["type"] == "session"
        applied = ws.receive_json()
        assert applied["type"] == "calibration_applied"
        assert (applied["profile_id"], applied["source"]) == (pid, "session_calibration_id")
        assert "1280x800" in applied["warning"]  # another screen size than the session's

    # a session of a user with a profile gets the newest one; the session records which
    newer = fitted_profile("ann", 1280, 800, seed=3)
    assert client.post("/api/profiles", json=newer.to_dict()).status_code == 201
    sid3 = new_session(client, user_id="ann")
    with client.websocket_connect(f"/ws/sessions/{sid3}/track") as ws:
        ws.receive_json()
        applied = ws.receive_json()
        assert (applied["type"], applied["profile_id"], applied["source"]) == (
            "calibration_applied",
            newer.profile_id,
            "session_user_id",
        )
    assert client.get(f"/api/sessions/{sid3}").json()["calibration_id"] == newer.profile_id

    # a user without a profile: nothing applied, tracking goes on
    sid4 = new_session(client, user_id="bob")
    with client.websocket_connect(f"/ws/sessions/{sid4}/track") as ws:
        ws.receive_json()
        ws.send_json({"type": "ping", "t_ms": 1})
        assert ws.receive_json()["type"] == "pong"

    # an unknown calibration_id is reported; tracking goes on
    sid5 = new_session(client, calibration_id="gone")
    with client.websocket_connect(f"/ws/sessions/{sid5}/track") as ws:
        ws.receive_json()
        err = ws.receive_json()
        assert (err["type"], err["code"]) == ("error", "profile_not_found")
        ws.send_json({"type": "ping", "t_ms": 1})
        assert ws.receive_json()["type"] == "pong"


def test_applied_profiles_are_recorded_with_the_session_and_deleted_with_it(
    client: TestClient,
) -> None:
    from gazescope.services.sessions import calibration_accuracy_px
    from gazescope.storage.profiles import RESULTS

    cal = fitted_profile("cy")
    assert client.post("/api/profiles", json=cal.to_dict()).status_code == 201
    sid = new_session(client, user_id="cy")
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        ws.receive_json()
        assert ws.receive_json()["type"] == "calibration_applied"
    store = client.app.state.gs.store
    docs = store.list_documents(RESULTS, session_id=sid)
    assert [d["kind"] for d in docs] == ["applied"]
    assert calibration_accuracy_px(store, store.get_session(sid), None) == 120.0
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    assert store.list_documents(RESULTS, session_id=sid) == []
    # the profile itself is the person's and stays
    assert client.get(f"/api/profiles/{cal.profile_id}").status_code == 200


def test_target_announcements_without_frames_are_bounded(make_client) -> None:
    with make_client(calibration_max_pending_targets=5) as client:
        sid = new_session(client, screen_w_px=1280, screen_h_px=800)
        with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
            ws.receive_json()
            ws.send_json({"type": "calibration_start", "layout": "9"})
            recv_type(ws, "calibration_started")
            for i in range(6):
                ws.send_json({"type": "calibration_target", "index": i})
            err = recv_type(ws, "error")
            assert err["code"] == "invalid_request" and "too many targets" in err["message"]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_a_fit_running_when_the_session_is_deleted_leaves_nothing_behind(
    backend: str, tmp_path: Path, desk_video: Path, request: pytest.FixtureRequest
) -> None:
    """A fit still running when its session is deleted is cancelled: no result document with the
    session's id (nor a profile) appears afterwards, even when the fit's thread finishes later."""
    import threading

    import cv2
    import numpy as np

    from gazescope.calibration import mappers
    from gazescope.storage.profiles import PROFILES, RESULTS

    release = threading.Event()
    fitting = threading.Event()
    returned = threading.Event()

    class HeldMapper(mappers.Mapper):
        """A test-only mapper whose fit blocks until released (a slow fit, e.g. the cnn)."""

        min_points = 1

        def fit(self, X, Y_px):
            fitting.set()
            release.wait(10.0)
            returned.set()
            return self

        def predict(self, X):
            return np.zeros((len(X), 2))

        def to_dict(self):
            return {"name": self.name}

    mappers.register_mapper("held-test")(HeldMapper)
    try:
        cap = cv2.VideoCapture(str(desk_video))
        ok, frame = cap.read()
        cap.release()
        assert ok
        jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()
        if backend == "redis":
            settings = Settings(
                redis_url=request.getfixturevalue("redis_server"), profiles_dir=tmp_path / "p"
            )
        else:
            settings = Settings(db_path=tmp_path / "held.db", profiles_dir=tmp_path / "p")
        client = TestClient(create_app(settings))
        client.__enter__()
        request.addfinalizer(lambda: client.__exit__(None, None, None))
        sid = new_session(client, screen_w_px=1280, screen_h_px=800, user_id="held")
        store = client.app.state.gs.store
        with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
            ws.receive_json()
            ws.send_json(
                {"type": "calibration_start", "mapper": "held-test", "settle_ms": 0, "samples_per_target": 1}
            )
            recv_type(ws, "calibration_started")
            ws.send_json({"type": "calibration_target", "index": 0})
            progress = None
            for _ in range(5):
                ws.send_bytes(jpeg)
                msg = recv_type(ws, "calibration_progress")
                if msg["samples"] >= 1:
                    progress = msg
                    break
            assert progress is not None, "no usable calibration sample from the desk video"
            ws.send_json({"type": "calibration_finish"})
            assert fitting.wait(10.0)
            assert client.delete(f"/api/sessions/{sid}").status_code == 204
        release.set()
        assert returned.wait(10.0)
        time.sleep(0.5)  # what a fit that was not cancelled would store next, it has stored by now
        assert store.list_documents(RESULTS, session_id=sid) == []
        assert store.list_documents(PROFILES, user_id="held") == []
    finally:
        release.set()
        mappers._REGISTRY.pop("held-test", None)


async def test_a_connections_controller_does_not_keep_it_alive() -> None:
    """The controller made for a connection is dropped with it (no per-connection state outlives it)."""
    import gc
    import weakref
    from types import SimpleNamespace

    from gazescope.api.ws.calibration import controller_of
    from gazescope.engine.extensions import Extensions

    class Conn:
        session_id = "s"
        settings = Settings()
        state = SimpleNamespace(store=None)

        def __init__(self) -> None:
            self.extensions = Extensions()

        def add_frame_observer(self, observer, *, needs_image=False) -> None:
            self.observer, self.needs_image = observer, needs_image

        def add_close_callback(self, callback) -> None:
            self.on_close = callback

    conn = Conn()
    ref = weakref.ref(conn)
    assert controller_of(conn) is controller_of(conn)  # one per connection
    del conn
    gc.collect()
    assert ref() is None
