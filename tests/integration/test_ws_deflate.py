"""WebSocket permessage-deflate on a real ``gazescope serve``: off by default
(``GAZESCOPE_WS_PER_MESSAGE_DEFLATE``; docs/performance.md), offered when turned on; frames are tracked
either way."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.sync.client import connect

pytestmark = pytest.mark.integration


def _track_one_frame(server, jpeg: bytes) -> tuple[str | None, dict]:
    """Open a tracking socket (the client offers permessage-deflate), send one frame; return the
    extensions the server accepted and the sample."""
    sid = httpx.post(f"{server.url}/api/sessions", json={"label": "deflate"}).json()["id"]
    with connect(f"{server.ws_url}/ws/sessions/{sid}/track", compression="deflate") as ws:
        accepted = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert json.loads(ws.recv(timeout=30))["type"] == "session"
        ws.send(jpeg)
        while (msg := json.loads(ws.recv(timeout=60)))["type"] != "sample":
            pass
    return accepted, msg


@pytest.mark.parametrize(
    ("env", "negotiated"),
    [
        pytest.param({}, False, id="default-off"),
        pytest.param({"GAZESCOPE_WS_PER_MESSAGE_DEFLATE": "true"}, True, id="on"),
    ],
)
def test_permessage_deflate_follows_the_setting(serve, desk_jpegs, env, negotiated):
    server = serve(**env)
    accepted, sample = _track_one_frame(server, desk_jpegs[100])
    assert ("permessage-deflate" in (accepted or "")) is negotiated
    assert sample["face_detected"] is True
