"""Load benchmark of the tracking WebSocket: N concurrent clients stream real webcam frames at 15 FPS,
or (``--mode landmarks``) the Face Mesh landmarks of those frames instead.

Each client creates a session (``POST /api/sessions``), opens ``/ws/sessions/{id}/track`` and sends the
frames of the desk video (JPEG, quality 70, each client starting at a different frame) as
``{"type": "frame", "data": <base64>, "t_ms": <sequence number>}`` on a fixed 15 FPS schedule for the given
time, then waits for the sample of its last frame. Printed per run:

* round trip p50/p99 (ms): from sending a frame to receiving the sample that echoes its ``t_ms``
  (dropped frames have none), in steady state: frames of each client's first ``--warmup`` seconds (the
  Face Mesh graph starts on the first frame) are left out, and the p99 with them is printed too;
* processed FPS (all clients), and per stream (each client's samples / its time from the first frame
  sent to the sample of its last frame: min and median over the clients, to see a starved stream);
  drop ratio (frames replaced while waiting: newest wins);
* server RSS (peak and at the end) and CPU time per processed frame (user + system, all threads, while
  the clients stream), from /proc when the server runs here;
* stored vs processed samples (``sample_count`` of the sessions after the last flush).

``--mode landmarks`` (issue 22): the desk video's 478 Face Mesh landmarks per frame are computed once here
(MediaPipe Face Mesh with iris refinement, as a browser running it sends them;
``gazescope.evaluation.landmark_series.mesh_landmarks``) and each client sends them as binary ``GSLM``
messages (5,756 bytes) instead of frames. ``--mode both`` runs the frames ladder (``--clients``) and the
landmarks ladder (``--landmark-clients``) one after the other, each on a fresh local server, and prints
them side by side. Per run also: server RSS and threads per stream (peak during the run less the idle
server's before it, divided by N).

By default a real ``gazescope serve`` subprocess is started on a free port with SQLite in a temporary
folder (connection and write-rate limits raised so that the ladder's clients, all from 127.0.0.1, are
admitted); ``--url`` uses a running server instead. Examples::

    python benchmarks/ws_load.py --clients 4 --seconds 30
    python benchmarks/ws_load.py --clients 2,4,6,8 --seconds 20     # a sweep, one server
    python benchmarks/ws_load.py --url http://127.0.0.1:8000 --clients 4
    python benchmarks/ws_load.py --url ws://127.0.0.1:8080 --clients 4,8   # e.g. nginx in front
    python benchmarks/ws_load.py --mode both --clients 4,8,12 --landmark-clients 20,40,80 --p99-limit 100

The client runs on the same machine and takes CPU too (JSON framing, WebSocket I/O): figures are for
"server and clients on one host" unless ``--url`` points elsewhere.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import websockets

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEO = (
    Path(os.environ.get("GAZESCOPE_DATA_DIR", ROOT.parent / "shared" / "data"))
    / "videos"
    / ("desk_webcam_640x480.avi")
)
P99_LIMIT_MS = 150.0
BENCH_LIMITS = {  # the ladder's clients all come from 127.0.0.1
    "GAZESCOPE_MAX_CONNECTIONS": "2000",
    "GAZESCOPE_MAX_CONNECTIONS_PER_CLIENT": "2000",
    "GAZESCOPE_RATE_LIMIT_WRITES_PER_S": "0",
}


@dataclass
class ClientResult:
    session_id: str
    sent: int = 0
    processed: int = 0
    dropped: int = 0
    errors: int = 0
    rtts_ms: list[float] = field(default_factory=list)
    warm_rtts_ms: list[float] = field(default_factory=list)
    stored: int = -1
    completed: bool = False
    stream_s: float = 0.0  # from the first frame sent to the sample of the last one

    @property
    def processed_fps(self) -> float:
        return self.processed / self.stream_s if self.stream_s > 0 else 0.0


def load_frames(video: Path, quality: int, limit: int) -> list[str]:
    """Base64 JPEGs of the video's first ``limit`` frames."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    out: list[str] = []
    while len(out) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(base64.b64encode(buf.tobytes()).decode())
    cap.release()
    if not out:
        sys.exit(f"no frames read from {video}")
    return out


