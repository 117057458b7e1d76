"""Reproduce the attacks of issue 9 (bounds) on a real ``gazescope serve`` and print the figure of each.

Every subcommand starts a server subprocess on a free loopback port (SQLite in a temporary folder; the
sources of ``--src``, default this checkout, so ``--src ../main/src`` measures another tree: the "figure
before"), sends only to 127.0.0.0/8, and stops by itself::

    python benchmarks/limits.py body          # defect 2: 50 MiB JSON body; /healthz latency meanwhile
    python benchmarks/limits.py connections   # defect 3: RSS per stream, caps, 600 idle sockets, pings
    python benchmarks/limits.py png           # defect 7: PNG senders vs a bystander's round trip
    python benchmarks/limits.py fits          # defect 1: two cnn fits asking 40 s, then the clients leave
    python benchmarks/limits.py numbers       # defect 8: huge integers, NaN, null, huge offset
    python benchmarks/limits.py csrf          # defect 9: a foreign page's form POSTs
    python benchmarks/limits.py logs          # defect 10: uvicorn access log with the token filter
    python benchmarks/limits.py bigsession --compare ../main/src   # issue 20 defect 4: reading a big session
    python benchmarks/limits.py halfopen --compare ../before/src   # issue 20 defect 1: half-open requests
    python benchmarks/limits.py halfopen --cap                     # ... past GAZESCOPE_MAX_OPEN_CONNECTIONS
    python benchmarks/limits.py silentws     # issue 20 defect 2: silent WebSockets, forged X-Forwarded-For
    python benchmarks/limits.py flood        # issue 20 defect 3: creates and writes without a token
    python benchmarks/limits.py videoupload  # issue 20 defect 5: a 19 MiB MP4 stimulus
    python benchmarks/limits.py ids          # issue 20 defect 6: a profile's user_id and profile_id
    python benchmarks/limits.py all

The data folder is ``../shared/data`` (or ``GAZESCOPE_DATA_DIR``): the desk video for real frames and
webcam_dots for the calibration of ``fits``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import websockets
from ws_load import LocalServer  # benchmarks/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GAZESCOPE_DATA_DIR", ROOT.parent / "shared" / "data"))


class Server(LocalServer):
    """``gazescope serve`` (or ``python argv``) in a subprocess, serving the sources ``src``."""

    def __init__(self, src: Path, env_extra: dict[str, str] | None = None, argv: list[str] | None = None):
        super().__init__(env_extra or {}, src, argv)
        self.ws = f"ws://127.0.0.1:{self.port}"

    def threads(self) -> int:
        """Threads of the server's process tree (frame worker processes included)."""
        n = 0
        for pid in self._tree():
            with contextlib.suppress(OSError):
                n += len(os.listdir(f"/proc/{pid}/task"))
        return n

    def text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")


def desk_jpegs(n: int = 300) -> list[bytes]:
    cap = cv2.VideoCapture(str(DATA / "videos" / "desk_webcam_640x480.avi"))
    out = []
    while len(out) < n:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 70])[1].tobytes())
    cap.release()
    if not out:
        sys.exit(f"no frames read from {DATA / 'videos'} (set GAZESCOPE_DATA_DIR)")
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Poller:
    """GETs ``path`` every ``every_s`` in a thread; records the latency of each answer (s)."""

    def __init__(self, url: str, every_s: float = 0.05) -> None:
        self.url, self.every_s, self.lat, self.failed = url, every_s, [], 0
        self.stop = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        with httpx.Client(timeout=60) as c:
            while not self.stop.is_set():
                t0 = time.perf_counter()
                try:
                    c.get(self.url)
                    self.lat.append(time.perf_counter() - t0)
                except httpx.HTTPError:
                    self.failed += 1
                time.sleep(self.every_s)

    def finish(self) -> tuple[float, float]:
        self.stop.set()
        self.t.join(70)
        return max(self.lat, default=float("nan")), pct(self.lat, 50)


# --- defect 2 ----------------------------------------------------------------------------------------


