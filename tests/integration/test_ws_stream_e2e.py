"""End to end on a real ``gazescope serve`` subprocess: the whole desk video streamed over the tracking
WebSocket at 15 FPS, a live observer alongside, the session ended, its report read, then deleted without a
trace; on the embedded SQLite store and on a real redis-server.

The stream takes the video's length in real time (the session clock follows the client's only within
2 s of the server's), so the variants' streams run at once, each to its own server (``streamed``); each
variant's test then checks its own stream, report and deletion.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
import websockets

from support.servers import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FPS = 15.0


async def stream(ws_url: str, frames: list[bytes], fps: float) -> dict[str, Any]:
    """Send every frame as ``{"type": "frame", "data": <base64>, "t_ms": <capture time, ms>}`` at ``fps``;
    collect replies until the sample of the last frame arrives (it is never dropped: newest wins)."""
    samples: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    period_ms = 1000.0 / fps
    last_t = round((len(frames) - 1) * period_ms, 3)
    async with websockets.connect(ws_url, max_size=None) as ws:
        hello = json.loads(await ws.recv())

        async def receive() -> None:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "sample":
                    samples.append(msg)
                    if msg["client_t_ms"] == last_t:
                        return
                else:
                    others.append(msg)

        receiver = asyncio.create_task(receive())
        t0 = time.monotonic()
        for i, jpeg in enumerate(frames):
            await asyncio.sleep(max(0.0, t0 + i / fps - time.monotonic()))
            data = base64.b64encode(jpeg).decode()
            t_ms = round(i * period_ms, 3)  # the capture time, as a browser client stamps it
            await ws.send(json.dumps({"type": "frame", "data": data, "t_ms": t_ms}))
        await asyncio.wait_for(receiver, 60)
    return {"hello": hello, "samples": samples, "others": others}


async def observe(ws_url: str, out: list[dict[str, Any]], ready: asyncio.Event) -> None:
    async with websockets.connect(ws_url, max_size=None) as ws:
        out.append(json.loads(await ws.recv()))
        ready.set()
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in ws:
                out.append(json.loads(raw))


def traces_in_sqlite(db_path, session_id: str) -> int:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        n = 0
        for table, col in (("sessions", "id"), ("samples", "session_id"), ("reports", "session_id")):
            n += conn.execute(f"SELECT count(*) FROM {table} WHERE {col} = ?", (session_id,)).fetchone()[0]
        return n


def traces_in_redis(url: str, session_id: str) -> int:
    r = redis.Redis.from_url(url)
    try:
        n = sum(1 for _ in r.scan_iter(match=f"*{session_id}*", count=1000))
        n += sum(1 for k in r.scan_iter(match="gazescope:sessions*") if r.zscore(k, session_id) is not None)
        return n
    finally:
        r.close()


VARIANTS = ["sqlite", "sqlite-threads", "redis"]


@dataclass
class Streamed:
    """One variant's run: its server, the store it must report, the environment it was started with, the
    session, the stream's result (hello, samples, other replies, the report of ``end``) and what the live
    observer saw."""

    server: Server
    store: str
    env: dict[str, str]
    sid: str
    result: dict[str, Any]
    observed: list[dict[str, Any]]


def variant_env(variant: str, request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """(store the server must report, its ``GAZESCOPE_*`` environment) of a variant."""
    if variant == "sqlite-threads":  # frames in the server process's threads instead of one process per core
        return "sqlite", {"GAZESCOPE_FRAME_PROCESSES": "0"}
    if variant == "redis":
        return "redis", {"GAZESCOPE_REDIS_URL": request.getfixturevalue("redis_server")}
    return "sqlite", {}


def stream_session(server: Server, store: str, env: dict[str, str], frames: list[bytes]) -> Streamed:
    """Check the server's store, create a session, stream ``frames`` at ``FPS`` with a live observer
    alongside, then end the session."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/readyz").json()["store"] == store
        r = http.post(
            "/api/sessions", json={"user_id": "desk", "label": "e2e", "screen_w_px": 1280, "screen_h_px": 720}
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]

        async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            observed: list[dict[str, Any]] = []
            ready = asyncio.Event()
            obs = asyncio.create_task(observe(f"{server.ws_url}/ws/sessions/{sid}/live", observed, ready))
            await asyncio.wait_for(ready.wait(), 10)
            result = await stream(f"{server.ws_url}/ws/sessions/{sid}/track", frames, FPS)
            # ending closes the observer after the session_ended event
            await asyncio.to_thread(
                lambda: result.setdefault("report", http.post(f"/api/sessions/{sid}/end").json())
            )
            await asyncio.wait_for(obs, 15)
            return result, observed

        result, observed = asyncio.run(run())
    return Streamed(server, store, env, sid, result, observed)


