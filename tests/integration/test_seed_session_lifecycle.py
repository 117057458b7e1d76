"""Seed sessions (created for their connection) end even when the connection never starts serving.

A real ``gazescope serve`` on SQLite; the fault is a trigger the test adds to the server's database that
makes every write of a frame index reservation fail (``StorageError`` in the server), so a seed route's
claim fails after its session was created.
"""

from __future__ import annotations

import sqlite3
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from gazescope.storage import SQLiteStore

pytestmark = [pytest.mark.integration]

FAIL_RESERVE = (
    "CREATE TRIGGER fail_reserve BEFORE INSERT ON documents WHEN NEW.collection = 'frame_indices' "
    "BEGIN SELECT RAISE(ABORT, 'injected: frame index reservation fails'); END"
)


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/ws?user_id=seed002-claim-fails", id="seed002"),
        pytest.param("/ws/gaze", id="seed001"),
    ],
)
def test_seed_session_whose_claim_fails_is_ended(serve, path):
    server = serve()
    with sqlite3.connect(server.db_path) as db:
        db.execute(FAIL_RESERVE)
    with connect(f"{server.ws_url}{path}", open_timeout=10) as ws, pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    store = SQLiteStore(server.db_path)
    try:
        sessions = store.list_sessions()
        assert len(sessions) == 1, sessions
        sid = sessions[0].id
        deadline = time.monotonic() + 30  # a liveness bound: the end is awaited before the handler returns
        while store.get_session(sid).status != "ended" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert store.get_session(sid).status == "ended"
        assert store.get_report(sid) is not None
    finally:
        store.close()


def test_idle_seed003_session_is_ended_without_a_next_upload(serve):
    """A seed 003 page that stops posting (closed) has its session ended once it has been idle for
    ``seed003_session_gap_s`` (here 1 s), by the server's sweep, not by a next upload that never comes."""
    server = serve(GAZESCOPE_SEED003_SESSION_GAP_S="1")
    points = [{"x": 100.0 + i, "y": 200.0, "weight": 1} for i in range(30)]
    r = httpx.post(f"{server.url}/upload", json={"points": points}, timeout=30)
    assert r.status_code == 200, r.text
    sid = r.headers["X-Gazescope-Session"]
    deadline = time.monotonic() + 30  # a liveness bound: the sweep runs every half gap
    while httpx.get(f"{server.url}/api/sessions/{sid}", timeout=10).json()["status"] != "ended":
        assert time.monotonic() < deadline, "the idle seed 003 session was not ended"
        time.sleep(0.2)
    report = httpx.get(f"{server.url}/api/sessions/{sid}/report", timeout=30)
    assert report.status_code == 200, report.text