def raw_post(
    port: int, path: str, body_iter, *, chunked: bool, length: int | None = None
) -> tuple[str, float]:
    """POST over a raw socket, stopping early when the server answers; (status line, seconds)."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(120)
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {length}\r\n"
    t0 = time.perf_counter()
    s.sendall((head + "\r\n").encode())
    try:
        for chunk in body_iter:
            s.sendall((f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") if chunked else chunk)
            s.setblocking(False)
            try:
                if s.recv(1, socket.MSG_PEEK):
                    break
            except BlockingIOError:
                pass
            finally:
                s.setblocking(True)
        else:
            if chunked:
                s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    try:
        data = s.recv(4096)
    except OSError:
        data = b""
    s.close()
    return data.split(b"\r\n", 1)[0].decode(
        errors="replace"
    ) or "(connection closed)", time.perf_counter() - t0


def bench_body(src: Path, mib: int) -> None:
    srv = Server(src)
    try:
        sid = httpx.post(f"{srv.url}/api/sessions", json={"screen_w_px": 1000, "screen_h_px": 800}).json()[
            "id"
        ]
        point = b'{"t_ms": 1000.0, "x_px": 500.5, "y_px": 400.5},'
        n = mib * 1024 * 1024 // len(point)
        body = b'{"points": [' + point * (n - 1) + point[:-1] + b"]}"

        def chunks(size: int = 256 * 1024):
            for i in range(0, len(body), size):
                yield body[i : i + size]

        for mode in ("content-length", "chunked"):
            rss0 = srv.rss_mb()
            poll = Poller(f"{srv.url}/healthz")
            status, secs = raw_post(
                srv.port, f"/api/sessions/{sid}/gaze", chunks(), chunked=mode == "chunked", length=len(body)
            )
            time.sleep(max(0.0, 1.0 - secs))  # /healthz is polled for at least a second
            worst, p50 = poll.finish()
            print(
                f"body {mib} MiB ({mode}): '{status}' after {secs:.2f} s; /healthz max {worst * 1000:.0f} ms "
                f"p50 {p50 * 1000:.0f} ms ({len(poll.lat)} answered, {poll.failed} failed); "
                f"RSS {rss0:.0f} -> {srv.rss_mb():.0f} MB"
            )
    finally:
        srv.stop()


# --- defect 3 ----------------------------------------------------------------------------------------


async def _open(url: str, local: str, frame: bytes | None) -> tuple[Any, str]:
    try:
        ws = await websockets.connect(url, local_addr=(local, 0), open_timeout=30, max_size=None)
    except websockets.InvalidStatus as exc:
        return None, f"HTTP {exc.response.status_code}"
    except Exception as exc:
        return None, type(exc).__name__
    try:
        await asyncio.wait_for(ws.recv(), 30)  # the session message
        if frame is not None:
            await ws.send(frame)
            await asyncio.wait_for(ws.recv(), 60)
    except Exception as exc:
        return ws, f"open, then {type(exc).__name__}"
    return ws, "ok"


def bench_connections(src: Path, streams: int) -> None:
    jpeg = desk_jpegs(1)[0]
    srv = Server(src)
    try:

        async def streams_rss() -> None:
            sids = [httpx.post(f"{srv.url}/api/sessions").json()["id"] for _ in range(streams)]
            await asyncio.sleep(1.0)
            rss0, th0 = srv.rss_mb(), srv.threads()
            opened = []
            outcomes: dict[str, int] = {}
            for i, sid in enumerate(sids):  # 8 per source address: under the per-client cap
                ws, what = await _open(f"{srv.ws}/ws/sessions/{sid}/track", f"127.0.0.{2 + i // 8}", jpeg)
                outcomes[what] = outcomes.get(what, 0) + 1
                if ws is not None:
                    opened.append(ws)
            await asyncio.sleep(1.0)
            ok = outcomes.get("ok", 0)
            d_rss, d_th = srv.rss_mb() - rss0, srv.threads() - th0
            print(
                f"{streams} tracking streams with one frame each: {outcomes}; RSS +{d_rss:.0f} MB "
                f"({d_rss / max(ok, 1):.1f} MB per stream), threads +{d_th} ({d_th / max(ok, 1):.1f} per stream)"
            )
            for ws in opened:
                await ws.close()

        asyncio.run(streams_rss())
        time.sleep(2.0)

        async def idle_flood(n: int = 600) -> None:
            sid = httpx.post(f"{srv.url}/api/sessions").json()["id"]
            t0 = time.perf_counter()
            results = await asyncio.gather(
                *(_open(f"{srv.ws}/ws/sessions/{sid}/live", "127.0.0.1", None) for _ in range(n))
            )
            secs = time.perf_counter() - t0
            outcomes: dict[str, int] = {}
            for _ws, what in results:
                outcomes[what] = outcomes.get(what, 0) + 1
            print(f"{n} idle /live sockets from one address in {secs:.1f} s: {outcomes}")
            for ws, _ in results:
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await ws.close()

        asyncio.run(idle_flood())
    finally:
        srv.stop()

    srv = Server(src, {"GAZESCOPE_IDLE_TIMEOUT_S": "2"})
    try:

        async def pinger() -> None:
            sid = httpx.post(f"{srv.url}/api/sessions").json()["id"]
            async with websockets.connect(f"{srv.ws}/ws/sessions/{sid}/track") as ws:
                await ws.recv()
                t0 = time.perf_counter()
                try:
                    while time.perf_counter() - t0 < 10:
                        await ws.send('{"type": "ping", "t_ms": 1}')
                        await asyncio.wait_for(ws.recv(), 5)
                        await asyncio.sleep(0.5)
                    print("pings every 0.5 s with idle_timeout_s=2: still open after 10 s")
                except websockets.ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd else None
                    print(
                        f"pings every 0.5 s with idle_timeout_s=2: closed ({code}) after {time.perf_counter() - t0:.1f} s"
                    )

        asyncio.run(pinger())
    finally:
        srv.stop()


# --- defect 7 ----------------------------------------------------------------------------------------


async def lockstep_client(url: str, jpegs: list[bytes], stop: asyncio.Event, lat: list[float]) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.recv()
        i = 0
        while not stop.is_set():
            t0 = time.perf_counter()
            await ws.send(
                json.dumps({"type": "frame", "data": base64.b64encode(jpegs[i % len(jpegs)]).decode()})
            )
            await asyncio.wait_for(ws.recv(), 120)
            lat.append(time.perf_counter() - t0)
            i += 1
            await asyncio.sleep(1 / 15)


async def flood_client(url: str, payload: bytes, stop: asyncio.Event, codes: dict[str, int]) -> None:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.recv()
        while not stop.is_set():
            await ws.send(payload)
            msg = json.loads(await asyncio.wait_for(ws.recv(), 120))
            key = msg.get("code") or msg.get("type")
            codes[key] = codes.get(key, 0) + 1


def bench_png(src: Path, seconds: float, senders: int) -> None:
    jpegs = desk_jpegs(150)
    png16 = cv2.imencode(".png", np.zeros((4096, 4096, 3), np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 9])[1]
    png8 = cv2.imencode(".png", np.zeros((1080, 1920, 3), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])[1]
    srv = Server(src)
    try:
        for name, payload in (
            ("no attacker", None),
            (f"16-bit 4096x4096 PNG ({len(png16.tobytes()) // 1024} KiB)", png16.tobytes()),
            (f"8-bit 1920x1080 PNG ({len(png8.tobytes()) // 1024} KiB)", png8.tobytes()),
        ):

            async def run(payload: bytes | None = payload) -> tuple[list[float], dict[str, int]]:
                stop = asyncio.Event()
                lat: list[float] = []
                codes: dict[str, int] = {}
                sids = [httpx.post(f"{srv.url}/api/sessions").json()["id"] for _ in range(senders + 1)]
                tasks = [
                    asyncio.create_task(
                        lockstep_client(f"{srv.ws}/ws/sessions/{sids[0]}/track", jpegs, stop, lat)
                    )
                ]
                if payload is not None:
                    tasks += [
                        asyncio.create_task(
                            flood_client(f"{srv.ws}/ws/sessions/{sid}/track", payload, stop, codes)
                        )
                        for sid in sids[1:]
                    ]
                await asyncio.sleep(seconds)
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
                return lat[15:], codes  # the first second warms the bystander's Face Mesh up

            lat, codes = asyncio.run(run())
            print(
                f"bystander round trip with {senders if payload else 0} senders of {name}: "
                f"p50 {pct(lat, 50) * 1000:.0f} ms, p95 {pct(lat, 95) * 1000:.0f} ms ({len(lat)} frames); "
                f"senders' replies {codes}"
            )
    finally:
        srv.stop()


# --- defect 1 ----------------------------------------------------------------------------------------


def dots() -> list[dict[str, Any]]:
    import csv

    folder = DATA / "gaze" / "webcam_dots"
    with (folder / "labels.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["subject"] == "hy" and r["session"] == "6"]
    return [{"jpeg": (folder / r["image"]).read_bytes(), "x": float(r["x"]), "y": float(r["y"]),
             "w": int(r["screen_w"]), "h": int(r["screen_h"])} for r in rows]  # fmt: skip


async def calibrate_then(url: str, points: list[dict], params: dict, leave: bool) -> dict[str, Any]:
    """Collect a 16-point cnn calibration (4 validation points), send calibration_finish, then leave at once
    (``leave``) or wait for the answer."""
    async with websockets.connect(url, max_size=None) as ws:

        async def next_of(*types: str, timeout: float = 120) -> dict[str, Any]:
            while True:
                msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                if msg["type"] in types:
                    return msg

        await next_of("session")
        await ws.send(json.dumps({"type": "calibration_start", "layout": "16", "mapper": "cnn",
                                  "screen_w_px": points[0]["w"], "screen_h_px": points[0]["h"],
                                  "settle_ms": 0, "samples_per_target": 3, "mapper_params": params}))  # fmt: skip
        started = await next_of("calibration_started", "error")
        for k, p in enumerate(points):
            await ws.send(json.dumps({"type": "calibration_target", "x_px": p["x"], "y_px": p["y"],
                                      "validation": k in (0, 5, 10, 15)}))  # fmt: skip
            for _ in range(4):
                await ws.send(p["jpeg"])
                await next_of("sample")
        t0 = time.perf_counter()
        await ws.send(json.dumps({"type": "calibration_finish"}))
        if leave:  # an immediate answer (server_busy) or none within 0.5 s (the fit runs)
            try:
                answer = await next_of("error", "calibration_result", timeout=0.5)
            except TimeoutError:
                answer = {"type": "fitting"}
            return {"started": started, "answer": answer.get("code") or answer["type"]}
        out = await next_of("calibration_result", "error", timeout=600)
        return {"started": started, "answer": out, "fit_s": time.perf_counter() - t0}


def fits_running(url: str) -> float:
    m = re.search(r"^gazescope_calibration_fits (\S+)$", httpx.get(f"{url}/metrics").text, re.M)
    return float(m.group(1)) if m else float("nan")


def bench_fits(src: Path, budget_s: float) -> None:
    points = dots()
    jpegs = desk_jpegs(150)
    srv = Server(src)
    try:

        async def run() -> None:
            sids = [httpx.post(f"{srv.url}/api/sessions").json()["id"] for _ in range(3)]
            stop = asyncio.Event()
            lat: list[float] = []
            bystander = asyncio.create_task(
                lockstep_client(f"{srv.ws}/ws/sessions/{sids[2]}/track", jpegs, stop, lat)
            )
            await asyncio.sleep(3)
            n0 = len(lat)
            params = {"time_budget_s": budget_s, "epochs": 10**6}
            t0 = time.perf_counter()
            res = await asyncio.gather(*(calibrate_then(f"{srv.ws}/ws/sessions/{sid}/track", points, params, True)
                                         for sid in sids[:2]))  # fmt: skip
            t_left = time.perf_counter()
            print(f"two cnn calibrations asking time_budget_s={budget_s:g}: started with "
                  f"{[r['started'].get('mapper_params', r['started'].get('code')) for r in res]}; "
                  f"calibration_finish answered {[r['answer'] for r in res]}")  # fmt: skip
            gauge = []
            while time.perf_counter() - t_left < budget_s + 15:
                gauge.append((time.perf_counter() - t_left, fits_running(srv.url)))
                if gauge[-1][1] == 0 and time.perf_counter() - t_left > 1:
                    break
                await asyncio.sleep(0.25)
            ran = next((t for t, g in gauge if g == 0), float("nan"))
            during = lat[n0:]
            gaps = np.diff([0.0, *np.cumsum(during)]) if during else []
            stop.set()
            await bystander
            print(f"  both clients left {t_left - t0:.1f} s after starting; fits still running for {ran:.1f} s "
                  f"after they left (gauge gazescope_calibration_fits)")  # fmt: skip
            print(f"  bystander meanwhile: {len(during)} frames, round trip p50 {pct(during, 50) * 1000:.0f} ms, "
                  f"max {max(during, default=float('nan')) * 1000:.0f} ms; longest gap {max(gaps, default=0):.2f} s")  # fmt: skip
            t1 = time.perf_counter()
            async with websockets.connect(f"{srv.ws}/ws/sessions/{sids[2]}/track") as ws:
                await ws.recv()
                await ws.send(jpegs[0])
                await ws.recv()
            print(f"  a new client's first frame after that: {time.perf_counter() - t1:.2f} s")

        asyncio.run(run())
        log = srv.text()
        print(
            "  server log:", sorted(set(re.findall(r"event=(calibration_fit_\w+)", log))) or "no fit events"
        )
    finally:
        srv.stop()


# --- defects 8, 9, 10 ----------------------------------------------------------------------------------


def bench_numbers(src: Path) -> None:
    srv = Server(src)
    try:
        for path in ("/api/sessions", "/sessions"):
            r = httpx.get(f"{srv.url}{path}", params={"offset": "9223372036854775808"})
            print(f"GET {path}?offset=9223372036854775808 -> {r.status_code}")
        sid = httpx.post(f"{srv.url}/api/sessions", json={"screen_w_px": 800, "screen_h_px": 600}).json()[
            "id"
        ]
        cases = [
            ("frame t_ms 10**400", '{"type": "frame", "data": "AAAA", "t_ms": 1%s}' % ("0" * 400)),
            ("ping t_ms NaN", '{"type": "ping", "t_ms": NaN}'),
            (
                "calibration_start screen_w_px 10**400",
                '{"type": "calibration_start", "screen_w_px": 1%s}' % ("0" * 400),
            ),
            ("calibration_start layout null", '{"type": "calibration_start", "layout": null}'),
            ("drift_start x_px null", '{"type": "drift_start", "x_px": null, "y_px": 1}'),
        ]
        for route in (f"/ws/sessions/{sid}/track", f"/ws/session/{sid}/track", "/ws/gaze", "/ws"):

            async def run(route: str = route) -> list[str]:
                out = []
                for name, text in cases:  # one connection per case: a dropped one hides the next cases
                    async with websockets.connect(f"{srv.ws}{route}") as ws:
                        if "sessions" in route or "session/" in route:
                            await ws.recv()
                        await ws.send(text)
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 10)
                        except websockets.ConnectionClosed as exc:
                            out.append(
                                f"{name}: connection closed ({exc.rcvd.code if exc.rcvd else 'no close frame'})"
                            )
                            continue
                        try:
                            json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
                            valid = "valid JSON"
                        except ValueError:
                            valid = "NOT valid JSON"
                        msg = json.loads(raw)
                        inner = (
                            msg["data"] if isinstance(msg.get("data"), dict) else msg
                        )  # seed 001's envelope
                        what = inner.get("code") or inner.get("error") or msg.get("type")
                        out.append(f"{name}: {what} ({valid})")
                return out

            print(f"{route}: " + "; ".join(asyncio.run(run())))
    finally:
        srv.stop()


def bench_csrf(src: Path) -> None:
    srv = Server(src)
    try:
        evil = {"Origin": "http://evil.example"}
        form = {**evil, "Content-Type": "application/x-www-form-urlencoded"}
        r = httpx.post(f"{srv.url}/api/sessions", content=b"", headers=form)
        print(f"empty form POST /api/sessions from Origin http://evil.example -> {r.status_code}")
        png = cv2.imencode(".png", np.zeros((10, 10, 3), np.uint8))[1].tobytes()
        r = httpx.post(f"{srv.url}/api/stimuli", files={"file": ("x.png", png, "image/png")}, headers=evil)
        print(f"multipart POST /api/stimuli from Origin http://evil.example -> {r.status_code}")
        r = httpx.post(f"{srv.url}/api/sessions", json={}, headers={"Sec-Fetch-Site": "cross-site"})
        print(f"POST /api/sessions with Sec-Fetch-Site: cross-site -> {r.status_code}")
        r = httpx.post(f"{srv.url}/api/sessions", json={}, headers={"Origin": "http://localhost:5173"})
        print(f"POST /api/sessions from Origin http://localhost:5173 -> {r.status_code}")
        img = httpx.get(f"{srv.url}/api/stimuli")
        print(f"X-Content-Type-Options of a response: {img.headers.get('x-content-type-options')}")
    finally:
        srv.stop()


def bench_logs(src: Path) -> None:
    argv = ["-m", "uvicorn", "gazescope.api.app:create_app", "--factory", "--access-log"]
    srv = Server(src, {"GAZESCOPE_API_TOKEN": "s3cret-token"}, argv)
    try:
        for _ in range(5):
            httpx.get(f"{srv.url}/api/sessions", params={"token": "s3cret-token"})
        time.sleep(0.5)
        text = srv.text()
        print(f"uvicorn --access-log, 5 requests with ?token=: 'Logging error' x{text.count('Logging error')}, "
              f"token in log: {'s3cret-token' in text}, access lines: {text.count('GET /api/sessions')}")  # fmt: skip
    finally:
        srv.stop()


# --- issue 20, defect 4 ------------------------------------------------------------------------------


def fill_session(db_path: Path, session_id: str, n: int, batch: int = 10_000) -> None:
    """Append ``n`` synthetic samples to ``session_id`` through the store API (this checkout's store)."""
    sys.path.insert(0, str(ROOT / "src"))
    from gazescope.storage.sqlite import SQLiteStore

    store = SQLiteStore(db_path)
    try:
        for b in range(0, n, batch):
            store.append_samples(
                session_id,
                [
                    {"frame_index": i, "t_ms": i * 33.3, "face_detected": True, "screen_x_px": 900.0 + i % 97,
                     "screen_y_px": 500.0 + i % 53, "gaze_valid": True}
                    for i in range(b, min(n, b + batch))
                ],
            )  # fmt: skip
    finally:
        store.close()


class PeakRss:
    """The server's largest RSS (MB), sampled every 50 ms in a thread."""

    def __init__(self, srv: Server) -> None:
        self.srv, self.peak, self.stop = srv, 0.0, threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.srv.rss_mb() or 0.0)
            time.sleep(0.05)

    def finish(self) -> float:
        self.stop.set()
        self.t.join(5)
        return self.peak


