"""A server that finds another connection's name on a session's owner key (it was taken over while this
one could not hear the stop request, e.g. during a Redis outage) stops its own connection with the
takeover code, so two connections never serve one session (real ``gazescope serve``, real redis-server)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

pytestmark = [pytest.mark.integration]


def test_a_connection_whose_owner_key_another_holds_is_closed_with_4000(serve, redis_server):
    # the owner key is renewed every third of its TTL: every 0.5 s here
    server = serve(GAZESCOPE_REDIS_URL=redis_server, GAZESCOPE_OWNER_TTL_S="1.5")
    r = httpx.post(f"{server.url}/api/sessions", json={"user_id": "ownership-loss"}, timeout=30)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    with connect(f"{server.ws_url}/ws/sessions/{sid}/track", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session"
        key = f"gazescope:owner:{sid}"
        raw = redis.Redis.from_url(redis_server)
        try:
            assert raw.get(key) is not None
            raw.set(key, "otherinstance:c9", px=30_000)  # another instance's connection claimed it
        finally:
            raw.close()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=15)  # a liveness bound: the next renewal (0.5 s) stops it
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000


def test_an_owner_key_that_expired_is_set_again_and_the_session_shows_tracked(serve, redis_server):
    server = serve(GAZESCOPE_REDIS_URL=redis_server, GAZESCOPE_OWNER_TTL_S="1.5")
    sid = httpx.post(f"{server.url}/api/sessions", json={"user_id": "ownership-loss"}, timeout=30).json()[
        "id"
    ]
    with connect(f"{server.ws_url}/ws/sessions/{sid}/track", open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "session"
        raw = redis.Redis.from_url(redis_server)
        try:
            raw.delete(f"gazescope:owner:{sid}")  # expired during a Redis outage longer than its TTL
            deadline = time.monotonic() + 15  # a liveness bound: the next renewal (0.5 s) sets it again
            while raw.get(f"gazescope:owner:{sid}") is None:
                assert time.monotonic() < deadline, "the owner key was not set again"
                time.sleep(0.1)
        finally:
            raw.close()
        assert httpx.get(f"{server.url}/api/sessions/{sid}", timeout=10).json()["tracking"] is True