def load_landmarks(video: Path, limit: int) -> list[tuple[int, bytes]]:
    """(face_count, the 478 x 3 float32 landmark bytes or b"") of the video's first ``limit`` frames, by
    MediaPipe Face Mesh with iris refinement in tracking mode (what a browser running it sends)."""
    import cv2

    sys.path.insert(0, str(ROOT / "src"))
    from gazescope.config import Settings
    from gazescope.evaluation.landmark_series import mesh_landmarks

    cap = cv2.VideoCapture(str(video))
    rgb = []
    while len(rgb) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        rgb.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    if not rgb:
        sys.exit(f"no frames read from {video}")
    meshes = mesh_landmarks(rgb, Settings())
    return [(0, b"") if np.isnan(m).any() else (1, m.astype("<f4").tobytes()) for m in meshes]


def landmarks_message(face_count: int, body: bytes, t_ms: float) -> bytes:
    """The binary ``GSLM`` message of one frame's landmarks (docs/protocol.md): 20-byte header + body."""
    n = len(body) // 12
    return struct.pack("<4sBBHHHd", b"GSLM", 1, face_count, n, 640, 480, t_ms) + body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """``gazescope serve`` in a subprocess, SQLite in a temporary folder."""

    def __init__(
        self, env_extra: dict[str, str], src: Path = ROOT / "src", argv: list[str] | None = None
    ) -> None:
        """``argv``: the Python arguments before ``--port`` (default ``-m gazescope.cli serve``); ``src``:
        the sources served (first on ``PYTHONPATH``)."""
        self.tmp = tempfile.TemporaryDirectory(prefix="gazescope-bench-")
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAZESCOPE_")}
        env.update(GAZESCOPE_DB_PATH=str(Path(self.tmp.name) / "bench.db"), **env_extra)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH", "")) if p)
        self.log_path = Path(self.tmp.name) / "server.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, *(argv or ["-m", "gazescope.cli", "serve"]), "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.tmp.name,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited: {(Path(self.tmp.name) / 'server.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit("server did not start within 60 s")

    def _tree(self) -> list[int]:
        """The server and every process under it (uvicorn workers, frame worker processes)."""
        children: dict[int, list[int]] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(stat.parent.name))
        tree, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def threads(self) -> int | None:
        """Threads of the server's process tree."""
        total = None
        for pid in self._tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("Threads:"):
                        total = (total or 0) + int(line.split()[1])
            except OSError:
                continue
        return total

    def rss_mb(self) -> float | None:
        """Resident memory of the server's process tree, MB."""
        total = None
        for pid in self._tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total = (total or 0.0) + int(line.split()[1]) / 1024.0
            except OSError:
                continue
        return total

    def cpu_s(self) -> float | None:
        """CPU seconds (user + system, all threads) the server's process tree has used so far (live
        processes; a worker that exited between two readings is not counted)."""
        total = None
        for pid in self._tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total = (total or 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        self.tmp.cleanup()


async def run_client(
    idx: int,
    base_url: str,
    frames: list[str] | list[tuple[int, bytes]],
    fps: float,
    seconds: float,
    headers: dict,
    token: str | None,
    warmup_s: float,
) -> ClientResult:
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        r = await http.post("/api/sessions", json={"label": f"ws_load client {idx}"})
        r.raise_for_status()
        sid = r.json()["id"]
    res = ClientResult(sid)
    ws_url = base_url.replace("http", "ws", 1) + f"/ws/sessions/{sid}/track"
    if token:
        ws_url += f"?token={token}"
    sent_at: dict[float, float] = {}
    offset = (idx * 97) % len(frames)
    # no client keepalive: an overloaded server answers pings late, which must not end the run
    async with websockets.connect(ws_url, max_size=None, ping_interval=None) as ws:
        await ws.recv()  # the session message
        last = {"t": -1.0}
        finished = asyncio.Event()

        async def receive() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):  # the run reports it incomplete
                await receive_all()

        async def receive_all() -> None:
            async for raw in ws:
                now = time.perf_counter()
                msg = json.loads(raw)
                if msg.get("type") == "sample":
                    res.processed += 1
                    res.dropped = int(msg.get("dropped_frames") or 0)
                    t = msg.get("client_t_ms")
                    if t in sent_at:
                        rtt = (now - sent_at.pop(t)) * 1000.0
                        # frames of the first warmup_s (model start-up) are reported apart
                        (res.warm_rtts_ms if t < warmup_s * fps else res.rtts_ms).append(rtt)
                    if finished.is_set() and t == last["t"]:
                        res.completed = True
                        return
                elif msg.get("type") == "error":
                    res.errors += 1

        rx = asyncio.create_task(receive())
        await asyncio.sleep((idx % 8) / (8 * fps))  # spread the clients over one frame interval
        t0 = time.perf_counter()
        n = int(seconds * fps)
        for i in range(n):
            delay = t0 + i / fps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            t = float(i)
            data = frames[(offset + i) % len(frames)]
            sent_at[t] = time.perf_counter()
            last["t"] = t
            if isinstance(data, tuple):  # landmarks
                await ws.send(landmarks_message(data[0], data[1], t))
            else:
                await ws.send('{"type":"frame","t_ms":%r,"data":"%s"}' % (t, data))  # noqa: UP031
            res.sent += 1
        finished.set()
        # the last frame is never dropped (newest wins): wait for its sample
        if last["t"] not in sent_at:  # its sample came already
            res.completed = True
            rx.cancel()
        else:
            try:
                await asyncio.wait_for(rx, 30)
            except TimeoutError:
                rx.cancel()
        res.stream_s = time.perf_counter() - t0
    return res


async def one_run(
    base_url: str,
    n: int,
    frames: list[str] | list[tuple[int, bytes]],
    args: argparse.Namespace,
    server: LocalServer | None,
):
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    rss: list[float] = []
    threads: list[int] = []
    rss0 = server.rss_mb() if server is not None else None
    threads0 = server.threads() if server is not None else None

    async def watch_rss() -> None:
        while True:
            if server is not None and (v := server.rss_mb()) is not None:
                rss.append(v)
            if server is not None and (k := server.threads()) is not None:
                threads.append(k)
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch_rss())
    cpu0 = server.cpu_s() if server is not None else None
    client_cpu0 = time.process_time()
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(
            run_client(i, base_url, frames, args.fps, args.seconds, headers, args.token, args.warmup)
            for i in range(n)
        )
    )
    wall = time.perf_counter() - t0
    cpu1 = server.cpu_s() if server is not None else None
    client_cpu_s = time.process_time() - client_cpu0
    watcher.cancel()
    # the clients are gone: their last samples are flushed on disconnect (poll for up to 30 s)
    t_end = time.perf_counter()
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        while True:
            for r in results:
                r.stored = (await http.get(f"/api/sessions/{r.session_id}")).json()["sample_count"]
            if all(r.stored >= r.processed for r in results) or time.perf_counter() - t_end > 30:
                break
            await asyncio.sleep(0.25)
        flush_wait_s = time.perf_counter() - t_end
        if not args.keep:
            for r in results:
                await http.delete(f"/api/sessions/{r.session_id}")
    per_stream = np.array([r.processed_fps for r in results])
    rtts = np.array([x for r in results for x in r.rtts_ms])
    all_rtts = np.array([x for r in results for x in r.rtts_ms + r.warm_rtts_ms])
    sent = sum(r.sent for r in results)
    processed = sum(r.processed for r in results)
    dropped = sum(r.dropped for r in results)
    stored = sum(r.stored for r in results)
    out = {
        "clients": n,
        "seconds": args.seconds,
        "fps_per_client": args.fps,
        "sent": sent,
        "processed": processed,
        "dropped": dropped,
        "errors": sum(r.errors for r in results),
        "accounted": processed + dropped == sent,
        "drop_ratio": dropped / sent if sent else 0.0,
        "processed_fps": processed / wall,
        "stream_fps_min": float(per_stream.min()),
        "stream_fps_median": float(np.median(per_stream)),
        "rtt_p50_ms": float(np.percentile(rtts, 50)) if len(rtts) else None,
        "rtt_p99_ms": float(np.percentile(rtts, 99)) if len(rtts) else None,
        "rtt_p99_with_warmup_ms": float(np.percentile(all_rtts, 99)) if len(all_rtts) else None,
        "warmup_s": args.warmup,
        "stored": stored,
        "stored_equals_processed": stored == processed,
        "stored_after_s": flush_wait_s,
        "all_completed": all(r.completed for r in results),
        "client_cpu_share": client_cpu_s / wall,  # cores this load client used (it shares the machine)
        "server_cpu_ms_per_frame": (cpu1 - cpu0) * 1e3 / processed
        if cpu0 is not None and cpu1 is not None and processed
        else None,
        "server_rss_peak_mb": max(rss) if rss else None,
        "server_rss_end_mb": server.rss_mb() if server else None,
        "server_rss_idle_mb": rss0,
        "server_rss_per_stream_mb": (max(rss) - rss0) / n if rss and rss0 is not None else None,
        "server_threads_peak": max(threads) if threads else None,
        "server_threads_per_stream": (max(threads) - threads0) / n
        if threads and threads0 is not None
        else None,
    }
    return out