def bench_bigsession(src: Path, n: int) -> None:
    srv = Server(src)
    try:
        sid = httpx.post(f"{srv.url}/api/sessions", json={"screen_w_px": 1920, "screen_h_px": 1080}).json()[
            "id"
        ]
        fill_session(Path(srv.tmp.name) / "bench.db", sid, n)
        print(f"session of {n:,} samples; RSS at rest {srv.rss_mb():.0f} MB")
        with httpx.Client(base_url=srv.url, timeout=300) as http:
            for label, path in (
                ("GET /samples", f"/api/sessions/{sid}/samples"),
                ("GET /samples.csv", f"/api/sessions/{sid}/samples.csv"),
                ("GET /report", f"/api/sessions/{sid}/report"),
                ("GET /heatmap.png", f"/api/sessions/{sid}/heatmap.png?source=samples"),
            ):
                peak = PeakRss(srv)
                t0 = time.perf_counter()
                size, chunks = 0, 0
                with http.stream("GET", path) as r:
                    for piece in r.iter_raw():
                        size += len(piece)
                        chunks += 1
                dt = time.perf_counter() - t0
                print(f"{label:18s} {r.status_code} {size / 2**20:7.1f} MiB in {dt:5.2f} s, {chunks:5d} chunks, "
                      f"peak RSS {peak.finish():.0f} MB")  # fmt: skip

        # two parallel full reads (every page of /samples, and the CSV), /healthz polled meanwhile
        async def read_all() -> None:
            async with httpx.AsyncClient(base_url=srv.url, timeout=300) as c:

                async def pages() -> None:
                    start: int | None = 0
                    while start is not None:
                        page = (await c.get(f"/api/sessions/{sid}/samples", params={"start": start})).json()
                        start = page.get("next")  # the old API has no `next`: one page of everything

                async def csv() -> None:
                    async with c.stream("GET", f"/api/sessions/{sid}/samples.csv") as r:
                        async for _ in r.aiter_raw():
                            pass

                await asyncio.gather(pages(), pages(), csv())

        poll, peak = Poller(f"{srv.url}/healthz"), PeakRss(srv)
        t0 = time.perf_counter()
        asyncio.run(read_all())
        dt = time.perf_counter() - t0
        worst, median = poll.finish()
        print(
            f"2 x all /samples + 1 CSV in parallel: {dt:.2f} s, peak RSS {peak.finish():.0f} MB, "
            f"/healthz max {worst * 1000:.0f} ms (median {median * 1000:.0f} ms)"
        )
    finally:
        srv.stop()


