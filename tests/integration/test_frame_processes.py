"""A real ``gazescope serve`` with frame worker processes (GAZESCOPE_FRAME_PROCESSES=2): the promises of a
tracking connection hold when frames are measured in other processes (takeover, reconnect continuation,
stored == processed), a frame worker killed mid-stream costs a frame, not the session, and a server
killed with SIGKILL leaves no worker behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _frame_workers(server_pid: int) -> list[int]:
    """The spawned frame workers (not multiprocessing's resource tracker)."""
    return [p for p in _children(server_pid) if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]


async def _send(ws: Any, frames: list[bytes]) -> list[dict[str, Any]]:
    """Send binary frames one at a time, each after the previous reply; the replies."""
    out = []
    for jpeg in frames:
        await ws.send(jpeg)
        out.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    return out


def test_takeover_continuation_and_a_killed_worker_on_frame_processes(serve, desk_jpegs):
    server = serve(GAZESCOPE_FRAME_PROCESSES="2")
    workers = _frame_workers(server.proc.pid)
    assert len(workers) == 2
    http = httpx.Client(base_url=server.url, timeout=30)
    sid = http.post("/api/sessions", json={"user_id": "procs"}).json()["id"]
    url = f"{server.ws_url}/ws/sessions/{sid}/track"

    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        first = await websockets.connect(url, max_size=None)
        out["hello1"] = json.loads(await first.recv())
        out["first"] = await _send(first, desk_jpegs[:5])
        # a second connection takes over: the first is flushed and closed 4000
        second = await websockets.connect(url, max_size=None)
        out["hello2"] = json.loads(await second.recv())
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(first.recv(), 10)
        out["closed1"] = closed.value.rcvd.code if closed.value.rcvd else None
        out["second"] = await _send(second, desk_jpegs[5:10])
        # kill every frame worker: a frame may fail, the connection goes on with new workers
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        out["after_kill"] = await _send(second, desk_jpegs[10:16])
        await second.close()
        # reconnect: the session continues where it stopped
        third = await websockets.connect(url, max_size=None)
        out["hello3"] = json.loads(await third.recv())
        out["third"] = await _send(third, desk_jpegs[16:20])
        await third.close()
        return out

    out = asyncio.run(run())
    assert out["hello1"]["resumed"] is False
    assert [m["type"] for m in out["first"]] == ["sample"] * 5
    assert out["closed1"] == 4000
    assert out["hello2"]["resumed"] is True and out["hello2"]["next_frame_index"] == 5
    assert [m["frame_index"] for m in out["second"]] == [5, 6, 7, 8, 9]
    after = out["after_kill"]
    errors = [m for m in after if m["type"] == "error"]
    assert {e["code"] for e in errors} <= {"frame_worker_failed"} and len(errors) <= 2
    good = [m for m in after if m["type"] == "sample"]
    assert len(good) >= 4 and good[-1]["face_detected"]  # new workers track the face again
    assert out["hello3"]["resumed"] is True
    assert [m["type"] for m in out["third"]] == ["sample"] * 4
    new_workers = _frame_workers(server.proc.pid)
    assert new_workers and not set(new_workers) & set(workers)  # a broken worker is replaced when next used

    # every sample answered is stored once, in frame order
    deadline = time.monotonic() + 10
    answered = [m["frame_index"] for k in ("first", "second", "after_kill", "third") for m in out[k]
                if m["type"] == "sample"]  # fmt: skip
    while time.monotonic() < deadline:
        stored = [s["frame_index"] for s in http.get(f"/api/sessions/{sid}/samples").json()["samples"]]
        if len(stored) >= len(answered):
            break
        time.sleep(0.2)
    assert stored == answered

    # a server killed with SIGKILL takes its frame workers with it
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in new_workers):
        time.sleep(0.2)
    assert not [p for p in new_workers if Path(f"/proc/{p}/cmdline").exists()
                and Path(f"/proc/{p}/cmdline").read_bytes()]  # fmt: skip
