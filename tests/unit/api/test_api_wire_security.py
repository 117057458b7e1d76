"""Wire formats, Origin/token checks, structured logs and query-time parsing of the API (no server)."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import HTTPException

from gazescope.api.logs import KeyValueFormatter, RedactTokenFilter
from gazescope.api.routes.sessions import parse_time_ms
from gazescope.api.security import bearer_token, origin_allowed, token_ok
from gazescope.api.wire import EyeContactWire, GazeServiceWire, NativeWire, ProtocolError
from gazescope.config import Settings
from gazescope.domain import GazeSample

SAMPLE = GazeSample(
    t_ms=100.0,
    frame_index=3,
    face_detected=True,
    confidence=0.8,
    pupil_left_px=(330.0, 200.0),
    pupil_right_px=(290.0, 201.0),
    horizontal_ratio=0.7,
    vertical_ratio=0.5,
    direction="left",
    ear_left=0.3,
    ear_right=0.28,
    gaze_vector=(0.1, -0.2),
    eye_contact=True,
    eye_contact_pct=42.0,
    attention_score=0.9,
).to_dict()


def test_native_wire_reads_frames_and_typed_messages():
    w = NativeWire()
    assert w.parse_bytes(b"\xff\xd8jpeg").payload == b"\xff\xd8jpeg"
    m = w.parse_text(json.dumps({"type": "frame", "data": "AAAA", "t_ms": 12.5}))
    assert (m.type, m.payload, m.client_t_ms) == ("frame", "AAAA", 12.5)
    assert w.parse_text('{"type": "frame", "data": "AAAA", "t_ms": "soon"}').client_t_ms is None
    other = w.parse_text('{"type": "calibration_start", "layout": "9"}')
    assert other.type == "calibration_start" and other.body["layout"] == "9"
    for bad in (
        "nope",
        "[]",
        '{"data": "x"}',
        '{"type": ""}',
        '{"type": "frame"}',
        '{"type": "frame", "data": 5}',
    ):
        with pytest.raises(ProtocolError) as exc:
            w.parse_text(bad)
        assert exc.value.code == "bad_message"
    out = w.sample(SAMPLE, m, 0.0)
    assert out["type"] == "sample" and out["client_t_ms"] == 12.5 and out["frame_index"] == 3
    assert w.error("bad_frame", "corrupt", m) == {
        "type": "error",
        "code": "bad_frame",
        "message": "corrupt",
        "client_t_ms": 12.5,
    }


def test_gaze_service_wire_matches_python_gaze_data():
    w = GazeServiceWire()
    assert w.parse_text("  /9j/4AAQ").payload == "/9j/4AAQ"
    assert w.parse_text("data:image/jpeg;base64,/9j/").payload == "data:image/jpeg;base64,/9j/"
    for key in ("frame", "image", "data"):
        assert w.parse_text(json.dumps({key: "AAAA", "timestamp": 5})).client_t_ms == 5.0
    assert w.parse_text('{"type": "ping"}').type == "ping"
    with pytest.raises(ProtocolError):
        w.parse_text('{"something": 1}')
    out = w.sample(SAMPLE, w.parse_text("AAAA"), 1234.0)
    assert out == {
        "timestamp": 1234.0,
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
    }
    blinking = w.sample({**SAMPLE, "is_blinking": True}, w.parse_text("AAAA"), 0.0)
    assert blinking["is_blinking"] and not (blinking["is_left"] or blinking["is_center"])
    err = w.error("bad_frame", "corrupt")
    assert err["frame_processed"] is False and err["error"] == "bad_frame" and err["pupil_left"] is None


def test_eye_contact_wire_matches_seed_002():
    w = EyeContactWire()
    m = w.parse_text('{"type": "frame", "data": "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQ"}')
    assert m.type == "frame" and m.payload.startswith("data:image/jpeg")
    out = w.sample(SAMPLE, m, 1640995200000.7)
    assert out == {
        "t": 1640995200000,
        "earLeft": 0.3,
        "earRight": 0.28,
        "blink": False,
        "eyeContact": True,
        "eyeContactPct": 0.42,
        "gazeVector": [0.1, -0.2],
        "conf": 0.8,
    }
    no_face = w.sample(GazeSample(t_ms=0.0, frame_index=0, face_detected=False).to_dict(), m, 0.0)
    assert no_face["gazeVector"] == [0.0, 0.0] and no_face["earLeft"] == 0.0 and no_face["conf"] == 0.0


def test_origin_allowlist():
    s = Settings(allowed_origins=["https://app.example.com"])
    host = "gaze.example.org:8443"
    assert origin_allowed(None, host, s)  # non-browser client
    assert origin_allowed("https://app.example.com", host, s)
    assert origin_allowed("https://app.example.com/", host, s)
    assert origin_allowed("http://localhost:3000", host, s)
    assert origin_allowed("https://127.0.0.1", host, s)
    assert origin_allowed("http://[::1]:8000", host, s)
    assert origin_allowed("https://gaze.example.org:8443", host, s)  # same origin
    for bad in (
        "https://evil.example",
        "http://localhost.evil.example",
        "null",
        "file://",
        "https://gaze.example.org",
    ):
        assert not origin_allowed(bad, host, s), bad
    assert origin_allowed("https://anything.example", host, Settings(allowed_origins=["*"]))


def test_token_checks_and_bearer_parsing():
    s = Settings(api_token="abc123")
    assert (
        token_ok("abc123", s) and not token_ok("abc124", s) and not token_ok(None, s) and not token_ok("", s)
    )
    assert token_ok(None, Settings())
    assert bearer_token("Bearer abc123") == "abc123" and bearer_token("bearer  x ") == "x"
    assert bearer_token("Basic abc") is None and bearer_token("Bearer") is None and bearer_token(None) is None


def test_key_value_logs_and_token_redaction():
    rec = logging.LogRecord("gazescope.api", logging.INFO, "", 0, "tracking_open", None, None)
    rec.session_id = "s1"
    rec.note = "two words"
    line = KeyValueFormatter().format(rec)
    assert "event=tracking_open" in line and "session_id=s1" in line and 'note="two words"' in line
    rec = logging.LogRecord(
        "uvicorn.error", logging.INFO, "", 0, '%s - "WebSocket %s"', ("ip", "/ws?token=abc&x=1"), None
    )
    RedactTokenFilter().filter(rec)
    assert rec.getMessage() == 'ip - "WebSocket /ws?token=***&x=1"'


def test_parse_time_ms():
    assert parse_time_ms(None, "since") is None
    assert parse_time_ms("1700000000000", "since") == 1.7e12
    assert parse_time_ms("2024-01-01T00:00:00Z", "since") == 1704067200000.0
    assert parse_time_ms("2024-01-01T01:00:00+01:00", "since") == 1704067200000.0
    assert parse_time_ms("2024-01-01", "until") == 1704067200000.0  # naive = UTC
    with pytest.raises(HTTPException) as exc:
        parse_time_ms("yesterday", "since")
    assert exc.value.status_code == 422 and "since" in exc.value.detail
