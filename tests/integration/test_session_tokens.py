"""Issue 20: session tokens on a real ``gazescope serve`` with an API token set. A token minted for
session A tracks A (its tracking WebSocket, its GET and report) and is refused everywhere else (403 with a
reason): on B, the session list, DELETE, samples, stimuli, profiles, minting, the live WebSocket without the
``live`` right. Expired and tampered tokens get 401."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

pytestmark = pytest.mark.integration

MASTER = "master-token-for-session-token-tests-3b9c"


@pytest.fixture(scope="module")
def server(module_serve):
    return module_serve(GAZESCOPE_API_TOKEN=MASTER, GAZESCOPE_TOKEN_SECRET="secret-for-tests-0a1b2c")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_session(server) -> str:
    r = httpx.post(f"{server.url}/api/sessions", headers=bearer(MASTER), json={"label": "tokens"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def mint(server, sid: str, **body) -> dict:
    r = httpx.post(f"{server.url}/api/sessions/{sid}/tokens", headers=bearer(MASTER), json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def track(url: str, jpegs: list[bytes]) -> int:
    async with websockets.connect(url, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "session"
        n = 0
        for i, jpeg in enumerate(jpegs):
            await ws.send(json.dumps({"type": "frame", "data": base64.b64encode(jpeg).decode(), "t_ms": i}))
            while json.loads(await asyncio.wait_for(ws.recv(), 60))["type"] != "sample":
                pass
            n += 1
        return n


def ws_status(url: str) -> int:
    async def run() -> None:
        async with websockets.connect(url) as ws:
            await ws.recv()

    with pytest.raises(InvalidStatus) as exc:
        asyncio.run(run())
    return exc.value.response.status_code


def test_minting_needs_the_master_token(server):
    a = new_session(server)
    url = f"{server.url}/api/sessions/{a}/tokens"
    assert httpx.post(url).status_code == 401
    out = mint(server, a)
    assert (
        out["session_id"] == a
        and out["rights"] == ["read", "track"]
        and out["expires_at_ms"] > time.time() * 1000
    )
    assert httpx.post(url, headers=bearer(out["token"])).status_code == 403  # a session token cannot mint
    r = httpx.post(url, headers=bearer(MASTER), json={"ttl_s": 10**6})
    assert r.status_code == 422 and "GAZESCOPE_SESSION_TOKEN_MAX_TTL_S" in r.text
    assert httpx.post(f"{server.url}/api/sessions/nope/tokens", headers=bearer(MASTER)).status_code == 404


def test_a_token_for_a_tracks_a_and_nothing_else(server, desk_jpegs):
    a, b = new_session(server), new_session(server)
    tok = mint(server, a)["token"]
    assert MASTER not in tok
    # its own session: tracking WebSocket, GET, report
    assert asyncio.run(track(f"{server.ws_url}/ws/sessions/{a}/track?token={tok}", desk_jpegs[:5])) == 5
    r = httpx.get(f"{server.url}/api/sessions/{a}", headers=bearer(tok))
    assert r.status_code == 200 and r.json()["sample_count"] == 5
    assert httpx.get(f"{server.url}/api/sessions/{a}/report", params={"token": tok}).status_code == 200
    # everywhere else: 403 with a reason
    refused = [
        ("GET", f"/api/sessions/{b}"),
        ("GET", f"/api/sessions/{b}/report"),
        ("GET", "/api/sessions"),
        ("DELETE", f"/api/sessions/{a}"),
        ("POST", f"/api/sessions/{a}/end"),
        ("GET", f"/api/sessions/{a}/samples"),
        ("GET", f"/api/sessions/{a}/heatmap.png"),
        ("GET", "/api/stimuli"),
        ("GET", "/api/profiles"),
        ("POST", "/api/sessions"),
    ]
    for method, path in refused:
        r = httpx.request(method, f"{server.url}{path}", headers=bearer(tok))
        assert r.status_code == 403, (method, path, r.text)
        assert "session token" in r.json()["detail"], (method, path, r.text)
    assert ws_status(f"{server.ws_url}/ws/sessions/{b}/track?token={tok}") == 403
    assert ws_status(f"{server.ws_url}/ws/sessions/{a}/live?token={tok}") == 403  # no "live" right
    assert ws_status(f"{server.ws_url}/ws/gaze?token={tok}") == 403  # a session of its own: not this one's
    assert httpx.get(f"{server.url}/api/sessions/{a}", headers=bearer(MASTER)).json()["status"] == "active"


def test_live_right_opens_the_live_websocket(server):
    a = new_session(server)
    tok = mint(server, a, rights=["live"])["token"]

    async def hello() -> str:
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{a}/live?token={tok}") as ws:
            return json.loads(await ws.recv())["type"]

    assert asyncio.run(hello()) == "session"
    assert ws_status(f"{server.ws_url}/ws/sessions/{a}/track?token={tok}") == 403  # no "track" right
    assert httpx.get(f"{server.url}/api/sessions/{a}", headers=bearer(tok)).status_code == 403  # no "read"


def test_expired_and_tampered_tokens_are_401(server):
    a = new_session(server)
    short = mint(server, a, ttl_s=1)["token"]
    good = mint(server, a)["token"]
    prefix, payload, sig = good.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["rights"] = ["live", "read", "track"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    tampered = [
        f"{prefix}.{forged_payload}.{sig}",  # rights widened, old signature
        f"{prefix}.{payload}.{sig[:-2]}AA",  # signature changed
        f"{prefix}.{payload}",  # no signature
    ]
    for tok in tampered:
        r = httpx.get(f"{server.url}/api/sessions/{a}", headers=bearer(tok))
        assert r.status_code == 401, (tok, r.text)
        assert ws_status(f"{server.ws_url}/ws/sessions/{a}/track?token={tok}") == 401
    time.sleep(2.1)  # past its expiry (whole seconds)
    r = httpx.get(f"{server.url}/api/sessions/{a}", headers=bearer(short))
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert ws_status(f"{server.ws_url}/ws/sessions/{a}/track?token={short}") == 401
    assert httpx.get(f"{server.url}/api/sessions/{a}", headers=bearer(good)).status_code == 200