def http_base(url: str) -> str:
    """The server's HTTP base from ``--url``: ``ws://`` and ``wss://`` (e.g. nginx in front) become
    ``http://`` and ``https://``; REST calls and WebSockets both go to that host."""
    url = url.rstrip("/")
    for ws, http in (("ws://", "http://"), ("wss://", "https://")):
        if url.startswith(ws):
            return http + url[len(ws) :]
    return url


def fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", default="4", help="clients per run, or a comma-separated sweep (4,8,12)")
    ap.add_argument("--seconds", type=float, default=30.0, help="streaming time per run")
    ap.add_argument("--fps", type=float, default=15.0, help="frames per second per client")
    ap.add_argument(
        "--url",
        default=None,
        help="a running server, http(s):// or ws(s):// (e.g. nginx in front); default: start one here",
    )
    ap.add_argument("--token", default=os.environ.get("GAZESCOPE_API_TOKEN"), help="API token, if required")
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    ap.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds at the start of each client (Face Mesh start-up) left out of p50/p99",
    )
    ap.add_argument("--quality", type=int, default=70, help="JPEG quality of the frames")
    ap.add_argument("--workers", type=int, default=None, help="GAZESCOPE_WORKER_THREADS of the local server")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="GAZESCOPE_X=V",
        help="setting of the local server (repeatable), e.g. GAZESCOPE_STORE_BEFORE_REPLY=true",
    )
    ap.add_argument(
        "--src",
        type=Path,
        default=ROOT / "src",
        help="source tree the local server runs (e.g. an old commit's src/, for old and new side by side)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the sessions (default: delete them)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    ap.add_argument(
        "--mode",
        choices=("frames", "landmarks", "both"),
        default="frames",
        help="what the clients send: JPEG frames, binary landmarks messages, or both ladders in one run",
    )
    ap.add_argument(
        "--landmark-clients",
        default="20,40,80",
        help="with --mode both: the landmarks ladder (--clients is the frames ladder)",
    )
    ap.add_argument(
        "--p99-limit", type=float, default=P99_LIMIT_MS, help="p99 round trip (ms) a run must keep"
    )
    args = ap.parse_args()

    def ladder(text: str) -> list[int]:
        return [int(x) for x in str(text).split(",") if x.strip()]

    plans: list[tuple[str, list[int]]] = []
    if args.mode in ("frames", "both"):
        plans.append(("frames", ladder(args.clients)))
    if args.mode == "landmarks":
        plans.append(("landmarks", ladder(args.clients)))
    if args.mode == "both":
        plans.append(("landmarks", ladder(args.landmark_clients)))
    print(f"cpu count {os.cpu_count()}; {args.fps:g} FPS per client for {args.seconds:g} s")
    summary: dict[str, dict] = {}
    for mode, counts in plans:
        summary[mode] = run_mode(mode, counts, args)
    if len(summary) > 1:
        print(f"\nside by side (p99 limit {args.p99_limit:g} ms):")
        print(
            "| mode | largest N ok | N | processed FPS | p99 ms | server CPU ms/frame | RSS MB/stream | "
            "threads/stream | stored == processed |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for mode, res in summary.items():
            for r in res["runs"]:
                print(
                    f"| {mode} | {res['largest_ok_clients']} | {r['clients']} | {fmt(r['processed_fps'])} | "
                    f"{fmt(r['rtt_p99_ms'])} | {r['server_cpu_ms_per_frame'] or float('nan'):.2f} | "
                    f"{r['server_rss_per_stream_mb'] or float('nan'):.2f} | "
                    f"{r['server_threads_per_stream'] or float('nan'):.2f} | {r['stored_equals_processed']} |"
                )
    if args.json is not None:
        args.json.write_text(
            json.dumps(summary if len(summary) > 1 else next(iter(summary.values())), indent=2)
        )


def run_mode(mode: str, counts: list[int], args: argparse.Namespace) -> dict:
    """One ladder of ``mode`` on its own server (a fresh local one unless ``--url``); its figures."""
    if mode == "landmarks":
        frames: list[str] | list[tuple[int, bytes]] = load_landmarks(args.video, 842)
    else:
        frames = load_frames(args.video, args.quality, 842)
    server = None
    if args.url is None:
        env = dict(BENCH_LIMITS)
        if args.workers:
            env["GAZESCOPE_WORKER_THREADS"] = str(args.workers)
        env.update(kv.split("=", 1) for kv in args.env)
        server = LocalServer(env, src=args.src.resolve())
        base_url = server.url
    else:
        base_url = http_base(args.url)
    where = f"local subprocess of {args.src}" if server else "external"
    print(f"\n[{mode}] server {base_url} ({where}); {len(frames)} frames", flush=True)
    runs = []
    try:
        for n in counts:
            r = asyncio.run(one_run(base_url, n, frames, args, server))
            r["mode"] = mode
            runs.append(r)
            print(
                f"[{mode}] N={n:>3}  sent={r['sent']:>6}  processed={r['processed']:>6}  dropped={r['dropped']:>5} "
                f"(ratio {r['drop_ratio']:.3f})  processed_fps={fmt(r['processed_fps'])} "
                f"(per stream min {fmt(r['stream_fps_min'])} median {fmt(r['stream_fps_median'])})  "
                f"rtt p50={fmt(r['rtt_p50_ms'])} ms p99={fmt(r['rtt_p99_ms'])} ms "
                f"(p99 incl. warm-up {fmt(r['rtt_p99_with_warmup_ms'])} ms)  "
                f"stored={r['stored']} (== processed: {r['stored_equals_processed']}, after "
                f"{r['stored_after_s']:.1f} s)  "
                f"server cpu={fmt(r['server_cpu_ms_per_frame'])} ms/frame  "
                f"load client cpu={r['client_cpu_share']:.2f} cores  "
                f"rss peak={fmt(r['server_rss_peak_mb'])} MB end={fmt(r['server_rss_end_mb'])} MB "
                f"per stream={fmt(r['server_rss_per_stream_mb'])} MB  "
                f"threads peak={r['server_threads_peak']} per stream={fmt(r['server_threads_per_stream'])}  "
                f"errors={r['errors']}  accounted={r['accounted']}",
                flush=True,
            )
    finally:
        if server is not None:
            server.stop()
    ok = [
        r["clients"]
        for r in runs
        if r["rtt_p99_ms"] is not None and r["rtt_p99_ms"] <= args.p99_limit and r["stored_equals_processed"]
    ]
    largest = max(ok) if ok else None
    print(
        f"[{mode}] largest N with p99 <= {args.p99_limit:g} ms and stored == processed: {largest or 'none'}"
    )
    return {"runs": runs, "largest_ok_clients": largest}


if __name__ == "__main__":
    main()
