"""Cost of storing samples one at a time (``store_before_reply``) against in batches (the default).

Appends N real-shaped samples (``GazeSample.to_dict()``, 30 FPS timing) to a fresh session with
``append_samples`` in batches of each given size, on SQLite (a file in a temporary folder, WAL,
``synchronous=NORMAL`` as the service uses it) and on Redis (``--redis-url``, or a redis-server started
here with AOF ``everysec`` when one is installed). Printed per store and batch size: milliseconds per call
(p50, p99) and samples per second one writer reaches. Example::

    python benchmarks/store_append.py --samples 3000 --batches 1,30
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gazescope.domain import GazeSample, SessionInfo
from gazescope.storage import RedisStore, SQLiteStore, Store


def samples(n: int) -> list[dict]:
    return [
        GazeSample(
            t_ms=i * 1000.0 / 30.0,
            frame_index=i,
            face_detected=True,
            face_count=1,
            confidence=0.9,
            pupil_left_px=(300.5, 240.25),
            pupil_right_px=(340.5, 241.0),
            horizontal_ratio=0.5,
            vertical_ratio=0.5,
            ear_left=0.3,
            ear_right=0.31,
            yaw_deg=1.0,
            pitch_deg=-2.0,
            roll_deg=0.5,
            gaze_vector=(0.01, -0.02),
            attention_score=0.9,
            attention_state="focused",
            processing_ms=12.0,
        ).to_dict()
        for i in range(n)
    ]


@contextlib.contextmanager
def local_redis() -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("no redis-server installed; pass --redis-url")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(
            [
                *(exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", d),
                *("--appendonly", "yes", "--appendfsync", "everysec", "--save", ""),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            time.sleep(0.5)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(10)


def measure(store: Store, batch: int, rows: list[dict]) -> tuple[float, float, float]:
    sid = f"bench-{uuid.uuid4().hex[:8]}"
    store.create_session(SessionInfo(id=sid, created_at_ms=time.time() * 1000.0))
    times = []
    t0 = time.perf_counter()
    for k in range(0, len(rows), batch):
        t = time.perf_counter()
        store.append_samples(sid, rows[k : k + batch])
        times.append((time.perf_counter() - t) * 1000.0)
    wall = time.perf_counter() - t0
    assert store.count_samples(sid) == len(rows)
    store.delete_session(sid)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), len(rows) / wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=3000)
    ap.add_argument("--batches", default="1,30", help="comma-separated batch sizes")
    ap.add_argument("--redis-url", default=None)
    args = ap.parse_args()
    rows = samples(args.samples)
    sizes = [int(b) for b in args.batches.split(",")]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = args.redis_url or stack.enter_context(local_redis())
        for name, store in (("sqlite", SQLiteStore(tmp / "bench.db")), ("redis", RedisStore(url))):
            stack.callback(store.close)
            for b in sizes:
                p50, p99, rate = measure(store, b, rows)
                print(
                    f"{name:>6}  batch={b:>4}  per call p50={p50:.3f} ms p99={p99:.3f} ms  "
                    f"{rate:,.0f} samples/s ({args.samples} samples)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
