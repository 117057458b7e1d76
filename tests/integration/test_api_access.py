"""Access control and limits on a real ``gazescope serve``: the API token (REST and WebSockets), a
configured Origin allowlist, and the idle timeout."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token-for-tests-7f1e"


@pytest.fixture(scope="module")
def server(module_serve):
    return module_serve(
        GAZESCOPE_API_TOKEN=TOKEN,
        GAZESCOPE_ALLOWED_ORIGINS="https://app.example.com",
        GAZESCOPE_IDLE_TIMEOUT_S="1.5",
    )


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_rest_needs_the_token(server):
    url = f"{server.url}/api/sessions"
    r = httpx.post(url)
    assert (
        r.status_code == 401 and "token" in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
    )
    assert httpx.post(url, headers=auth("wrong")).status_code == 401
    assert httpx.post(url, headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert httpx.post(url, headers=auth()).status_code == 201
    assert httpx.get(url, params={"token": TOKEN}).status_code == 200
    # seed 000 routes are protected too; liveness and service information are not
    assert httpx.post(f"{server.url}/session/start").status_code == 401
    assert httpx.get(f"{server.url}/sessions").status_code == 401
    assert httpx.post(f"{server.url}/session/start", headers=auth()).status_code == 201  # seed 000: Created
    for path in ("/healthz", "/readyz", "/health", "/", "/metrics"):
        assert httpx.get(f"{server.url}{path}").status_code == 200, path


def test_websockets_need_the_token(server):
    sid = httpx.post(f"{server.url}/api/sessions", headers=auth()).json()["id"]
    base = f"{server.ws_url}/ws/sessions/{sid}/track"

    async def hello(url: str) -> str:
        async with websockets.connect(url) as ws:
            return json.loads(await ws.recv())["type"]

    for url in (
        base,
        f"{base}?token=wrong",
        f"{server.ws_url}/ws/gaze",
        f"{server.ws_url}/ws/sessions/{sid}/live",
    ):
        with pytest.raises(InvalidStatus) as exc:
            asyncio.run(hello(url))
        assert exc.value.response.status_code == 401, url
    assert asyncio.run(hello(f"{base}?token={TOKEN}")) == "session"
    assert TOKEN not in server.log()


def test_configured_origin_is_allowed_others_are_not(server):
    sid = httpx.post(f"{server.url}/api/sessions", headers=auth()).json()["id"]
    url = f"{server.ws_url}/ws/sessions/{sid}/track?token={TOKEN}"

    async def hello(origin: str) -> str:
        async with websockets.connect(url, origin=origin) as ws:
            return json.loads(await ws.recv())["type"]

    assert asyncio.run(hello("https://app.example.com")) == "session"
    assert asyncio.run(hello("http://127.0.0.1:8080")) == "session"
    for origin in ("https://evil.example", "https://app.example.com.evil.example", "null"):
        with pytest.raises(InvalidStatus) as exc:
            asyncio.run(hello(origin))
        assert exc.value.response.status_code == 403, origin
    r = httpx.options(
        f"{server.url}/api/sessions",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert r.headers.get("access-control-allow-origin") == "https://app.example.com"


def test_idle_connection_is_closed_with_1001(server):
    sid = httpx.post(f"{server.url}/api/sessions", headers=auth()).json()["id"]

    async def run() -> int | None:
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track?token={TOKEN}") as ws:
            await ws.recv()
            try:
                await asyncio.wait_for(ws.recv(), 20)
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None
        return None

    assert asyncio.run(run()) == 1001
    assert httpx.get(f"{server.url}/api/sessions/{sid}", headers=auth()).json()["status"] == "active"


def test_unreachable_store_is_not_ready_and_errors_are_clear(serve):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    server = serve(GAZESCOPE_REDIS_URL=f"redis://127.0.0.1:{dead}/0")
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    r = httpx.get(f"{server.url}/readyz")
    assert r.status_code == 503 and r.json() == {"status": "unavailable", "store": "redis"}
    assert httpx.get(f"{server.url}/health").status_code == 503
    r = httpx.post(f"{server.url}/api/sessions", timeout=30)
    assert r.status_code == 503 and r.json()["code"] == "storage_error"

    async def connect():
        async with websockets.connect(f"{server.ws_url}/ws/sessions/abc/track") as ws:
            msg = json.loads(await ws.recv())
            try:
                await asyncio.wait_for(ws.recv(), 20)
            except ConnectionClosed as exc:
                return msg, exc.rcvd.code if exc.rcvd else None
        return msg, None

    msg, code = asyncio.run(connect())
    assert msg["type"] == "error" and msg["code"] == "storage_error" and code == 1011
    assert server.alive()
