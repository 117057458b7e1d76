"""Issue 9, bounds on what one client can make the server spend, in process (the real app on a real SQLite
file through Starlette's TestClient). One regression test per defect; each failed before its fix:

* 2: oversize bodies are 413 before they are read (Content-Length or counted while chunked), item counts
  are checked before validation, large JSON is parsed off the event loop;
* 3: WebSocket caps in total and per client address (HTTP 503 with the reason at the handshake); pings do
  not keep an idle tracking connection open;
* 8: huge integers, NaN and null from a client are a 4xx / an ``error`` message, never a 500, a dropped
  connection or invalid JSON;
* 9: cross-site state-changing requests are 403 with a reason (seed 003's ``POST /upload`` is exempt);
* 10: the token filter keeps uvicorn's access log working; stimulus images carry ``nosniff``;
* 1 (the parts that need no face): client ``mapper_params`` are clamped or refused, a fit past the cap is
  refused with ``server_busy``, and a cnn fit stops at its cancel flag.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from gazescope.api.app import create_app
from gazescope.api.limits import GuardedRoute, check_client_json
from gazescope.config import Settings
from support.api import new_session

from .test_calibration_ws import recv_type

# --- defect 8: numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/sessions", "/sessions"])
def test_huge_offset_is_422_not_500(client: TestClient, path: str) -> None:
    r = client.get(path, params={"offset": "9223372036854775808"})
    assert r.status_code == 422, r.text
    assert "offset" in r.text
    assert client.get(path, params={"offset": 5}).status_code == 200


def test_huge_sample_start_and_limit_are_422(client: TestClient) -> None:
    sid = new_session(client)
    for params in ({"start": 2**63}, {"limit": 2**63}, {"start": 10**30}):
        r = client.get(f"/api/sessions/{sid}/samples", params=params)
        assert r.status_code == 422, (params, r.text)


def test_huge_ints_and_nan_in_json_bodies_are_422_naming_the_field(client: TestClient) -> None:
    sid = new_session(client, screen_w_px=1000, screen_h_px=800)
    body = '{"points": [{"t_ms": 1, "x_px": 1, "y_px": 2}, {"t_ms": 1%s, "x_px": 1, "y_px": 2}]}' % (
        "0" * 400
    )
    r = client.post(f"/api/sessions/{sid}/gaze", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "points", 1, "t_ms"]
    r = client.post(
        "/api/sessions",
        content='{"label": "x", "screen_w_px": Infinity}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "screen_w_px"]


def test_huge_t_ms_nan_ping_and_bad_numbers_keep_the_connection(client: TestClient) -> None:
    """Before: 10**400 raised OverflowError and dropped the connection without a close frame; a ping with
    NaN got ``{"t_ms": NaN}`` (not JSON)."""
    sid = new_session(client)
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        ws.receive_json()
        for text in (
            '{"type": "frame", "data": "AAAA", "t_ms": 1%s}' % ("0" * 400),
            '{"type": "ping", "t_ms": NaN}',
            '{"type": "ping", "t_ms": -Infinity}',
            '{"type": "ping", "t_ms": 1e400}',
            '{"type": "calibration_start", "screen_w_px": 1%s}' % ("0" * 400),
        ):
            ws.send_text(text)
            raw = ws.receive_text()
            msg = json.loads(raw)  # valid JSON (json.loads accepts NaN: check the text too)
            assert "NaN" not in raw and "Infinity" not in raw
            assert msg["type"] == "error" and msg["code"] == "bad_message", msg
            assert "finite number" in msg["message"]
        ws.send_text('{"type": "ping", "t_ms": 7}')
        assert ws.receive_json() == {"type": "pong", "t_ms": 7}


@pytest.mark.parametrize(
    "message",
    [
        {"type": "calibration_start", "layout": None, "screen_w_px": None, "screen_h_px": 800},
        {
            "type": "calibration_start",
            "layout": None,
            "mapper": None,
            "screen_w_px": 1000,
            "screen_h_px": 800,
        },
        {
            "type": "calibration_start",
            "screen_w_px": 1000,
            "screen_h_px": 800,
            "settle_ms": None,
            "save": None,
        },
        {"type": "calibration_target", "index": None, "x_px": None},
        {"type": "drift_start", "x_px": None, "y_px": 3},
        {"type": "calibration_use", "profile_id": None, "user_id": None},
        {"type": "calibration_start", "screen_w_px": 2**70, "screen_h_px": 800},
        {"type": "calibration_start", "screen_w_px": 1000.5, "screen_h_px": 800},
    ],
)
def test_null_and_huge_numbers_in_calibration_messages_are_errors_not_internal(
    client: TestClient, message: dict[str, Any]
) -> None:
    """Before: ``null`` failed an assert and huge integers an OverflowError: ``internal_error`` with a
    traceback in the log."""
    sid = new_session(client)
    with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
        ws.receive_json()
        ws.send_json(message)
        msg = recv_type(ws, "error", "calibration_started")
        assert msg.get("code") != "internal_error", msg
        ws.send_text('{"type": "ping", "t_ms": 1}')
        assert recv_type(ws, "pong")["t_ms"] == 1


def test_check_client_json_counts_and_names_paths() -> None:
    assert check_client_json({"a": [1, 2.5, "x", None, True]}) == 7
    with pytest.raises(ValueError, match=r"a\[1\]"):
        check_client_json({"a": [1, float("nan")]})
    with pytest.raises(ValueError, match="more than 10"):
        check_client_json(list(range(100)), max_items=10)
    deep: Any = 1
    for _ in range(10_000):  # no recursion limit
        deep = [deep]
    assert check_client_json(deep) == 10_001


# --- defect 2: bodies ----------------------------------------------------------------------------------


def test_oversize_body_is_413_before_it_is_read(make_client: Callable[..., TestClient]) -> None:
    with make_client(max_body_bytes=64 * 1024) as client:
        sid = new_session(client, screen_w_px=1000, screen_h_px=800)
        points = [{"t_ms": i, "x_px": 1.0, "y_px": 2.0} for i in range(3000)]  # ~110 KB
        r = client.post(f"/api/sessions/{sid}/gaze", json={"points": points})
        assert r.status_code == 413, r.text
        assert "GAZESCOPE_MAX_BODY_BYTES" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it streams
            yield b'{"points": ['
            for i in range(3000):
                yield (b"," if i else b"") + json.dumps({"t_ms": i, "x_px": 1, "y_px": 2}).encode()
            yield b"]}"

        r = client.post(
            f"/api/sessions/{sid}/gaze", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413, r.text
        r = client.post(f"/api/sessions/{sid}/gaze", json={"points": points[:100]})
        assert r.status_code == 200, r.text
        assert client.get(f"/api/sessions/{sid}").json()["sample_count"] == 100


def test_item_count_is_checked_before_validation(make_client: Callable[..., TestClient]) -> None:
    with make_client(max_json_items=1000) as client:
        sid = new_session(client, screen_w_px=1000, screen_h_px=800)
        r = client.post(f"/api/sessions/{sid}/gaze", json={"points": [{"t_ms": "bad"}] * 600})
        assert r.status_code == 413 and "GAZESCOPE_MAX_JSON_ITEMS" in r.text, r.text
        # over MAX_GAZE_POINTS (10,000) but within the item budget: refused by length, not item by item
    with make_client() as client:
        sid = new_session(client, screen_w_px=1000, screen_h_px=800)
        r = client.post(f"/api/sessions/{sid}/gaze", json={"points": [{"t_ms": "bad"}] * 20_000})
        assert r.status_code == 422 and len(r.json()["detail"]) == 1, r.text[:300]  # not 20,000 item errors
        assert r.json()["detail"][0]["type"] == "too_long"


def test_large_json_is_parsed_off_the_event_loop(client: TestClient, monkeypatch) -> None:
    from gazescope.api import limits

    threads: list[str] = []
    real = limits.parse_client_json

    def spy(body: bytes, max_items: int) -> Any:
        threads.append(threading.current_thread().name)
        return real(body, max_items)

    monkeypatch.setattr(limits, "parse_client_json", spy)
    sid = new_session(client, screen_w_px=1000, screen_h_px=800)
    points = [{"t_ms": i, "x_px": 1.0, "y_px": 2.0} for i in range(5000)]  # ~190 KB
    assert client.post(f"/api/sessions/{sid}/gaze", json={"points": points}).status_code == 200
    loop_thread = threads[0]  # the small POST /api/sessions body, parsed on the loop
    assert threads[-1] != loop_thread


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):  # FastAPI >= 0.16x includes routers lazily
            yield from _api_routes(r.original_router.routes)


def test_every_rest_route_uses_the_guarded_route_class(tmp_path: Path) -> None:
    app = create_app(Settings(db_path=tmp_path / "g.db"))
    routes = list(_api_routes(app.routes))
    assert routes and all(isinstance(r, GuardedRoute) for r in routes), [
        r.path for r in routes if not isinstance(r, GuardedRoute)
    ]


# --- defect 3: connections ----------------------------------------------------------------------------


def test_connection_caps_refuse_with_503_and_a_reason(make_client: Callable[..., TestClient]) -> None:
    with make_client(max_connections=3, max_connections_per_client=2) as client:
        sid = new_session(client)
        sid2 = new_session(client)
        with client.websocket_connect(f"/ws/sessions/{sid}/track") as a:
            a.receive_json()
            with client.websocket_connect(f"/ws/sessions/{sid2}/live") as b:
                b.receive_json()
                with pytest.raises(WebSocketDenialResponse) as exc, client.websocket_connect("/ws/gaze"):
                    pass
                assert exc.value.status_code == 503
                assert "GAZESCOPE_MAX_CONNECTIONS_PER_CLIENT" in exc.value.text
                a.send_text('{"type": "ping", "t_ms": 1}')  # the open ones go on
                assert a.receive_json()["type"] == "pong"
        # released when they close
        with client.websocket_connect(f"/ws/sessions/{sid}/track") as a:
            assert a.receive_json()["type"] == "session"
        metrics = client.get("/metrics").text
        assert 'gazescope_refused_total{reason="connections_per_client"} 1.0' in metrics


def test_total_cap(make_client: Callable[..., TestClient]) -> None:
    with make_client(max_connections=1, max_connections_per_client=5) as client:
        sid = new_session(client)
        with client.websocket_connect(f"/ws/sessions/{sid}/live") as a:
            a.receive_json()
            with (
                pytest.raises(WebSocketDenialResponse) as exc,
                client.websocket_connect(f"/ws/sessions/{sid}/track"),
            ):
                pass
            assert exc.value.status_code == 503 and "GAZESCOPE_MAX_CONNECTIONS=" in exc.value.text


def test_pings_do_not_keep_an_idle_connection_open(make_client: Callable[..., TestClient]) -> None:
    """Before: every message reset the idle timer, so a client pinging forever held its slot."""
    with make_client(idle_timeout_s=1.0) as client:
        sid = new_session(client)
        with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
            ws.receive_json()
            t0 = time.monotonic()
            with pytest.raises(WebSocketDisconnect) as exc:
                for _ in range(40):
                    ws.send_text('{"type": "ping", "t_ms": 1}')
                    assert ws.receive_json()["type"] == "pong"
                    time.sleep(0.1)
            assert exc.value.code == 1001
            assert time.monotonic() - t0 < 3.0


# --- defect 9: cross-site requests ---------------------------------------------------------------------


def test_cross_site_state_changes_are_403(client: TestClient) -> None:
    evil = {"Origin": "http://evil.example"}
    r = client.post("/api/sessions", json={}, headers=evil)
    assert r.status_code == 403 and "evil.example" in r.json()["detail"]
    r = client.post("/api/sessions", json={}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "Sec-Fetch-Site" in r.json()["detail"]
    r = client.post("/api/sessions", json={}, headers={"Origin": "null"})
    assert r.status_code == 403
    files = {"file": ("x.png", b"\x89PNG\r\n\x1a\n", "image/png")}
    assert client.post("/api/stimuli", files=files, headers=evil).status_code == 403
    sid = new_session(client)
    assert client.delete(f"/api/sessions/{sid}", headers=evil).status_code == 403
    assert client.get("/api/sessions", headers=evil).status_code == 200  # reads stay (CORS hides them)
    assert client.get(f"/api/sessions/{sid}").status_code == 200
    # allowed: no Origin (scripts), same-site fetch metadata, local origins, this server's own origin
    assert client.post("/api/sessions", json={}).status_code == 201
    assert client.post("/api/sessions", json={}, headers={"Sec-Fetch-Site": "same-origin"}).status_code == 201
    assert (
        client.post("/api/sessions", json={}, headers={"Origin": "http://localhost:5173"}).status_code == 201
    )
    assert client.post("/api/sessions", json={}, headers={"Origin": "http://testserver"}).status_code == 201


def test_seed_003_upload_is_exempt(client: TestClient) -> None:
    from gazescope.api.security import CSRF_EXEMPT_PATHS
    from gazescope.api.seeds import CORS_OWN_PATHS

    assert "/upload" in CSRF_EXEMPT_PATHS
    assert CSRF_EXEMPT_PATHS <= CORS_OWN_PATHS  # an exempt path answers CORS for any origin itself
    r = client.post("/upload", content=b"{}", headers={"Origin": "null", "content-type": "application/json"})
    assert r.status_code != 403  # whatever the route answers, the cross-site check does not refuse it


def test_allowed_origin_setting_allows_cross_site_posts(make_client: Callable[..., TestClient]) -> None:
    with make_client(allowed_origins=["https://app.example"]) as client:
        assert (
            client.post("/api/sessions", json={}, headers={"Origin": "https://app.example"}).status_code
            == 201
        )
        assert (
            client.post("/api/sessions", json={}, headers={"Origin": "https://b.example"}).status_code == 403
        )


# --- defect 10: logs and nosniff ----------------------------------------------------------------------


def test_token_filter_keeps_uvicorn_access_log_working(capsys) -> None:
    """Before: the filter replaced the record's args by None, and uvicorn's AccessFormatter (which
    unpacks five args) printed "--- Logging error ---" for every request."""
    import uvicorn.logging

    from gazescope.api.logs import configure_logging

    configure_logging()
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(
        uvicorn.logging.AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s')
    )
    access = logging.getLogger("uvicorn.access")
    access.addHandler(handler)
    old_level = access.level
    access.setLevel(logging.INFO)
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/sessions?token=s3cret&x=1", "1.1", 200
        )
        uvicorn_err = logging.getLogger("uvicorn.error")
        plain = logging.StreamHandler(buf)
        uvicorn_err.addHandler(plain)
        err_level, err_disabled = uvicorn_err.level, uvicorn_err.disabled
        uvicorn_err.setLevel(logging.INFO)
        uvicorn_err.disabled = False
        uvicorn_err.info('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", "/ws/gaze?token=s3cret")
        uvicorn_err.removeHandler(plain)
        uvicorn_err.setLevel(err_level)
        uvicorn_err.disabled = err_disabled
    finally:
        access.removeHandler(handler)
        access.setLevel(old_level)
    out = buf.getvalue()
    assert '127.0.0.1:5000 - "GET /api/sessions?token=***&x=1 HTTP/1.1" 200' in out
    assert "/ws/gaze?token=***" in out
    assert "s3cret" not in out
    assert "Logging error" not in capsys.readouterr().err


def test_stimulus_images_and_every_response_carry_nosniff(client: TestClient) -> None:
    import cv2

    png = cv2.imencode(".png", np.zeros((20, 30, 3), np.uint8))[1].tobytes()
    r = client.post("/api/stimuli", files={"file": ("s.png", png, "image/png")})
    assert r.status_code == 201, r.text
    img = client.get(r.json()["image_url"])
    assert img.status_code == 200 and img.headers["x-content-type-options"] == "nosniff"
    assert client.get("/healthz").headers["x-content-type-options"] == "nosniff"


# --- defect 1: fits ------------------------------------------------------------------------------------


def test_cnn_params_are_clamped_and_bad_ones_refused(make_client: Callable[..., TestClient]) -> None:
    pytest.importorskip("torch")
    with make_client(calibration_max_time_budget_s=5.0, calibration_max_epochs=100) as client:
        sid = new_session(client, screen_w_px=1000, screen_h_px=800)
        with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
            ws.receive_json()
            start = {"type": "calibration_start", "mapper": "cnn", "layout": "9"}
            ws.send_json({**start, "mapper_params": {"time_budget_s": 3600, "epochs": 10**9}})
            started = recv_type(ws, "calibration_started", "error")
            assert started["type"] == "calibration_started", started
            assert started["mapper_params"]["time_budget_s"] == 5.0
            assert started["mapper_params"]["epochs"] == 100
            assert started["clamped"] == {"time_budget_s": 3600, "epochs": 10**9}
            ws.send_json({**start, "mapper_params": {}})  # the defaults (20 s) are clamped too
            assert recv_type(ws, "calibration_started")["mapper_params"]["time_budget_s"] == 5.0
            for params in ({"batch": 3}, {"lr": -1}, {"seed": 2**40}, {"time_budget_s": "long"}):
                ws.send_json({**start, "mapper_params": params})
                err = recv_type(ws, "error", "calibration_started")
                assert err["type"] == "error" and err["code"] == "invalid_request", (params, err)
            ws.send_json({**start, "mapper": "ridge", "mapper_params": {"alphas": [1.0] * 5_000}})
            err = recv_type(ws, "error", "calibration_started")
            assert err["code"] == "invalid_request" and "alphas" in err["message"]


def test_a_fit_beyond_the_cap_is_refused_with_server_busy(client: TestClient) -> None:
    state = client.app.state.gs
    assert state.reserve_fit()  # another connection's fit holds the only slot
    try:
        sid = new_session(client, screen_w_px=1000, screen_h_px=800)
        with client.websocket_connect(f"/ws/sessions/{sid}/track") as ws:
            ws.receive_json()
            ws.send_json({"type": "calibration_start", "layout": "9"})
            recv_type(ws, "calibration_started")
            ws.send_json({"type": "calibration_finish"})
            err = recv_type(ws, "error")
            assert err["code"] == "server_busy" and "GAZESCOPE_CALIBRATION_FIT_THREADS" in err["message"]
            ws.send_json({"type": "calibration_cancel"})  # the calibration stayed open
            assert recv_type(ws, "calibration_cancelled", "error")["type"] == "calibration_cancelled"
    finally:
        state.release_fit()
    assert state.fits_running == 0


def test_a_cnn_fit_stops_at_its_cancel_flag() -> None:
    """Before: cancelling the fit's asyncio wrapper left torch training for the whole budget."""
    pytest.importorskip("torch")
    from gazescope.calibration.features import N_FEATURES, PATCH_SIZE
    from gazescope.calibration.mappers import create_mapper
    from gazescope.errors import FitStoppedError

    rng = np.random.default_rng(0)
    X = rng.random((12, N_FEATURES + PATCH_SIZE))
    Y = np.array([[100.0 * (i % 4), 100.0 * (i // 4)] for i in range(12)])
    m = create_mapper("cnn", epochs=10**9, time_budget_s=3600)
    calls = []

    def should_stop() -> bool:  # the service's cancel flag, set while the third epoch runs
        calls.append(1)
        return len(calls) >= 3

    m.should_stop = should_stop
    with pytest.raises(FitStoppedError, match="after 3 epochs"):
        m.fit(X, Y)


def test_a_non_string_type_is_an_error_on_every_route(client: TestClient) -> None:
    """Found by the fuzz test: ``{"type": {}}`` on seed 002's ``/ws`` raised TypeError (unhashable) and
    dropped the connection without a close frame."""
    sid = new_session(client)
    for route in (f"/ws/sessions/{sid}/track", f"/ws/session/{sid}/track", "/ws/gaze", "/ws"):
        with client.websocket_connect(route) as ws:
            if "/session" in route:
                ws.receive_json()
            for text in ('{"type": {}}', '{"type": []}', '{"type": 1}'):
                ws.send_text(text)
                msg = ws.receive_json()
                inner = msg.get("data") if isinstance(msg.get("data"), dict) else msg
                assert msg.get("type") in ("error", "gaze_data") and (
                    inner.get("code") or inner.get("error")
                ), (
                    route,
                    msg,
                )
            ws.send_text('{"type": "ping"}')
            assert ws.receive_json()["type"] == "pong"
