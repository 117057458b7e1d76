"""The seed clients' attention fields follow the person (issue 18): the desk video's frames 150-300,
replayed through seeds 000, 001 and 002 at 10 FPS, one frame at a time so that reply ``i`` is frame ``i``,
against the hand labels of ``shared/data/attention`` (frames 246-267: eyes turned hard to the subject's
left; 168-180: wide eyes into the lens). Run with ``-s`` to see the replies beside the labels."""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import time
from typing import Any

import httpx
import pytest
import websockets

pytestmark = pytest.mark.integration

FRAMES = range(150, 301, 3)  # the labelled frames (every 3rd) of a span with a look away in it
AWAY = range(246, 268)
CAMERA = range(168, 181)


@pytest.fixture(scope="module")
def span(data_dir, desk_jpegs) -> tuple[list[str], dict[int, str]]:
    labels = {}
    with (data_dir / "attention" / "labels.csv").open() as fh:
        for row in csv.DictReader(fh):
            if row["source"] == "videos/desk_webcam_640x480.avi":
                labels[int(row["frame_index"])] = row["gaze"]
    urls = ["data:image/jpeg;base64," + base64.b64encode(desk_jpegs[i]).decode() for i in FRAMES]
    return urls, labels


async def _lockstep(ws: Any, messages: list[str], is_reply: Any) -> list[dict[str, Any]]:
    """Send each message, wait for its reply (skipping anything else), keep 10 FPS."""
    out = []
    t_next = time.monotonic()
    for m in messages:
        await ws.send(m)
        while True:
            reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if is_reply(reply):
                out.append(reply)
                break
        t_next += 0.1
        await asyncio.sleep(max(0.0, t_next - time.monotonic()))
    return out


def test_seed_attention_fields_on_a_look_away(module_serve, span):
    server = module_serve()
    urls, labels = span
    with httpx.Client(base_url=server.url, timeout=30) as c:
        sid = c.post("/session/start", json={"session_duration": 30, "user_id": "span"}).json()["session_id"]

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        async with websockets.connect(f"{server.ws_url}/ws/session/{sid}/track") as ws:
            s0 = await _lockstep(
                ws,
                [json.dumps({"image": u, "timestamp": int(time.time() * 1000)}) for u in urls],
                lambda r: "activity" in r,
            )
        async with websockets.connect(f"{server.ws_url}/ws/gaze") as ws:
            s1 = await _lockstep(
                ws,
                [json.dumps({"type": "frame", "data": u}) for u in urls],
                lambda r: r.get("type") == "gaze_data",
            )
        async with websockets.connect(f"{server.ws_url}/ws") as ws:
            await ws.send(json.dumps({"type": "init", "clientInfo": {"userAgent": "pytest", "fps": 10}}))
            s2 = await _lockstep(
                ws,
                [
                    json.dumps({"type": "frame", "data": u, "timestamp": int(time.time() * 1000)})
                    for u in urls
                ],
                lambda r: "eyeContact" in r,
            )
        return s0, s1, s2

    s0, s1, s2 = asyncio.run(run())
    assert len(s0) == len(s1) == len(s2) == len(FRAMES)
    print(
        f"\n{'frame':>5} {'label':<8} {'seed000 activity':<17} {'seed001 c/l/r score':<20} seed002 eyeContact"
    )
    rows = []
    for k, i in enumerate(FRAMES):
        d1 = s1[k]["data"]
        rows.append((i, labels.get(i, "-"), s0[k]["activity"], d1, s2[k]["eyeContact"]))
        flags = "".join("X" if d1[f] else "." for f in ("is_center", "is_left", "is_right"))
        print(
            f"{i:>5} {labels.get(i, '-'):<8} {s0[k]['activity']:<17} {flags} "
            f"{d1['attention_score']:<16.2f} {s2[k]['eyeContact']}"
        )
    away = [r for r in rows if r[0] in AWAY and r[1] == "away"]
    camera = [r for r in rows if r[0] in CAMERA and r[1] == "camera"]
    assert len(away) >= 6 and len(camera) >= 4
    # seed 000: the activity is the attention state while not focused
    assert sum(r[2] == "looking_away" for r in away) >= len(away) - 1
    assert sum(r[2] != "looking_away" for r in camera) >= len(camera) - 1
    # seed 001: the attention score is below one half while looking away; the eyes are not 'center'
    assert sum(r[3]["attention_score"] < 0.5 for r in away) >= len(away) - 1
    assert sum(r[3]["attention_score"] >= 0.5 for r in camera) >= len(camera) - 1
    assert sum(not r[3]["is_center"] for r in away) >= len(away) - 1
    # seed 002: no eye contact while looking away, eye contact into the lens
    assert sum(not r[4] for r in away) >= len(away) - 1
    assert sum(r[4] for r in camera) >= len(camera) - 1