# --- issue 20, defects 1, 2, 3, 5, 6 -------------------------------------------------------------------


def missing_settings(src: Path, *names: str) -> list[str]:
    """The ``GAZESCOPE_*`` names among ``names`` that are no ``Settings`` field of the tree ``src`` (its
    server ignores them: unknown variables are ignored)."""
    single = src / "gazescope" / "config.py"  # trees before the settings became a package
    files = [single] if single.exists() else sorted((src / "gazescope" / "config").glob("*.py"))
    text = "\n".join(f.read_text() for f in files)
    return [n for n in names if not re.search(rf"^\s+{n.removeprefix('GAZESCOPE_').lower()}\s*:", text, re.M)]


def start_server(src: Path, env: dict[str, str], argv: list[str] | None = None) -> Server:
    """A :class:`Server` with ``env``, saying which of its settings the tree does not have."""
    for name in missing_settings(src, *env):
        print(f"  {name} is not a setting of this tree (its server ignores it)")
    return Server(src, env, argv)


def server_closed(s: socket.socket) -> bool:
    """Whether the server has closed ``s`` (EOF or reset), without waiting."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def n_open(socks: list[socket.socket]) -> int:
    return sum(not server_closed(s) for s in socks)


def half_open(port: int, n: int, partial: bytes) -> tuple[list[socket.socket], int]:
    """``n`` connections that send ``partial`` and never finish; (the sockets, connects that failed)."""
    socks, failed = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(partial)
            socks.append(s)
        except OSError:
            failed += 1
    return socks, failed


def healthz(url: str, timeout: float = 5.0) -> str:
    t0 = time.perf_counter()
    try:
        r = httpx.get(f"{url}/healthz", timeout=timeout)
        return f"{r.status_code} in {(time.perf_counter() - t0) * 1000:.0f} ms"
    except httpx.HTTPError as exc:
        return f"failed ({type(exc).__name__} after {time.perf_counter() - t0:.1f} s)"


def refusals_logged(text: str) -> str:
    """The connection refusals and timeouts in a server log: the guard's events (with their counts) and
    asyncio's accept errors."""
    lines: dict[str, int] = {}
    counted: dict[str, int] = {}
    for line in text.splitlines():
        m = re.search(r"event=(http_\w+)", line)
        name = m.group(1) if m else None
        if name is None and ("Too many open files" in line or "out of system resource" in line):
            name = "accept error (EMFILE)"
        if name is not None:
            c = re.search(r"\bcount=(\d+)", line)
            lines[name] = lines.get(name, 0) + 1
            counted[name] = counted.get(name, 0) + (int(c.group(1)) if c else 1)
    return ", ".join(f"{k}: {v} line(s) counting {counted[k]}" for k, v in lines.items()) or "nothing logged"


