"""Helpers of the study tests (issue 23): bearer headers, a plain PNG stimulus, joining a study through its
link, a participant's headers, streaming JPEG frames on a tracking WebSocket and reading a refused one's
status."""

from __future__ import annotations

import asyncio
import base64
import json

import cv2
import httpx
import numpy as np
import pytest
import websockets
from websockets.exceptions import InvalidStatus


def bearer(token: str) -> dict[str, str]:
    """``Authorization: Bearer <token>``."""
    return {"Authorization": f"Bearer {token}"}


def png(w: int = 320, h: int = 180, shade: int = 200) -> bytes:
    """A plain grey PNG of ``w`` x ``h`` px."""
    ok, buf = cv2.imencode(".png", np.full((h, w, 3), shade, np.uint8))
    assert ok
    return buf.tobytes()


def join(url: str, token: str, group: str = "A") -> dict:
    """Join the study of link ``token`` on server ``url`` answering ``group``; the 201 body."""
    r = httpx.post(
        f"{url}/api/participate/participants", headers=bearer(token), json={"answers": {"group": group}}
    )
    assert r.status_code == 201, r.text
    return r.json()


def as_participant(token: str, secret: str) -> dict[str, str]:
    """Headers of a participant: the link token and their secret."""
    return {**bearer(token), "X-Participant-Secret": secret}


def ws_status(url: str) -> int:
    """The HTTP status of a WebSocket refused before its handshake (fails the test when accepted)."""

    async def run() -> None:
        async with websockets.connect(url) as ws:
            await ws.recv()

    with pytest.raises(InvalidStatus) as exc:
        asyncio.run(run())
    return exc.value.response.status_code


async def track(url: str, jpegs: list[bytes]) -> int:
    """Send ``jpegs`` as JSON frames (30 FPS timestamps) on tracking WebSocket ``url``, one in flight;
    returns the samples received."""
    async with websockets.connect(url, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "session"
        n = 0
        for i, jpeg in enumerate(jpegs):
            await ws.send(
                json.dumps({"type": "frame", "data": base64.b64encode(jpeg).decode(), "t_ms": i * 33})
            )
            while json.loads(await asyncio.wait_for(ws.recv(), 60))["type"] != "sample":
                pass
            n += 1
        return n
