"""Issue 20, defect 4: reading a big session is bounded. A session of 200,000 synthetic samples is written
through the store API (no frames streamed), then read over a real ``gazescope serve``: ``/samples`` is
paged, the CSV export streams in chunks with every row, ``/healthz`` answers while it streams, reports are
refused with 503 ``analytics_busy`` past the analytics pool's queue, and the per-session sample cap stops
storing while tracking goes on replying."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
import websockets

from gazescope.domain import SessionInfo
from gazescope.storage.sqlite import SQLiteStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIG = 200_000


def fill(db_path: Path, n: int, *, frame_index: bool = True, batch: int = 10_000) -> str:
    """A new session in the SQLite store at ``db_path`` holding ``n`` synthetic samples; its id."""
    store = SQLiteStore(db_path)
    try:
        info = store.create_session(
            SessionInfo(
                id=uuid.uuid4().hex, created_at_ms=time.time() * 1000, screen_w_px=1920, screen_h_px=1080
            )
        )
        for b in range(0, n, batch):
            rows = []
            for i in range(b, min(n, b + batch)):
                s = {
                    "t_ms": i * 33.3,
                    "face_detected": True,
                    "screen_x_px": 900.0 + i % 97,
                    "screen_y_px": 500.0,
                }
                if frame_index:
                    s["frame_index"] = i
                rows.append(s)
            store.append_samples(info.id, rows)
        return info.id
    finally:
        store.close()


@pytest.fixture(scope="module")
def big(module_serve, tmp_path_factory):
    db = tmp_path_factory.mktemp("big") / "big.db"
    sid = fill(db, BIG)
    return module_serve(db_path=db, GAZESCOPE_ANALYTICS_MAX_QUEUED="0"), sid


def test_samples_are_paged_by_default(big) -> None:
    server, sid = big
    r = httpx.get(f"{server.url}/api/sessions/{sid}/samples", timeout=60)
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["samples"]) == 10_000 and page["total"] == BIG and page["next"] == 10_000
    assert r.headers["x-total-count"] == str(BIG) and 'rel="next"' in r.headers["link"]
    last = httpx.get(f"{server.url}/api/sessions/{sid}/samples", params={"start": BIG - 5}, timeout=60).json()
    assert [s["frame_index"] for s in last["samples"]] == list(range(BIG - 5, BIG)) and last["next"] is None
    r = httpx.get(f"{server.url}/api/sessions/{sid}/samples", params={"limit": 50_001}, timeout=60)
    assert r.status_code == 422 and "GAZESCOPE_SAMPLES_PAGE_MAX" in r.text


def test_csv_streams_in_chunks_with_every_row_and_healthz_answers_meanwhile(big) -> None:
    server, sid = big
    chunks = 0
    data = bytearray()
    health = None
    with (
        httpx.Client(timeout=120) as http,
        http.stream("GET", f"{server.url}/api/sessions/{sid}/samples.csv") as r,
    ):
        assert r.status_code == 200
        assert "content-length" not in r.headers and r.headers.get("transfer-encoding") == "chunked"
        for piece in r.iter_raw():
            chunks += 1
            data += piece
            if health is None and len(data) > 0:  # mid-stream
                health = httpx.get(f"{server.url}/healthz", timeout=60).status_code
    assert health == 200
    lines = data.decode().splitlines()
    assert lines[0].startswith("frame_index") or "t_ms" in lines[0]
    assert len(lines) == BIG + 1
    assert chunks > 10  # 40 store reads of 5,000 samples: not one body
    fmt = httpx.get(
        f"{server.url}/api/sessions/{sid}/samples", params={"format": "csv", "limit": 7}, timeout=60
    )
    assert len(fmt.text.splitlines()) == 8


def test_reports_run_in_the_bounded_pool_and_refuse_past_its_queue(big) -> None:
    server, sid = big

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=300) as http:
            return await asyncio.gather(*(http.get(f"/api/sessions/{sid}/report") for _ in range(3)))

    answers = asyncio.run(run())
    codes = sorted(r.status_code for r in answers)
    assert codes[0] == 200, [r.text[:200] for r in answers]
    busy = [r for r in answers if r.status_code == 503]
    assert busy and all(r.json()["code"] == "analytics_busy" for r in busy), [r.text[:200] for r in answers]
    assert httpx.get(f"{server.url}/healthz", timeout=60).status_code == 200


def test_sample_cap_stops_storing_while_tracking_replies(serve, tmp_path, desk_jpegs) -> None:
    db = tmp_path / "cap.db"
    sid = fill(db, 95, frame_index=False)
    server = serve(db_path=db, GAZESCOPE_MAX_SAMPLES_PER_SESSION="100")

    async def track() -> int:
        replies = 0
        async with websockets.connect(f"{server.ws_url}/ws/sessions/{sid}/track", max_size=None) as ws:
            assert json.loads(await ws.recv())["type"] == "session"
            for i, jpeg in enumerate(desk_jpegs[:12]):
                await ws.send(
                    json.dumps({"type": "frame", "data": base64.b64encode(jpeg).decode(), "t_ms": i})
                )
                while json.loads(await asyncio.wait_for(ws.recv(), 60))["type"] != "sample":
                    pass
                replies += 1
        return replies

    assert asyncio.run(track()) == 12
    for _ in range(100):  # until the closed connection has let go of the session
        r = httpx.post(
            f"{server.url}/api/sessions/{sid}/gaze", json={"points": [{"t_ms": 10**7, "x_px": 1, "y_px": 1}]}
        )
        if "tracked" not in r.text:
            break
        time.sleep(0.1)
    assert r.status_code == 409 and "samples_capped" in r.text, r.text
    info = httpx.post(f"{server.url}/api/sessions/{sid}/end", timeout=120)
    assert info.status_code == 200, info.text
    assert httpx.get(f"{server.url}/api/sessions/{sid}").json()["sample_count"] == 100
    assert "samples_capped" in server.log()
    metrics = httpx.get(f"{server.url}/metrics").text
    # 95 + 12 frames - 100 = 7 frames' samples, and the refused gaze point
    assert 'gazescope_refused_total{reason="samples_capped"} 8.0' in metrics
