"""Wire formats, Origin/token checks, structured logs and query-time parsing of the API (no server)."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi import HTTPException

from gazescope.api.logs import KeyValueFormatter, RedactTokenFilter
from gazescope.api.routes.sessions import parse_time_ms
from gazescope.api.security import bearer_token, origin_allowed, token_ok
from gazescope.api.wire import NativeWire, ProtocolError
from gazescope.config import Settings


def test_native_wire_reads_frames_and_typed_messages(sample_dict):
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
    out = w.sample(sample_dict, m, 0.0)
    assert out["type"] == "sample" and out["client_t_ms"] == 12.5 and out["frame_index"] == 3
    assert w.error("bad_frame", "corrupt", m) == {
        "type": "error",
        "code": "bad_frame",
        "message": "corrupt",
        "client_t_ms": 12.5,
    }


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