HTTP_PARTIALS = (b"GET /healthz HT", b"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n")
WS_PARTIAL = b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"


def bench_halfopen(src: Path, hold_s: float, n_http: int = 200, n_ws: int = 50) -> None:
    """Defect 1: half-open requests (half a request line, or headers without their end) and unfinished
    WebSocket upgrades held ``hold_s``; how many the server still holds, /healthz, the log."""
    srv = start_server(src, {})
    socks: list[socket.socket] = []
    try:
        failed = 0
        for k in range(n_http):
            got, f = half_open(srv.port, 1, HTTP_PARTIALS[k % 2])
            socks, failed = socks + got, failed + f
        got, f = half_open(srv.port, n_ws, WS_PARTIAL)
        socks, failed = socks + got, failed + f
        t0 = time.monotonic()
        during = healthz(srv.url)
        all_closed = None
        while time.monotonic() - t0 < hold_s:
            if all_closed is None and n_open(socks) == 0:
                all_closed = time.monotonic() - t0
            time.sleep(1.0)
        held = n_open(socks)
        print(
            f"halfopen: {n_http} half-open requests + {n_ws} unfinished WebSocket upgrades "
            f"({failed} connects failed) held {hold_s:.0f} s: {held} of {len(socks)} still open"
            + (f" (all closed by the server within {all_closed:.0f} s)" if all_closed is not None else "")
            + f"; /healthz meanwhile {during}, at the end {healthz(srv.url)}; log: {refusals_logged(srv.text())}"
        )
    finally:
        for s in socks:
            s.close()
        srv.stop()


NOFILE_SERVE = (
    "import resource, runpy, sys; h = resource.getrlimit(resource.RLIMIT_NOFILE)[1]; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (min({n}, h), h)); sys.argv = ['gazescope', 'serve', "
    "*sys.argv[1:]]; runpy.run_module('gazescope.cli', run_name='__main__', alter_sys=True)"
)
"""``python -c`` code that runs ``gazescope serve`` under a soft descriptor limit of ``{n}``."""


def bench_halfopen_cap(src: Path, hold_s: float, n: int, max_open: int, nofile: int) -> None:
    """Defect 1, the cap: ``n`` half-open requests from one client against a server under a soft descriptor
    limit of ``nofile`` with ``GAZESCOPE_MAX_OPEN_CONNECTIONS=max_open``; /healthz over ``hold_s``."""
    env = {"GAZESCOPE_MAX_OPEN_CONNECTIONS": str(max_open)}
    srv = start_server(src, env, ["-c", NOFILE_SERVE.format(n=nofile)])
    socks: list[socket.socket] = []
    try:
        socks, failed = half_open(srv.port, n, HTTP_PARTIALS[0])
        t0 = time.monotonic()
        time.sleep(1.0)
        held_1s, first = n_open(socks), healthz(srv.url, 3.0)
        answered = None
        while time.monotonic() - t0 < hold_s:
            if healthz(srv.url, 2.0).startswith("200"):
                answered = time.monotonic() - t0
                break
            time.sleep(1.0)
        time.sleep(max(0.0, hold_s - (time.monotonic() - t0)))
        print(
            f"halfopen --cap: {n} half-open requests from one client (server: soft RLIMIT_NOFILE {nofile}, "
            f"GAZESCOPE_MAX_OPEN_CONNECTIONS={max_open}; {failed} connects failed): after 1 s {held_1s} held "
            f"open, /healthz {first}; /healthz "
            + (
                f"answered again after {answered:.0f} s"
                if answered is not None
                else f"never answered in {hold_s:.0f} s"
            )
            + f"; after {hold_s:.0f} s {n_open(socks)} held open, /healthz {healthz(srv.url, 3.0)}; "
            f"log: {refusals_logged(srv.text())}"
        )
    finally:
        for s in socks:
            s.close()
        srv.stop()


