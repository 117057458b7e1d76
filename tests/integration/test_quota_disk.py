"""The free-disk watermark on a real ``gazescope serve`` (issue 20, defect 3): below it REST writes are
refused with 503 ``storage_full`` while an open tracking WebSocket still gets its sample replies."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets
from tests.support.servers import Server

from gazescope.domain import SessionInfo
from gazescope.storage.sqlite import SQLiteStore

pytestmark = pytest.mark.integration


async def track(server: Server, session_id: str, jpegs: list[bytes]) -> list[dict]:
    samples = []
    async with websockets.connect(f"{server.ws_url}/ws/sessions/{session_id}/track") as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "session"
        for i, jpeg in enumerate(jpegs):
            frame = {"type": "frame", "data": base64.b64encode(jpeg).decode(), "t_ms": float(i)}
            await ws.send(json.dumps(frame))
            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert msg["type"] == "sample", msg
            samples.append(msg)
    return samples


def test_writes_refused_below_watermark_while_tracking_goes_on(
    serve: Callable[..., Server], tmp_path: Path, desk_jpegs: list[bytes]
) -> None:
    db = tmp_path / "full.db"
    store = SQLiteStore(db)
    store.create_session(SessionInfo(id="before-full", created_at_ms=time.time() * 1000.0))
    store.close()
    server = serve(db_path=db, GAZESCOPE_MIN_FREE_DISK_BYTES=str(1 << 60))
    r = httpx.post(f"{server.url}/api/sessions", json={})
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "storage_full"
    samples = asyncio.run(track(server, "before-full", desk_jpegs[:5]))
    assert len(samples) == 5
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert "storage_full" in server.log()
