"""A bounded fuzz test of the tracking WebSocket routes on a real ``gazescope serve`` (issue 9).

About 4,000 mutated real frames (JPEGs of the desk video with flipped bits, cut tails, spliced or forged
headers; PNGs with forged sizes and bit depths) and 1,500 malformed messages (broken JSON, wrong types,
huge integers, NaN, null, deep nesting, unknown types, calibration messages with random fields) go to the
four tracking routes (``/ws/sessions/{id}/track``, seed 000's ``/ws/session/{id}/track``, seed 001's
``/ws/gaze``, seed 002's ``/ws``), one at a time, while a second client streams real frames. Checked:
every message is answered (a sample, an error, a pong or a calibration reply: valid JSON), no connection
is dropped, the second client is served throughout, and the server is alive and ready afterwards. A fixed
seed makes the run reproducible; it takes well under a minute here."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import struct
import threading
import time
import zlib
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import websockets

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = 9
N_FRAMES = 4000
N_MESSAGES = 1500
TIME_LIMIT_S = 120.0


def mutate_jpeg(rng: random.Random, jpeg: bytes) -> bytes:
    b = bytearray(jpeg)
    kind = rng.randrange(7)
    if kind == 0:  # flipped bits anywhere
        for _ in range(rng.randint(1, 40)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # flipped bits in the header (SOF, DQT, DHT live there)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(2, min(len(b), 700))] = rng.randrange(256)
    elif kind == 2:  # cut
        b = b[: rng.randrange(2, len(b))]
    elif kind == 3:  # forged size in the SOF0 marker
        i = bytes(b).find(b"\xff\xc0")
        if i > 0:
            b[i + 5 : i + 9] = struct.pack(
                ">HH", rng.choice([0, 1, 65535, 8000]), rng.choice([0, 1, 65535, 8000])
            )
    elif kind == 4:  # a chunk of random bytes spliced in
        at = rng.randrange(len(b))
        b[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))
    elif kind == 5:  # a truncated JPEG closed with a forged EOI
        b = b[: rng.randrange(2, len(b))] + b"\xff\xd9"
    else:  # untouched: a real frame among the mutants
        pass
    return bytes(b)


def png_with(width: int, height: int, depth: int, colour: int, data: bytes) -> bytes:
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(data))
        + chunk(b"IEND", b"")
    )


def mutate_png(rng: random.Random) -> bytes:
    w, h = rng.choice([(1, 1), (64, 48), (4096, 4096), (100000, 1), (0, 5), (1920, 1080), (2**31, 2)])
    depth = rng.choice([1, 8, 8, 16, 3])
    colour = rng.choice([0, 2, 3, 6, 7])
    data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    return png_with(w, h, depth, colour, data)


def raw_obj(**fields: str) -> str:
    """A JSON object whose values are given as raw JSON text (so NaN, 10**400 and the like stay as sent)."""
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


def bad_message(rng: random.Random) -> str:
    big = "1" + "0" * rng.choice([20, 400, 4000])
    numbers = [
        big,
        "-" + big,
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "null",
        "true",
        '"7"',
        "[]",
        "{}",
        "3.5",
    ]

    def n() -> str:
        return rng.choice(numbers)

    def params() -> str:
        return rng.choice(
            ["{}", "null", '{"alphas": [0, -1]}', raw_obj(epochs=n()), raw_obj(time_budget_s=n())]
        )

    kinds = [
        lambda: raw_obj(
            type='"frame"', data=rng.choice(['""', '"AAAA"', '"data:image/gif;base64,R0lG"']), t_ms=n()
        ),
        lambda: raw_obj(type='"ping"', t_ms=n()),
        lambda: raw_obj(type=n()),
        lambda: raw_obj(
            type='"calibration_start"',
            layout=rng.choice(['"9"', '"pursuit"', "null", "16", '"x"']),
            screen_w_px=n(),
            screen_h_px=n(),
            mapper=rng.choice(['"cnn"', '"ridge"', "null", '"x"']),
            mapper_params=params(),
        ),
        lambda: raw_obj(type='"drift_start"', x_px=n(), y_px=n(), settle_ms=n()),
        lambda: raw_obj(type='"drift_finish"', x=n()),
        lambda: raw_obj(type='"calibration_use"', profile_id=n(), user_id=n()),
        lambda: raw_obj(type='"calibration_cancel"', calibration_id=n()),
        lambda: "[" * rng.choice([10, 1000, 100_000]),
        lambda: rng.choice(["", " ", "nul", "{", '{"type": "frame"', "\x00\x01", "🙂", "[1, 2]", "42"]),
        lambda: json.dumps({"type": rng.choice(["dance", "", "FRAME", "x" * 500]), "n": rng.random()}),
        lambda: json.dumps({"type": "frame", "data": base64.b64encode(rng.randbytes(64)).decode()}),
        lambda: raw_obj(type='"ping"', t_ms="1", pad="[" + ",".join(["0"] * rng.choice([10, 20_000])) + "]"),
    ]
    return rng.choice(kinds)()


def _no_constants(c: str) -> Any:
    raise ValueError(f"{c} in a reply: not valid JSON")


def is_reply(msg: dict[str, Any]) -> bool:
    if msg.get("type") in ("sample", "error", "pong", "calibration_started", "calibration_cancelled",
                           "calibration_applied", "drift_started", "drift_result", "calibration_result"):  # fmt: skip
        return True
    if msg.get("type") == "gaze_data" and "frame_processed" in msg.get(
        "data", {}
    ):  # seed 001 (a sample or an error)
        return True
    return "t" in msg and "earLeft" in msg  # seed 002's metrics


class Bystander:
    def __init__(self, url: str, jpegs: list[bytes]) -> None:
        self.url, self.jpegs = url, jpegs
        self.lat: list[float] = []
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()

    async def _run(self) -> None:
        try:
            async with websockets.connect(self.url, local_addr=("127.0.0.2", 0)) as ws:
                await ws.recv()
                i = 0
                while not self.stop.is_set():
                    t0 = time.perf_counter()
                    await ws.send(self.jpegs[i % len(self.jpegs)])
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    if msg["type"] != "sample":
                        self.errors.append(str(msg)[:200])
                    self.lat.append(time.perf_counter() - t0)
                    i += 1
                    await asyncio.sleep(0.1)
        except Exception as exc:
            self.errors.append(repr(exc))


@pytest.mark.cnn
def test_fuzzed_frames_and_messages_are_all_answered_while_a_bystander_streams(serve, desk_jpegs) -> None:
    srv = serve()
    rng = random.Random(SEED)
    by_sid = httpx.post(f"{srv.url}/api/sessions", json={"label": "bystander"}).json()["id"]
    bystander = Bystander(f"{srv.ws_url}/ws/sessions/{by_sid}/track", desk_jpegs[:200])
    sids = [httpx.post(f"{srv.url}/api/sessions").json()["id"] for _ in range(2)]
    routes = [f"/ws/sessions/{sids[0]}/track", f"/ws/session/{sids[1]}/track", "/ws/gaze", "/ws"]
    real = desk_jpegs[::4]
    items: list[str | bytes] = []
    for _ in range(N_FRAMES):
        r = rng.random()
        if r < 0.75:
            items.append(mutate_jpeg(rng, rng.choice(real)))
        elif r < 0.9:
            items.append(mutate_png(rng))
        else:  # as base64 text in a frame message
            data = base64.b64encode(mutate_jpeg(rng, rng.choice(real))).decode()
            items.append(json.dumps({"type": "frame", "data": data, "t_ms": rng.random() * 1e6}))
    items += [bad_message(rng) for _ in range(N_MESSAGES)]
    rng.shuffle(items)
    per_route = [items[i :: len(routes)] for i in range(len(routes))]
    t_start = time.monotonic()

    async def drive(route: str, mine: list[str | bytes]) -> dict[str, Any]:
        unanswered, answered, kinds = [], 0, {}
        async with websockets.connect(f"{srv.ws_url}{route}", max_size=None) as ws:
            if route.startswith("/ws/session"):
                assert json.loads(await ws.recv())["type"] == "session"
            for item in mine:
                await ws.send(item)
                try:
                    raw = await asyncio.wait_for(ws.recv(), 30)
                except websockets.ConnectionClosed as exc:
                    raise AssertionError(
                        f"{route}: connection dropped ({exc!r}) after {str(item)[:200]!r}\n{srv.log()[-4000:]}"
                    ) from None
                msg = json.loads(raw, parse_constant=_no_constants)
                if not is_reply(msg):
                    unanswered.append((str(item)[:120], raw[:200]))
                    continue
                answered += 1
                inner = msg.get("data") if isinstance(msg.get("data"), dict) else {}
                key = msg.get("code") or inner.get("error") or msg.get("type") or "metrics"
                kinds[key] = kinds.get(key, 0) + 1
                assert time.monotonic() - t_start < TIME_LIMIT_S, "fuzz run over its time limit"
        return {"route": route, "answered": answered, "unanswered": unanswered, "kinds": kinds}

    async def run() -> list[dict[str, Any]]:
        return await asyncio.gather(*(drive(r, m) for r, m in zip(routes, per_route, strict=True)))

    try:
        results = asyncio.run(run())
    finally:
        bystander.stop.set()
        bystander.thread.join(60)
    took = time.monotonic() - t_start
    for res in results:
        print(f"fuzz {res['route']}: {res['answered']} answered {res['kinds']}")
    print(
        f"fuzz: {len(items)} messages in {took:.0f} s; bystander p50 {np.median(bystander.lat) * 1000:.0f} ms"
    )
    assert all(not r["unanswered"] for r in results), [r["unanswered"][:3] for r in results]
    assert sum(r["answered"] for r in results) == len(items)
    assert sum(r["kinds"].get("sample", 0) for r in results) > 100  # real frames among them were tracked
    assert bystander.errors == []
    assert len(bystander.lat) > 5 * took * 0.5 and float(np.max(bystander.lat)) < 5.0
    assert httpx.get(f"{srv.url}/readyz").status_code == 200 and srv.alive()
    assert "Traceback" not in srv.log(), srv.log()[-3000:]


def test_mutators_make_what_they_say() -> None:
    rng = random.Random(1)
    jpeg = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].tobytes()
    assert {mutate_jpeg(rng, jpeg)[:2] for _ in range(50)} >= {b"\xff\xd8"}
    png = png_with(2, 1, 16, 2, b"\x00" * 13)
    from gazescope.vision.frames import png_bit_depth

    assert png_bit_depth(png) == 16