async def ws_try(
    url: str, local: str, headers: dict[str, str] | None = None, init: bool = False
) -> tuple[Any, str]:
    """Open a WebSocket from ``local``; (the socket or None, "open" or why not). ``init`` sends seed 002's
    ``init`` once open."""
    try:
        ws = await websockets.connect(url, local_addr=(local, 0), additional_headers=headers, open_timeout=15)
    except websockets.InvalidStatus as exc:
        return None, f"HTTP {exc.response.status_code}"
    except Exception as exc:
        return None, type(exc).__name__
    if init:
        await ws.send(json.dumps({"type": "init", "clientInfo": {"ua": "limits.py"}}))
    return ws, "open"


async def ws_still_open(ws: Any) -> bool:
    """Whether ``ws`` is still open (its buffered messages read; a close from the server ends it)."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 0.3)
    except TimeoutError:
        return True
    except websockets.ConnectionClosed:
        return False


def tally(outcomes: list[str]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    return ", ".join(f"{k} x{v}" for k, v in counts.items())


def bench_silentws(src: Path, start_s: float, n_forwarded: int = 40) -> None:
    """Defect 2: silent seed 002 and native tracking sockets fill every slot; forged X-Forwarded-For."""
    srv = start_server(src, {"GAZESCOPE_SEED002_START_TIMEOUT_S": f"{start_s:g}"})
    try:
        sids = [httpx.post(f"{srv.url}/api/sessions").json()["id"] for _ in range(16)]

        async def slots() -> None:
            seed = [(f"{srv.ws}/ws", f"127.0.0.{2 + k // 16}") for k in range(48)]
            track = [(f"{srv.ws}/ws/sessions/{sid}/track", "127.0.0.5") for sid in sids]
            opened = await asyncio.gather(*(ws_try(u, a) for u, a in seed + track))
            new_ws, new = await ws_try(f"{srv.ws}/ws", "127.0.0.6", init=True)
            if new_ws is not None:
                await new_ws.close()
            print(
                f"silentws: 48 silent seed 002 /ws (16 from each of 127.0.0.2-4) + 16 silent "
                f"/ws/sessions/{{id}}/track (127.0.0.5): {tally([w for _, w in opened])}; a new client then: {new}"
            )
            await asyncio.sleep(start_s + 2.0)
            alive = await asyncio.gather(*(ws_still_open(ws) for ws, _ in opened if ws is not None))
            n_seed = sum(ws is not None for ws, _ in opened[:48])
            seed_alive = sum(alive[:n_seed])
            new_ws, new = await ws_try(f"{srv.ws}/ws", "127.0.0.6", init=True)
            if new_ws is not None:
                await new_ws.close()
            events = len(re.findall(r"event=tracking_start_timeout", srv.text()))
            print(
                f"  after {start_s + 2:g} s (start timeout {start_s:g} s): seed 002 still open {seed_alive} of "
                f"{n_seed}, track still open {sum(alive[n_seed:])} of {len(alive) - n_seed}; a new client: {new}; "
                f"tracking_start_timeout logged {events} times"
            )
            for ws, _ in opened:
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await ws.close()

        asyncio.run(slots())
        time.sleep(1.0)

        async def forwarded() -> None:
            heads = [{"X-Forwarded-For": f"10.0.{k}.1"} for k in range(n_forwarded)]
            opened = await asyncio.gather(*(ws_try(f"{srv.ws}/ws", "127.0.0.1", h, init=True) for h in heads))
            n_ok = sum(ws is not None for ws, _ in opened)
            print(
                f"  {n_forwarded} seed 002 /ws from 127.0.0.1, each with another X-Forwarded-For: "
                f"{tally([w for _, w in opened])} (per-client cap 16): counted as "
                + ("different clients" if n_ok > 16 else "one client")
            )
            for ws, _ in opened:
                if ws is not None:
                    with contextlib.suppress(Exception):
                        await ws.close()

        asyncio.run(forwarded())
    finally:
        srv.stop()


def store_bytes(srv: Server) -> int:
    """Bytes under the server's data folder (the SQLite store, its WAL, stimulus files), its log left out."""
    root = Path(srv.tmp.name)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and p != srv.log_path)


def noise_png(mib: float) -> bytes:
    """A valid PNG of about ``mib`` MiB (random pixels do not compress)."""
    w = 2048
    h = max(1, int(mib * 2**20 / (w * 3)))
    pixels = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()


def profile_body(**fields: Any) -> dict[str, Any]:
    """A valid ridge calibration profile (``FittedCalibration.to_dict()`` of this checkout) with ``fields``."""
    sys.path.insert(0, str(ROOT / "src"))
    from gazescope.calibration.features import FEATURE_NAMES, N_FEATURES
    from gazescope.calibration.mappers import create_mapper
    from gazescope.calibration.profile import FittedCalibration

    rng = np.random.default_rng(0)
    X = rng.normal(0.0, 0.05, size=(9, N_FEATURES))
    ix, iy = FEATURE_NAMES.index("iris_x"), FEATURE_NAMES.index("iris_y")
    Y = np.column_stack([960 + X[:, ix] * 8000, 540 + X[:, iy] * 5000])
    cal = FittedCalibration(mapper=create_mapper("ridge").fit(X, Y), screen_w_px=1920, screen_h_px=1080,
                            accuracy={"mean_error_px": 120.0, "mean_error_pct_width": 6.25, "grade": "good"},
                            head_range={"yaw_deg": [-5.0, 5.0]}, user_id="u1", layout="9")  # fmt: skip
    return {**json.loads(cal.to_json()), **fields}


