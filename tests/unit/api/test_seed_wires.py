"""The seeds' wire formats (``gazescope.api.seeds``), message by message, without a server."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazescope.api.seeds.seed000 import Seed000Wire, face_box, times_of
from gazescope.api.seeds.seed001 import GazeServiceWire
from gazescope.api.seeds.seed002 import EyeContactWire
from gazescope.api.seeds.seed003 import NO_DATA, UploadError, batch_times_ms, read_points
from gazescope.api.wire import ProtocolError
from gazescope.config import Settings
from gazescope.domain import FaceLandmarks, FrameFeatures, GazeSample

METRIC_KEYS = {"t", "earLeft", "earRight", "blink", "eyeContact", "eyeContactPct", "gazeVector", "conf"}


def test_gaze_service_wire_matches_python_gaze_data(sample_dict):
    w = GazeServiceWire()
    assert w.parse_text("  /9j/4AAQ").payload == "/9j/4AAQ"
    assert w.parse_text("data:image/jpeg;base64,/9j/").payload == "data:image/jpeg;base64,/9j/"
    for key in ("frame", "image", "data"):
        assert w.parse_text(json.dumps({key: "AAAA", "timestamp": 5})).client_t_ms == 5.0
    typed = w.parse_text(json.dumps({"type": "frame", "data": "data:image/jpeg;base64,/9j/"}))
    assert typed.type == "frame" and typed.payload.startswith("data:image/jpeg")
    assert w.parse_text('{"type": "ping"}').type == "ping"
    with pytest.raises(ProtocolError):
        w.parse_text('{"something": 1}')
    out = w.sample(sample_dict, w.parse_text("AAAA"), 1234.0)
    assert out == {
        "type": "gaze_data",
        "data": {
            "timestamp": 1.234,  # seconds, as the seed sent
            "pupil_left": [330.0, 200.0],
            "pupil_right": [290.0, 201.0],
            "horizontal_ratio": 0.7,
            "vertical_ratio": 0.5,
            "is_left": True,
            "is_right": False,
            "is_center": False,
            "is_blinking": False,
            "attention_score": 0.9,
            "frame_processed": True,
        },
    }
    blinking = w.sample({**sample_dict, "is_blinking": True}, w.parse_text("AAAA"), 0.0)["data"]
    assert blinking["is_blinking"] and not (blinking["is_left"] or blinking["is_center"])
    err = w.error("bad_frame", "corrupt")
    assert err["type"] == "gaze_data"
    assert err["data"]["frame_processed"] is False and err["data"]["error"] == "bad_frame"
    assert err["data"]["pupil_left"] is None and err["data"]["timestamp"] < 1e11  # seconds
    dropped = w.dropped(w.parse_text("AAAA"), 5000.0)
    assert dropped["type"] == "gaze_data" and dropped["data"]["frame_processed"] is False
    assert dropped["data"]["error"] == "frame_dropped" and dropped["data"]["timestamp"] == 5.0
    assert w.pong(w.parse_text('{"type": "ping"}')) == {"type": "pong"}


def test_eye_contact_wire_matches_seed_002(sample_dict):
    w = EyeContactWire()
    assert w.parse_text(json.dumps({"type": "init", "clientInfo": {"userAgent": "x"}})) is None
    m = w.parse_text(
        json.dumps({"type": "frame", "data": "data:image/jpeg;base64,/9j/4AAQ", "timestamp": 1640995200000})
    )
    assert m.type == "frame" and m.payload.startswith("data:image/jpeg") and m.client_t_ms == 1640995200000
    out = w.sample(sample_dict, m, 1640995200000.7)
    assert out == {
        "t": 1640995200000,
        "earLeft": 0.3,
        "earRight": 0.28,
        "blink": False,
        "eyeContact": True,
        "eyeContactPct": 1.0,  # 1 face frame so far, with eye contact
        "gazeVector": [0.1, -0.2],
        "conf": 0.8,
    }
    no_face = w.sample(GazeSample(t_ms=0.0, frame_index=0, face_detected=False).to_dict(), m, 0.0)
    assert no_face["gazeVector"] == [0.0, 0.0] and no_face["earLeft"] == 0.0 and no_face["conf"] == 0.0
    assert no_face["eyeContactPct"] == 1.0  # frames without a face do not count
    away = w.sample({**sample_dict, "eye_contact": False}, m, 0.0)
    assert away["eyeContactPct"] == 0.5
    err = w.error("bad_frame", "corrupt")
    assert set(err) >= METRIC_KEYS and err["error"] == "corrupt" and err["code"] == "bad_frame"
    assert err["eyeContactPct"] == 0.5 and err["conf"] == 0.8  # the last metrics, not zeros
    assert set(w.pong(m)) >= METRIC_KEYS
    fresh = EyeContactWire().error("bad_message", "nope")
    assert set(fresh) >= METRIC_KEYS and fresh["conf"] == 0.0
    assert w.idle_timeout_s(Settings()) == 1800.0


def test_seed000_wire_reads_untyped_frames_and_answers_face_and_gaze(sample_dict):
    w = Seed000Wire()
    m = w.parse_text(json.dumps({"image": "data:image/jpeg;base64,/9j/", "timestamp": 1700000000000}))
    assert (m.type, m.payload, m.client_t_ms) == ("frame", "data:image/jpeg;base64,/9j/", 1700000000000.0)
    assert w.parse_text(json.dumps({"type": "frame", "data": "AAAA"})).payload == "AAAA"
    for bad in ('{"timestamp": 5}', '{"image": 5}', "[]"):
        with pytest.raises(ProtocolError):
            w.parse_text(bad)
    pts = np.array([[100.0, 120.0], [300.0, 380.5], [200.0, 250.0]], dtype=np.float32)
    ff = FrameFeatures(True, 1, (640, 480), landmarks=FaceLandmarks(pts, None, (640, 480)))
    out = w.sample({**sample_dict, "attention_state": "focused", "blink_rate_per_min": 12.0}, m, 0.0, ff)
    assert out["type"] == "sample" and out["frame_index"] == 3
    assert out["face"] == {"x": 100, "y": 120, "w": 200, "h": 260}
    assert out["gaze"] == {
        "horizontal": 0.4,
        "vertical": 0.5,
        "eyes": {"left": {"x": 330.0, "y": 200.0}, "right": {"x": 290.0, "y": 201.0}},
    }
    assert out["timestamp"] == "1970-01-01T00:00:00.000+00:00"
    assert (out["gaze_direction"], out["activity"], out["blink_rate"]) == ("left", "focused", 12.0)
    none = w.sample(GazeSample(t_ms=0.0, frame_index=0, face_detected=False).to_dict(), m, 0.0, None)
    assert none["face"] is None and none["gaze"] is None and none["activity"] == "absent"
    err = w.error("bad_frame", "corrupt", m)
    assert err["face"] is None and err["gaze"] is None and err["code"] == "bad_frame"
    assert face_box(None) is None
    assert times_of({"attention_state_s": {"focused": 3.0, "looking_away": 1.5, "absent": 0.5}}) == (
        3.0,
        2.0,
        {"focused": 3.0, "looking_away": 1.5, "absent": 0.5},
    )
    assert times_of(None) == (0.0, 0.0, {})


def test_seed000_activity_is_reading_scanning_or_idle_while_focused(sample_dict):
    """Seed 000's ``activity`` (a string, as the client reads it): the attention state unless focused;
    focused frames carry the activity of the trailing window, here a constructed reading sequence in
    the horizontal gaze angle (2 degree steps every 250 ms toward the screen's right, i.e. decreasing
    gaze yaw, and a return sweep after 10 steps), then a looking-away frame."""
    w = Seed000Wire()
    m = w.parse_text(json.dumps({"image": "data:image/jpeg;base64,/9j/", "timestamp": 1}))
    base = {**sample_dict, "attention_state": "focused", "is_blinking": False}
    acts = []
    for i in range(int(12_000 / 33.3)):
        t = i * 33.3
        k = int(t // 250)
        yaw = 10.0 - 2.0 * (k % 11)  # to the subject's right = the screen's right
        acts.append(w.sample({**base, "t_ms": t, "gaze_yaw_deg": yaw}, m, 0.0)["activity"])
    assert acts[0] == "focused"  # no window yet
    assert acts[-1] == "reading" and acts.count("reading") > 0.5 * len(acts)
    away = w.sample({**base, "t_ms": 12_100.0, "attention_state": "looking_away"}, m, 0.0)
    assert away["activity"] == "looking_away"
    assert w.dropped(m, 0.0)["activity"] == "looking_away"
    # seconds per activity on /session/end come from the report's activity_s
    report = {
        "attention_state_s": {"focused": 9.0, "looking_away": 1.0},
        "activity_s": {"reading": 9.0, "looking_away": 1.0},
    }
    assert times_of(report) == (9.0, 1.0, {"reading": 9.0, "looking_away": 1.0})


def test_seed003_reads_points_like_the_seed():
    assert read_points(b'{"points": [{"x": 10, "y": 20, "weight": 1}, {"x": 5.5, "y": 1}]}', 10) == [
        (10.0, 20.0, 1.0),
        (5.5, 1.0, 1.0),
    ]
    for body in (b"", b"{}", b'{"points": []}', b'{"points": null}', b"[]"):
        with pytest.raises(UploadError) as exc:
            read_points(body, 10)
        assert exc.value.message == NO_DATA and exc.value.status == 400
    for body in (
        b"not json",
        b'{"points": [{"x": "a", "y": 1}]}',
        b'{"points": [1]}',
        b'{"points": "xy"}',
        b'{"points": [{"x": 1e300, "y": 1}]}',
        b'{"points": [{"x": 1, "y": 1, "weight": -1}]}',
    ):
        with pytest.raises(UploadError) as exc:
            read_points(body, 10)
        assert exc.value.status == 400 and exc.value.message != NO_DATA
    with pytest.raises(UploadError, match="at most 2 points"):
        read_points(b'{"points": [{"x": 1, "y": 1}, {"x": 1, "y": 1}, {"x": 1, "y": 1}]}', 2)


def test_seed003_batch_times_spread_over_the_last_second_and_increase():
    assert batch_times_ms(4, 3.0, None) == [250.0, 500.0, 750.0, 1000.0]  # first batch: the first second
    assert batch_times_ms(2, 2100.0, 1000.0) == [1600.0, 2100.0]  # the second before it arrived
    assert batch_times_ms(2, 1500.0, 1000.0) == [1250.0, 1500.0]  # never before the previous batch
    assert batch_times_ms(1, 900.0, 1000.0) == [1001.0]  # a clock step back still increases