@pytest.fixture(scope="module")
def streamed(
    request: pytest.FixtureRequest, module_serve: Callable[..., Server], desk_jpegs: list[bytes]
) -> Iterator[Callable[[str], Streamed]]:
    """``streamed(variant)``: that variant's :class:`Streamed`. The variants selected in this run start
    their servers one by one, then stream at the same time (each in a thread with its own event loop); a
    failure or skip of one variant is raised in that variant's test only."""
    selected = [
        v
        for v in VARIANTS
        if any(
            item.module is request.module
            and getattr(item, "callspec", None)
            and item.callspec.params.get("store") == v
            for item in request.session.items
        )
    ]
    errors: dict[str, BaseException] = {}
    servers: dict[str, tuple[str, dict[str, str], Server]] = {}
    for v in selected:  # one after the other: parallel cold starts crowd a 2-core machine
        try:
            store, env = variant_env(v, request)
            servers[v] = (store, env, module_serve(**env))
        except BaseException as e:  # e.g. redis-server not installed: that variant skips
            errors[v] = e
    with ThreadPoolExecutor(max(1, len(servers)), thread_name_prefix="stream-e2e") as pool:
        runs = {
            v: pool.submit(stream_session, srv, store, env, desk_jpegs)
            for v, (store, env, srv) in servers.items()
        }

        def get(variant: str) -> Streamed:
            if variant in errors:
                raise errors[variant]
            return runs[variant].result()

        yield get


@pytest.mark.parametrize("store", VARIANTS)
def test_stream_desk_video_end_report_delete(store, streamed, desk_jpegs):
    run = streamed(store)
    server, store, env, sid = run.server, run.store, run.env, run.sid
    result, observed = run.result, run.observed
    http = httpx.Client(base_url=server.url, timeout=30)
    samples = result["samples"]
    assert result["hello"]["type"] == "session" and result["hello"]["resumed"] is False
    assert result["others"] == [], result["others"][:3]
    sent = len(desk_jpegs)
    processed = len(samples)
    dropped = samples[-1]["dropped_frames"]
    assert processed + dropped == sent
    assert processed > sent // 2
    assert [s["frame_index"] for s in samples] == sorted({s["frame_index"] for s in samples})
    ts = [s["t_ms"] for s in samples]
    assert all(b > a for a, b in itertools.pairwise(ts))
    assert sum(s["face_detected"] for s in samples) > 0.9 * processed

    # the live observer saw the session, samples and its end
    assert observed[0]["type"] == "session"
    live_samples = [m for m in observed if m["type"] == "sample"]
    assert len(live_samples) > processed // 2
    assert any(m.get("event") == "session_ended" for m in observed)

    report = result["report"]
    assert report["frames"] == processed
    assert report["dropped_frames"] == dropped
    assert report["blink_count"] >= 1 and len(report["blinks"]) >= 1
    assert 0.0 <= report["eye_contact_pct"] <= 100.0
    timeline = report["attention_timeline"]
    assert len(timeline) >= 10 and timeline[-1]["t_s"] >= 45.0  # ~56 s of stream
    assert {"t_s", "attention_score", "attention_state"} <= set(timeline[0])
    assert (
        http.post(f"/api/sessions/{sid}/end").json()["generated_at"] == report["generated_at"]
    )  # idempotent
    assert http.get(f"/api/sessions/{sid}/report").json()["frames"] == processed

    info = http.get(f"/api/sessions/{sid}").json()
    assert (
        info["status"] == "ended" and info["sample_count"] == processed and info["dropped_frames"] == dropped
    )
    page = http.get(f"/api/sessions/{sid}/samples").json()
    assert page["total"] == processed and len(page["samples"]) == processed
    assert [s["frame_index"] for s in page["samples"]] == [s["frame_index"] for s in samples]
    csv_text = http.get(f"/api/sessions/{sid}/samples.csv").text
    assert len(csv_text.strip().splitlines()) == processed + 1
    assert http.get(f"/api/sessions/{sid}/samples", params={"format": "csv"}).text == csv_text
    assert sid in [s["id"] for s in http.get("/api/sessions", params={"user_id": "desk"}).json()]

    metrics = http.get("/metrics").text
    assert f'gazescope_frames_processed_total{{route="track"}} {float(processed)}' in metrics

    assert http.delete(f"/api/sessions/{sid}").status_code == 204
    for path in ("", "/report", "/samples", "/samples.csv"):
        assert http.get(f"/api/sessions/{sid}{path}").status_code == 404, path
    assert http.post(f"/api/sessions/{sid}/end").status_code == 404
    assert sid not in [s["id"] for s in http.get("/api/sessions").json()]
    if store == "sqlite":
        assert traces_in_sqlite(server.db_path, sid) == 0
    else:
        assert traces_in_redis(env["GAZESCOPE_REDIS_URL"], sid) == 0
    log = server.log()
    assert "base64" not in log and "/9j/" not in log  # no frame data in the logs
    http.close()