def attack(
    srv: Server, name: str, local: str, send, seconds: float, max_n: int, unit: int = 1, what: str = ""
) -> None:
    """Send ``send(client, i)`` one after another from ``local`` for ``seconds`` or ``max_n`` requests; print
    what was accepted (2xx, ``unit`` items each), refused (status and reason) and how much the store grew."""
    size0 = store_bytes(srv)
    codes: dict[int, int] = {}
    reasons: dict[int, str] = {}
    retry_after = 0
    transport = httpx.HTTPTransport(local_address=local)
    with httpx.Client(base_url=srv.url, transport=transport, timeout=120) as c:
        t0 = time.perf_counter()
        n = 0
        while n < max_n and time.perf_counter() - t0 < seconds:
            r = send(c, n)
            n += 1
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
            if r.status_code >= 300 and r.status_code not in reasons:
                try:
                    body = r.json()
                except ValueError:
                    body = r.text
                if isinstance(body, dict):
                    body = body.get("code") or body.get("error") or body.get("detail")
                reasons[r.status_code] = str(body)[:60]
            retry_after += r.status_code == 429 and "retry-after" in r.headers
        dt = time.perf_counter() - t0
    time.sleep(0.5)
    ok = sum(v for k, v in codes.items() if k < 300)
    refused = "; ".join(f"{k} x{v} ({reasons[k]})" for k, v in sorted(codes.items()) if k >= 300) or "none"
    if 429 in codes:
        refused += f"; Retry-After on {retry_after} of {codes[429]} 429s"
    if set(codes) <= {404, 405}:
        print(f"  {name}: the route does not exist on this tree ({codes})")
        return
    items = f" ({ok * unit:,} {what})" if what else ""
    print(
        f"  {name}: {n} requests in {dt:.1f} s: {ok} accepted{items}, refused: {refused}; "
        f"store +{(store_bytes(srv) - size0) / 2**20:.1f} MiB"
    )


FLOOD_COUNTS = {"sessions": 2000, "stimuli": 50, "profiles": 200, "gaze": 100, "upload": 200}
"""Requests per attack of ``flood`` (the issue's: 2,000 sessions, 50 stimuli, 200 profiles, 100 batches of
10,000 gaze points, 200 seed 003 uploads), unless ``--max-requests`` or the time runs out first."""


def bench_flood(
    src: Path, seconds: float, max_requests: int | None, png_mib: float, samples_cap: int
) -> None:
    """Defect 3: one client without a token creating and writing as fast as it can, each attack from its
    own loopback address (so one attack's rate limit does not spend the next one's). ``samples_cap``:
    ``GAZESCOPE_MAX_SAMPLES_PER_SESSION`` for the run (0: the server's default), so the gaze attack meets
    the cap within its seconds."""
    counts = {k: max_requests or v for k, v in FLOOD_COUNTS.items()}
    png = noise_png(png_mib)
    body = profile_body(profile_id="FLOOD0000000")
    body["accuracy"] = {**body["accuracy"], "notes": "x" * 1_900_000}
    profile = json.dumps(body).encode()
    points = [
        {"t_ms": 0.0, "x_px": float(100 + k % 1700), "y_px": float(100 + k % 900)} for k in range(10_000)
    ]
    upload = json.dumps({"points": [{"x": p["x_px"], "y": p["y_px"]} for p in points]}).encode()
    env = {"GAZESCOPE_MAX_SAMPLES_PER_SESSION": str(samples_cap)} if samples_cap else {}
    srv = start_server(src, env)
    try:
        sid = httpx.post(f"{srv.url}/api/sessions", json={"screen_w_px": 1920, "screen_h_px": 1080}).json()[
            "id"
        ]
        print(f"flood: one client without a token, each attack at most {seconds:g} s (server settings {env})")

        def gaze(c: httpx.Client, i: int) -> httpx.Response:
            batch = [{**p, "t_ms": (i * 10_000 + k) * 10.0} for k, p in enumerate(points)]
            return c.post(f"/api/sessions/{sid}/gaze", json={"points": batch})

        attack(srv, "POST /api/sessions", "127.0.0.11",
               lambda c, i: c.post("/api/sessions", json={"screen_w_px": 1920, "screen_h_px": 1080}),
               seconds, counts["sessions"])  # fmt: skip
        attack(srv, f"POST /api/stimuli of a {len(png) / 2**20:.1f} MiB PNG", "127.0.0.12",
               lambda c, i: c.post("/api/stimuli", files={"file": (f"noise{i}.png", png, "image/png")}),
               seconds, counts["stimuli"])  # fmt: skip
        attack(srv, f"POST /api/profiles with a {len(profile) / 1e6:.1f} MB accuracy field", "127.0.0.13",
               lambda c, i: c.post("/api/profiles", content=profile.replace(b"FLOOD0000000", b"flood%07d" % i),
                                   headers={"Content-Type": "application/json"}),
               seconds, counts["profiles"])  # fmt: skip
        attack(srv, "POST /api/sessions/{id}/gaze, 10,000 points a batch into one session", "127.0.0.14",
               gaze, seconds, counts["gaze"], 10_000, "points")  # fmt: skip
        attack(srv, "seed 003 POST /upload of 10,000 points, Origin http://evil.example", "127.0.0.15",
               lambda c, i: c.post("/upload", content=upload, headers={
                   "Content-Type": "application/json", "Origin": "http://evil.example"}),
               seconds, counts["upload"], 10_000, "points")  # fmt: skip
    finally:
        srv.stop()


_MP4: dict[str, Path] = {}
_MP4_DIR: list[Any] = []


def desk_mp4(target_mib: float) -> Path:
    """A valid H.264 MP4 of about ``target_mib`` MiB, the desk video at a high bitrate, in a temporary
    folder (made once a run; never in the repository)."""
    if "mp4" in _MP4:
        return _MP4["mp4"]
    import subprocess
    import tempfile

    src = DATA / "videos" / "desk_webcam_640x480.avi"
    tmp = tempfile.TemporaryDirectory(prefix="gazescope-bench-mp4-")
    _MP4_DIR.append(tmp)
    out = Path(tmp.name) / "desk_high_bitrate.mp4"
    dur = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                str(src)], capture_output=True, text=True, check=True).stdout)  # fmt: skip
    kbps = target_mib * 2**20 * 8 / 1000 / dur
    for _ in range(3):  # the encoder's average bitrate misses a little: correct the ask twice at most
        subprocess.run(["ffmpeg", "-y", "-v", "error", "-i", str(src), "-an", "-c:v", "libx264", "-preset",
                        "veryfast", "-pix_fmt", "yuv420p", "-b:v", f"{kbps:.0f}k", "-maxrate", f"{kbps:.0f}k",
                        "-bufsize", f"{2 * kbps:.0f}k", "-movflags", "+faststart", str(out)], check=True)  # fmt: skip
        got = out.stat().st_size / 2**20
        if abs(got - target_mib) < 0.5:
            break
        kbps *= target_mib / got
    _MP4["mp4"] = out
    return out


