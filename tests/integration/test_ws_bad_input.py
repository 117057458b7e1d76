"""Bad input on a real ``gazescope serve``: each gets a clear error, the session's stored data stays intact,
and the server and a bystander client streaming its own session meanwhile are unaffected."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import threading
import time
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.integration


def frame_msg(jpeg: bytes, t: float) -> str:
    return json.dumps({"type": "frame", "data": base64.b64encode(jpeg).decode(), "t_ms": t})


async def next_json(ws, timeout: float = 30.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def lockstep(ws, jpegs: list[bytes], t0: float = 0.0) -> list[dict[str, Any]]:
    """Send frames one at a time, each after the previous one's sample (so none is dropped)."""
    out = []
    for i, jpeg in enumerate(jpegs):
        await ws.send(frame_msg(jpeg, t0 + i))
        msg = await next_json(ws)
        assert msg["type"] == "sample" and msg["client_t_ms"] == t0 + i, msg
        out.append(msg)
    return out


async def close_code(ws, timeout: float = 15.0) -> int | None:
    """Read until the server closes; the close code it sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None


class Bystander:
    """A client streaming its own session at 10 FPS in a thread while the other tests misbehave."""

    def __init__(self, server, jpegs: list[bytes]) -> None:
        self.server = server
        self.jpegs = jpegs
        self.sid = httpx.post(f"{server.url}/api/sessions", json={"label": "bystander"}).json()["id"]
        self.stop = threading.Event()
        self.sent = 0
        self.samples: list[dict[str, Any]] = []
        self.errors: list[Any] = []
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()

    async def _run(self) -> None:
        try:
            async with websockets.connect(f"{self.server.ws_url}/ws/sessions/{self.sid}/track") as ws:
                assert (await next_json(ws))["type"] == "session"
                final = asyncio.Event()
                last_t = -1.0

                async def receive() -> None:
                    async for raw in ws:
                        msg = json.loads(raw)
                        if msg["type"] != "sample":
                            self.errors.append(msg)
                            continue
                        self.samples.append(msg)
                        if final.is_set() and msg["client_t_ms"] == last_t:
                            return

                rx = asyncio.create_task(receive())
                while not self.stop.is_set():
                    last_t = float(self.sent)
                    await ws.send(frame_msg(self.jpegs[self.sent % len(self.jpegs)], last_t))
                    self.sent += 1
                    await asyncio.sleep(0.1)
                final.set()
                if self.samples and self.samples[-1]["client_t_ms"] == last_t:
                    rx.cancel()
                else:
                    await asyncio.wait_for(rx, 30)
        except Exception as exc:
            self.errors.append(repr(exc))

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(60)


@pytest.fixture(scope="module")
def server(module_serve):
    return module_serve()


@pytest.fixture(scope="module")
def bystander(server, desk_jpegs):
    b = Bystander(server, desk_jpegs[:300])
    yield b
    b.finish()


@pytest.fixture
def session(server, bystander) -> str:
    r = httpx.post(f"{server.url}/api/sessions", json={"label": "bad-input"})
    assert r.status_code == 201
    return r.json()["id"]


def test_oversize_message_closes_1009_and_keeps_stored_data(server, session, desk_jpegs):
    async def run():
        url = f"{server.ws_url}/ws/sessions/{session}/track"
        async with websockets.connect(url) as ws:
            await next_json(ws)
            good = await lockstep(ws, desk_jpegs[:10])
            try:  # without compression the server may close while the 3 MiB are still being sent
                await ws.send(b"\xff\xd8" + b"\x00" * (3 * 1024 * 1024))  # 3 MiB > the 2 MiB limit
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
            else:
                code = await close_code(ws)
        return good, code

    good, code = asyncio.run(run())
    assert code == 1009
    info = httpx.get(f"{server.url}/api/sessions/{session}").json()
    assert info["sample_count"] == 10 and info["status"] == "active"
    stored = httpx.get(f"{server.url}/api/sessions/{session}/samples").json()["samples"]
    assert [s["frame_index"] for s in stored] == [s["frame_index"] for s in good]

    async def again():  # the session goes on after the offending connection
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{session}/track") as ws:
            hello = await next_json(ws)
            more = await lockstep(ws, desk_jpegs[10:13], t0=100)
        return hello, more

    hello, more = asyncio.run(again())
    assert hello["resumed"] is True and hello["next_frame_index"] == good[-1]["frame_index"] + 1
    assert [s["frame_index"] for s in more] == [hello["next_frame_index"] + i for i in range(3)]


def _jpeg_of_size(w: int, h: int) -> bytes:
    return cv2.imencode(".jpg", np.zeros((h, w, 3), np.uint8))[1].tobytes()


def test_bad_frames_get_errors_and_the_session_goes_on(server, session, desk_jpegs):
    good = desk_jpegs[0]
    gif = b"GIF89a" + b"\x00" * 100
    bad = [
        (good[: len(good) // 2], "bad_frame"),  # truncated JPEG
        (b"\xff\xd8" + bytes(range(256)) * 20 + b"\xff\xd9", "bad_frame"),  # corrupt JPEG
        (gif, "bad_frame"),
        (_jpeg_of_size(5000, 16), "frame_too_large"),  # wider than max_frame_width
    ]

    async def run():
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{session}/track") as ws:
            await next_json(ws)
            replies = []
            for data, _ in bad:
                await ws.send(data)  # binary
                replies.append(await next_json(ws))
            await ws.send(json.dumps({"type": "frame", "data": "@@not base64@@", "t_ms": 5}))
            replies.append(await next_json(ws))
            await ws.send(json.dumps({"type": "frame", "data": "data:image/gif;base64,R0lGOD", "t_ms": 6}))
            replies.append(await next_json(ws))
            after = await lockstep(ws, desk_jpegs[:3], t0=10)
        return replies, after

    replies, after = asyncio.run(run())
    for (_, code), reply in zip(bad, replies, strict=False):
        assert reply["type"] == "error" and reply["code"] == code and reply["message"], reply
    assert replies[4]["code"] == "bad_frame" and replies[4]["client_t_ms"] == 5
    assert replies[5]["code"] == "bad_frame" and "image/gif" in replies[5]["message"]
    assert len(after) == 3
    info = httpx.get(f"{server.url}/api/sessions/{session}").json()
    assert info["sample_count"] == 3  # refused frames store nothing


def test_unknown_types_and_bad_messages_get_errors(server, session, desk_jpegs):
    async def run():
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{session}/track") as ws:
            hello = await next_json(ws)
            replies = []
            for text in ('{"type": "dance"}', "not json", '{"no": "type"}', "[1, 2]", '{"type": "frame"}'):
                await ws.send(text)
                replies.append(await next_json(ws))
            await ws.send('{"type": "ping", "t_ms": 7}')
            replies.append(await next_json(ws))
            after = await lockstep(ws, desk_jpegs[:2])
        return hello, replies, after

    hello, replies, after = asyncio.run(run())
    assert "frame" in hello["message_types"]
    assert replies[0] == {"type": "error", "code": "unknown_type", "message": replies[0]["message"]}
    assert "dance" in replies[0]["message"] and "frame" in replies[0]["message"]
    assert [r["code"] for r in replies[1:5]] == ["bad_message"] * 4
    assert replies[5] == {"type": "pong", "t_ms": 7}
    assert len(after) == 2


def test_a_deeply_nested_message_is_an_error_and_the_seed_session_still_ends(server, bystander):
    async def run():
        async with websockets.connect(f"{server.ws_url}/ws") as ws:  # seed 002: an implicit session
            await ws.send("[" * 100_000)
            nested = await next_json(ws)
            await ws.send('{"type": "ping", "t_ms": 1}')
            return nested, await next_json(ws)

    nested, pong = asyncio.run(run())
    assert nested["code"] == "bad_message" and "nested" in nested["message"]
    assert pong["type"] == "pong"
    deadline = time.monotonic() + 10  # the server ends the implicit session once the client has left
    while time.monotonic() < deadline:
        mine = [s for s in httpx.get(f"{server.url}/api/sessions").json() if s["label"] == "seed002 /ws"]
        if mine and all(s["status"] == "ended" for s in mine):
            break
        time.sleep(0.1)
    assert mine and all(s["status"] == "ended" for s in mine)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("RequestVideoURL:\u00b2", id="superscript-count"),  # "²".isdigit() is True
        pytest.param("RequestVideoURL:" + "9" * 5000, id="5000-digit-count"),
        pytest.param('C{"images": "QUJD", "coordinates": [1, ' + "9" * 400 + "]}", id="huge-coordinate"),
    ],
)
def test_seed004_unreadable_numbers_are_errors_and_the_connection_goes_on(server, bystander, bad):
    async def run():
        async with websockets.connect(f"{server.ws_url}/ws/dispatcher/") as ws:
            await ws.send(bad)
            error = await next_json(ws)
            await ws.send("RequestVideoURL:1")
            return error, await next_json(ws)

    error, urls = asyncio.run(run())
    assert error["type"] == "error" and error["code"] == "bad_message", error
    assert urls == {"video_urls": []}


def test_unknown_and_ended_sessions_are_refused(server, bystander):
    async def connect(sid: str):
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track") as ws:
            msg = await next_json(ws)
            return msg, await close_code(ws)

    msg, code = asyncio.run(connect("no-such-session"))
    assert code == 4404 and msg["type"] == "error" and msg["code"] == "session_not_found"
    r = httpx.get(f"{server.url}/api/sessions/no-such-session")
    assert (
        r.status_code == 404 and r.json()["code"] == "session_not_found" and "not found" in r.json()["detail"]
    )
    # a malformed id is refused by the id rule (422 with the reason), before any lookup
    assert httpx.get(f"{server.url}/api/sessions/bad%20id!").status_code == 422

    sid = httpx.post(f"{server.url}/api/sessions").json()["id"]
    assert httpx.post(f"{server.url}/api/sessions/{sid}/end").status_code == 200
    msg, code = asyncio.run(connect(sid))
    assert code == 4409 and msg["code"] == "session_ended"


def test_bad_rest_requests_get_clear_4xx(server, bystander):
    r = httpx.post(f"{server.url}/api/sessions", json={"screen_w_px": -5})
    assert r.status_code == 422 and "screen_w_px" in json.dumps(r.json()["detail"])
    r = httpx.post(f"{server.url}/api/sessions", json={"colour": "blue"})
    assert r.status_code == 422 and "colour" in json.dumps(r.json()["detail"])
    r = httpx.post(
        f"{server.url}/api/sessions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    r = httpx.get(f"{server.url}/api/sessions", params={"since": "yesterday"})
    assert r.status_code == 422 and "since" in r.json()["detail"]
    r = httpx.get(f"{server.url}/api/sessions", params={"limit": -1})
    assert r.status_code == 422


def test_disallowed_origin_is_refused_before_accept(server, session):
    url = f"{server.ws_url}/ws/sessions/{session}/track"

    async def try_origin(origin: str):
        async with websockets.connect(url, origin=origin) as ws:
            return (await next_json(ws))["type"]

    with pytest.raises(InvalidStatus) as exc:
        asyncio.run(try_origin("https://evil.example"))
    assert exc.value.response.status_code == 403
    assert asyncio.run(try_origin("http://localhost:3000")) == "session"
    assert asyncio.run(try_origin(f"http://127.0.0.1:{server.port}")) == "session"  # same origin

    pre = {"Access-Control-Request-Method": "POST"}
    r = httpx.options(f"{server.url}/api/sessions", headers={"Origin": "https://evil.example", **pre})
    assert "access-control-allow-origin" not in r.headers
    r = httpx.options(f"{server.url}/api/sessions", headers={"Origin": "http://localhost:5173", **pre})
    assert r.headers.get("access-control-allow-origin") == "http://localhost:5173"


def test_reconnect_continues_the_session_and_a_newer_connection_takes_over(server, session, desk_jpegs):
    url = f"{server.ws_url}/ws/sessions/{session}/track"

    async def run():
        async with websockets.connect(url) as ws:
            await next_json(ws)
            first = await lockstep(ws, desk_jpegs[:8])
        old = await websockets.connect(url)
        hello = await next_json(old)
        second = await lockstep(old, desk_jpegs[8:12], t0=8)
        async with websockets.connect(url) as new:  # takes over from `old`
            hello2 = await next_json(new)
            old_code = await close_code(old)
            third = await lockstep(new, desk_jpegs[12:14], t0=12)
        return first, hello, second, hello2, old_code, third

    first, hello, second, hello2, old_code, third = asyncio.run(run())
    assert hello["resumed"] and hello["next_frame_index"] == 8
    assert [s["frame_index"] for s in second] == [8, 9, 10, 11]
    assert hello2["next_frame_index"] == 12 and old_code == 4000
    assert [s["frame_index"] for s in third] == [12, 13]
    assert second[0]["t_ms"] > first[-1]["t_ms"] and third[0]["t_ms"] > second[-1]["t_ms"]
    assert second[0]["blink_count"] >= first[-1]["blink_count"]
    info = httpx.get(f"{server.url}/api/sessions/{session}").json()
    assert info["sample_count"] == 14


def test_a_crashed_client_loses_nothing_processed(server, session, desk_jpegs):
    async def run():
        ws = await websockets.connect(f"{server.ws_url}/ws/sessions/{session}/track")
        await next_json(ws)
        got = await lockstep(ws, desk_jpegs[:6])
        ws.transport.abort()  # TCP reset, no close frame
        return got

    got = asyncio.run(run())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        info = httpx.get(f"{server.url}/api/sessions/{session}").json()
        if not info["tracking"]:
            break
        time.sleep(0.1)
    assert info["tracking"] is False and info["sample_count"] == len(got) == 6


def test_bystander_and_server_were_unaffected(server, bystander):
    time.sleep(1.0)
    bystander.finish()
    assert bystander.errors == []
    assert bystander.sent > 10
    processed = len(bystander.samples)
    assert processed + bystander.samples[-1]["dropped_frames"] == bystander.sent
    time.sleep(1.5)  # > sample_flush_s: the last batch is stored
    info = httpx.get(f"{server.url}/api/sessions/{bystander.sid}").json()
    assert info["sample_count"] == processed
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    assert server.alive()


def test_server_shutdown_flushes_open_sessions(serve, desk_jpegs):
    import sqlite3

    srv = serve()
    sid = httpx.post(f"{srv.url}/api/sessions").json()["id"]

    async def run():
        async with websockets.connect(f"{srv.ws_url}/ws/sessions/{sid}/track") as ws:
            await next_json(ws)
            got = await lockstep(ws, desk_jpegs[:5])
            srv.proc.send_signal(signal.SIGTERM)  # graceful shutdown while the client is connected
            return got, await close_code(ws)

    got, code = asyncio.run(run())
    assert code in (1001, 1012)  # going away / service restart
    srv.proc.wait(timeout=30)
    with sqlite3.connect(srv.db_path) as conn:
        n = conn.execute("SELECT count(*) FROM samples WHERE session_id = ?", (sid,)).fetchone()[0]
    assert n == len(got) == 5
