"""Seed sessions (created for their connection) end even when the connection never starts serving.

A real ``gazescope serve`` on SQLite; the fault is a trigger the test adds to the server's database that
makes every write of a frame index reservation fail (``StorageError`` in the server), so a seed route's
claim fails after its session was created.
"""

from __future__ import annotations

import sqlite3
import time

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