def bench_videoupload(src: Path, target_mib: float) -> None:
    """Defect 5: a valid MP4 of ~19 MiB (over the 16 MiB image limit, under the 64 MiB video limit)."""
    mp4 = desk_mp4(target_mib)
    data = mp4.read_bytes()
    srv = start_server(src, {})
    try:
        t0 = time.perf_counter()
        r = httpx.post(f"{srv.url}/api/stimuli", files={"file": ("desk.mp4", data, "video/mp4")}, timeout=120)
        dt = time.perf_counter() - t0
        try:
            body = r.json()
        except ValueError:
            body = {"text": r.text[:100]}
        if r.status_code == 201:
            what = f"stored as kind {body.get('kind')}, {body.get('duration_s')} s, {body.get('bytes')} bytes"
        else:
            what = str(body.get("detail") or body)[:140]
        print(f"videoupload: a valid {len(data) / 2**20:.1f} MiB H.264 MP4 as a stimulus: {r.status_code} in "
              f"{dt:.1f} s: {what}")  # fmt: skip
    finally:
        srv.stop()


def bench_ids(src: Path) -> None:
    """Defect 6: a profile's own ``user_id`` of 100,000 characters, an integer ``user_id``, a
    ``profile_id`` of ``"evil\\n"``; the status and what was stored."""
    srv = start_server(src, {})
    try:
        cases = [
            ("user_id of 100,000 characters", {"profile_id": "ids-long", "user_id": "x" * 100_000}),
            ("user_id 12345 (a JSON integer)", {"profile_id": "ids-int", "user_id": 12345}),
            ('profile_id "evil\\n"', {"profile_id": "evil\n", "user_id": "u1"}),
        ]
        print("ids: POST /api/profiles with")
        for label, fields in cases:
            r = httpx.post(f"{srv.url}/api/profiles", json=profile_body(**fields), timeout=30)
            stored = [d for d in httpx.get(f"{srv.url}/api/profiles").json()
                      if d.get("profile_id") == fields["profile_id"]]  # fmt: skip
            if stored:
                uid = stored[0].get("user_id")
                shown = (
                    f"{uid!r}" if not isinstance(uid, str) or len(uid) < 20 else f"{len(uid):,} characters"
                )
                kept = (
                    f"stored: profile_id {stored[0]['profile_id']!r}, user_id {shown} ({type(uid).__name__})"
                )
            else:
                kept = "nothing stored"
            try:
                detail = r.json().get("detail") if r.status_code >= 300 else None
            except ValueError:
                detail = r.text
            reason = f" ({str(detail)[:100]})" if detail else ""
            print(f"  {label}: {r.status_code}{reason}; {kept}")
    finally:
        srv.stop()


COMPARABLE = ("bigsession", "halfopen", "silentws", "flood", "videoupload", "ids")
"""Subcommands that take ``--compare SRC``: the same attack on ``SRC`` first (the "before"), then on
``--src``."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "what",
        choices=["body", "connections", "png", "fits", "numbers", "csrf", "logs", *COMPARABLE, "all"],
    )
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="gazescope sources to serve")
    ap.add_argument("--mib", type=int, default=50, help="body: MiB of JSON")
    ap.add_argument("--streams", type=int, default=60, help="connections: tracking streams to open")
    ap.add_argument("--seconds", type=float, default=10.0, help="png: seconds per phase; flood: per attack")
    ap.add_argument("--senders", type=int, default=4, help="png: attacking senders")
    ap.add_argument("--budget", type=float, default=40.0, help="fits: time_budget_s asked")
    ap.add_argument("--samples", type=int, default=200_000, help="bigsession: samples in the session")
    ap.add_argument(
        "--compare", type=Path, default=None, help=f"{', '.join(COMPARABLE)}: measure these sources first"
    )
    ap.add_argument("--hold", type=float, default=30.0, help="halfopen: seconds the connections are held")
    ap.add_argument(
        "--cap", action="store_true", help="halfopen: more connections than GAZESCOPE_MAX_OPEN_CONNECTIONS"
    )
    ap.add_argument("--connections", type=int, default=1100, help="halfopen --cap: half-open requests")
    ap.add_argument("--max-open", type=int, default=64, help="halfopen --cap: GAZESCOPE_MAX_OPEN_CONNECTIONS")
    ap.add_argument(
        "--nofile", type=int, default=1024, help="halfopen --cap: the server's soft RLIMIT_NOFILE"
    )
    ap.add_argument(
        "--start-timeout", type=float, default=3.0, help="silentws: GAZESCOPE_SEED002_START_TIMEOUT_S"
    )
    ap.add_argument("--max-requests", type=int, default=None, help="flood: requests per attack at most")
    ap.add_argument(
        "--png-mib", type=float, default=15.8, help="flood: MiB of the stimulus PNG (the issue's)"
    )
    ap.add_argument(
        "--samples-cap",
        type=int,
        default=30_000,
        help="flood: GAZESCOPE_MAX_SAMPLES_PER_SESSION (0: default)",
    )
    ap.add_argument("--video-mib", type=float, default=19.3, help="videoupload: MiB of the MP4")
    a = ap.parse_args()
    src = a.src.resolve()

    def halfopen(tree: Path) -> None:
        if a.cap:
            bench_halfopen_cap(tree, a.hold, a.connections, a.max_open, a.nofile)
        else:
            bench_halfopen(tree, a.hold)

    jobs = {
        "body": lambda tree: bench_body(tree, a.mib),
        "connections": lambda tree: bench_connections(tree, a.streams),
        "png": lambda tree: bench_png(tree, a.seconds, a.senders),
        "fits": lambda tree: bench_fits(tree, a.budget),
        "numbers": bench_numbers,
        "csrf": bench_csrf,
        "logs": bench_logs,
        "bigsession": lambda tree: bench_bigsession(tree, a.samples),
        "halfopen": halfopen,
        "silentws": lambda tree: bench_silentws(tree, a.start_timeout),
        "flood": lambda tree: bench_flood(tree, a.seconds, a.max_requests, a.png_mib, a.samples_cap),
        "videoupload": lambda tree: bench_videoupload(tree, a.video_mib),
        "ids": bench_ids,
    }
    for name, job in jobs.items():
        if a.what in (name, "all"):
            if name in COMPARABLE and a.compare is not None:
                print(f"== {name} before ({a.compare.resolve()})", flush=True)
                job(a.compare.resolve())
            print(f"== {name} ({src})", flush=True)
            job(src)


if __name__ == "__main__":
    main()
