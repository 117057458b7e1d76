"""Closed tabs no longer leave sessions ``active`` for ever (issue 19), on a real ``gazescope serve`` with a
short ``GAZESCOPE_SESSION_ABANDON_AFTER_S``: a session whose tracking connection closed and that saw no
new one is ended with its report; one that reconnected in time is not ended while it is served; one left
active by a killed server is ended by the restarted server; with two server processes on Redis one
process ends it."""

from __future__ import annotations

import base64
import json
import signal
import time
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from support.servers import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ABANDON_S = "1"
#: Longest wait for the sweep in these tests (it runs every 0.25 s with a 1 s timeout).
WAIT_S = 30.0


def new_session(server: Server) -> str:
    r = httpx.post(f"{server.url}/api/sessions", json={"label": "abandon test"}, timeout=10)
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def status(server: Server, sid: str) -> str:
    r = httpx.get(f"{server.url}/api/sessions/{sid}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["status"]


def send_frames(ws: Any, jpegs: list[bytes], *, t0_ms: float = 0.0) -> None:
    """Send frames one at a time, each after the previous one's sample arrived."""
    for i, jpeg in enumerate(jpegs):
        msg = {"type": "frame", "data": base64.b64encode(jpeg).decode(), "t_ms": t0_ms + i * 66.7}
        ws.send(json.dumps(msg))
        while json.loads(ws.recv(timeout=30))["type"] != "sample":
            pass


def track(server: Server, sid: str, jpegs: list[bytes], *, t0_ms: float = 0.0) -> None:
    with connect(f"{server.ws_url}/ws/sessions/{sid}/track", open_timeout=10) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "session", hello
        send_frames(ws, jpegs, t0_ms=t0_ms)


def wait_ended(server: Server, sid: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while status(server, sid) != "ended":
        assert time.monotonic() < deadline, (
            f"session still active after {WAIT_S:g} s:\n{server.log()[-3000:]}"
        )
        time.sleep(0.2)


def assert_report(server: Server, sid: str, frames: int) -> None:
    r = httpx.get(f"{server.url}/api/sessions/{sid}/report", timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["frames"] == frames


def test_closed_tab_session_is_ended_with_its_report(serve, desk_jpegs: list[bytes]) -> None:
    server = serve(GAZESCOPE_SESSION_ABANDON_AFTER_S=ABANDON_S)
    sid = new_session(server)
    untouched = new_session(server)  # never connected: left alone
    track(server, sid, desk_jpegs[:10])
    wait_ended(server, sid)
    assert_report(server, sid, 10)
    assert status(server, untouched) == "active"
    assert "event=session_abandoned" in server.log()


def test_session_that_reconnected_is_not_ended_while_served(serve, desk_jpegs: list[bytes]) -> None:
    server = serve(GAZESCOPE_SESSION_ABANDON_AFTER_S=ABANDON_S)
    sid = new_session(server)
    track(server, sid, desk_jpegs[:5])
    with connect(f"{server.ws_url}/ws/sessions/{sid}/track", open_timeout=10) as ws:  # the reload
        assert json.loads(ws.recv(timeout=10))["resumed"] is True
        for k in range(4):  # 4 s connected: four times the timeout, with a frame every second
            send_frames(ws, desk_jpegs[5 + k : 6 + k], t0_ms=1000.0 * (k + 1))
            time.sleep(1.0)
            assert status(server, sid) == "active"
    wait_ended(server, sid)  # closed for good: ended now
    assert_report(server, sid, 9)


def test_session_left_active_by_a_killed_server_is_ended_after_restart(
    serve, desk_jpegs: list[bytes]
) -> None:
    first = serve(GAZESCOPE_SESSION_ABANDON_AFTER_S=ABANDON_S)
    sid = new_session(first)
    with connect(f"{first.ws_url}/ws/sessions/{sid}/track", open_timeout=10) as ws:
        ws.recv(timeout=10)
        send_frames(ws, desk_jpegs[:10])
        time.sleep(1.5)  # the samples are flushed (every sample_flush_s, 1 s)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
    second = serve(port=first.port, db_path=first.db_path, GAZESCOPE_SESSION_ABANDON_AFTER_S=ABANDON_S)
    wait_ended(second, sid)
    assert_report(second, sid, 10)
    assert "event=tracking_connection_lost" in second.log()


def test_two_processes_on_redis_end_the_session_once(
    serve, redis_server: str, desk_jpegs: list[bytes]
) -> None:
    server = serve(
        GAZESCOPE_REDIS_URL=redis_server,
        GAZESCOPE_WORKERS="2",
        GAZESCOPE_SESSION_ABANDON_AFTER_S=ABANDON_S,
    )
    sids = [new_session(server) for _ in range(3)]
    for sid in sids:
        track(server, sid, desk_jpegs[:4])
    for sid in sids:
        wait_ended(server, sid)
        assert_report(server, sid, 4)
    time.sleep(1.0)  # one more sweep of each process
    ended = [line for line in server.log().splitlines() if "event=session_abandoned" in line]
    for sid in sids:  # each session ended by one process, once
        assert sum(f"session_id={sid}" in line for line in ended) == 1, "\n".join(ended)
