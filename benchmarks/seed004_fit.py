"""Seed 004's "mini training", timed: where the time goes from the last calibration frame to the personal
model being ready and the frames held meanwhile being stored (issue 21, item 1).

The seed's Android app is replayed against a real ``gazescope serve`` on ``/ws/test_dispatcher/``: 9 dots
(the 3x3 grid of one ``gaze/webcam_dots`` session of subject ``hy``), each shown for ``--dot-s`` seconds
(the app: 4 s) at 30 FPS with that dot's real webcam image and its coordinates (binary ``C`` messages with
``userId``), then ``RequestVideoURL:1`` (which starts the fit), then ``--predict-s`` seconds of ``P`` frames
(images of another session) at 30 FPS, then the client leaves. Screen 1536x920 and a cnn time budget of
``--budget-s`` (``GAZESCOPE_SEED004_*``). Printed, from the moment the last calibration frame was sent:

* ``model``: the personal profile is saved (``GET /api/profiles?user_id=``, polled every 50 ms);
* ``stored``: the session ended with every frame sent processed or dropped (the held frames stored);
* ``left``: when the client left (its last ``P`` frame);
* from the server's log: the fit's own seconds (``seed004_fit``), and, where logged, the wait for the
  calibration frames still queued (``drain_s``) and the wait for a fit slot.

Examples::

    python benchmarks/seed004_fit.py                                  # this checkout
    python benchmarks/seed004_fit.py --compare /work/main/src         # main first, then this checkout
    python benchmarks/seed004_fit.py --dot-s 1.5 --predict-s 3        # a shorter replay
    python benchmarks/seed004_fit.py --drain    # times from the last calibration frame processed (busy host)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import websockets
from ws_load import LocalServer  # benchmarks/ is on sys.path when this script runs

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GAZESCOPE_DATA_DIR", ROOT.parent / "shared" / "data"))
SUBJECT = "hy"
FPS = 30
GRID = ({50.0, 529.0, 1486.0}, {50.0, 559.0, 814.0})  # 9 of the 16 dots of webcam_dots: a 3x3 grid
LABEL = "seed004 /ws/test_dispatcher/"


def load_dots(session: str) -> list[dict[str, Any]]:
    """``{"b64", "x", "y"}`` of each image of ``hy``'s webcam_dots ``session`` (labels.csv order)."""
    folder = DATA / "gaze" / "webcam_dots"
    if not (folder / "labels.csv").is_file():
        sys.exit(f"webcam_dots not found under {DATA} (GAZESCOPE_DATA_DIR)")
    with (folder / "labels.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["subject"] == SUBJECT and r["session"] == session]
    return [
        {
            "b64": base64.b64encode((folder / r["image"]).read_bytes()).decode(),
            "x": float(r["x"]),
            "y": float(r["y"]),
        }
        for r in rows
    ]


async def paced(ws: Any, messages: list[bytes]) -> None:
    """Send at 30 FPS, as the app does."""
    t0 = time.monotonic()
    for k, m in enumerate(messages):
        await ws.send(m)
        await asyncio.sleep(max(0.0, t0 + (k + 1) / FPS - time.monotonic()))


async def replay(url: str, dot_s: float, predict_s: float, drain: bool) -> dict[str, float | None]:
    calib = [d for d in load_dots("1") if d["x"] in GRID[0] and d["y"] in GRID[1]]
    assert len(calib) == 9, len(calib)
    predict = load_dots("4")
    per_dot = round(dot_s * FPS)
    c_msgs = [
        ("C" + json.dumps({"userId": SUBJECT, "images": d["b64"], "age": 30, "gender": "male",
                           "coordinates": [d["x"], d["y"]]})).encode()
        for d in calib
        for _ in range(per_dot)
    ]  # fmt: skip
    n_p = round(predict_s * FPS)
    p_msgs = [
        ("P" + json.dumps({"userId": SUBJECT, "images": predict[k % len(predict)]["b64"], "age": 30,
                           "gender": "male"})).encode()
        for k in range(n_p)
    ]  # fmt: skip
    sent = len(c_msgs) + len(p_msgs)
    ws_url = url.replace("http://", "ws://")
    marks: dict[str, float | None] = {"model": None, "stored": None}
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        async with websockets.connect(f"{ws_url}/ws/test_dispatcher/", max_size=None) as ws:
            await paced(ws, c_msgs)
            t_last_c = time.monotonic()
            if drain:  # the phone waits until the server has processed every calibration frame
                while True:
                    found = [s for s in (await http.get("/api/sessions")).json() if s.get("label") == LABEL]
                    if found and found[0]["sample_count"] + found[0]["dropped_frames"] >= len(c_msgs):
                        break
                    await asyncio.sleep(0.05)
                marks["drained"] = time.monotonic() - t_last_c
                t_last_c = time.monotonic()
            await ws.send("RequestVideoURL:1")
            await asyncio.wait_for(ws.recv(), 60)

            async def watch_model() -> None:
                while marks["model"] is None:
                    if (await http.get("/api/profiles", params={"user_id": SUBJECT})).json():
                        marks["model"] = time.monotonic() - t_last_c
                        return
                    await asyncio.sleep(0.05)

            watcher = asyncio.create_task(watch_model())
            await paced(ws, p_msgs)
        marks["left"] = time.monotonic() - t_last_c
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            sessions = [s for s in (await http.get("/api/sessions")).json() if s.get("label") == LABEL]
            if sessions and sessions[0]["status"] == "ended":
                s = sessions[0]
                marks["stored"] = time.monotonic() - t_last_c
                marks["samples"] = s["sample_count"]
                marks["dropped"] = s["dropped_frames"]
                break
            await asyncio.sleep(0.05)
        if marks["model"] is None:
            await asyncio.sleep(0.5)  # the profile is saved before the session ends, if at all
        watcher.cancel()
        if marks["model"] is None and (await http.get("/api/profiles", params={"user_id": SUBJECT})).json():
            marks["model"] = -1.0  # saved, but only seen after the end
        if sessions:
            info = (await http.get(f"/api/sessions/{sessions[0]['id']}")).json()
            samples = (await http.get(f"/api/sessions/{sessions[0]['id']}/samples")).json()["samples"]
            pred = [x for x in samples if x.get("calibration_target_px") is None]
            marks["mapped_p"] = sum(x["screen_x_px"] is not None for x in pred)
            marks["stored_p"] = len(pred)
            marks["calibration_id"] = 1.0 if info.get("calibration_id") else 0.0
    marks["sent"] = sent
    return marks


def fit_events(log: str) -> list[str]:
    """The server's ``seed004_*`` and ``calibration_fit_*`` log lines (logfmt), without time and logger."""
    out = []
    for line in log.splitlines():
        if "event=seed004" in line or "event=calibration_fit" in line:
            out.append(" ".join(p for p in line.split() if not p.startswith(("ts=", "level=", "logger="))))
    return out


def run(src: Path, a: argparse.Namespace) -> None:
    env = {
        "GAZESCOPE_SEED004_SCREEN_W_PX": "1536",
        "GAZESCOPE_SEED004_SCREEN_H_PX": "920",
        "GAZESCOPE_SEED004_CNN_TIME_BUDGET_S": str(a.budget_s),
    }
    srv = LocalServer(env, src=src)
    try:
        m = asyncio.run(replay(srv.url, a.dot_s, a.predict_s, a.drain))
        log = srv.log_path.read_text(errors="replace")
    finally:
        srv.stop()

    def fmt(v: float | None) -> str:
        return "never" if v is None else ("after the end" if v < 0 else f"{v:6.1f} s")

    print(f"  frames sent {m['sent']:.0f}: stored {m.get('samples')}, dropped {m.get('dropped')}; "
          f"prediction samples stored {m.get('stored_p')}, mapped {m.get('mapped_p')}")  # fmt: skip
    if "drained" in m:
        print(
            f"  calibration frames all processed {fmt(m['drained'])} after the last was sent; times below from then"
        )
    print(f"  from the last calibration frame: model ready {fmt(m['model'])}, client left {fmt(m['left'])}, "
          f"held frames stored {fmt(m['stored'])}")  # fmt: skip
    for line in fit_events(log):
        print(f"  server log: {line}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dot-s", type=float, default=4.0, help="seconds each dot is shown (the app: 4)")
    ap.add_argument("--predict-s", type=float, default=5.0, help="seconds of prediction frames")
    ap.add_argument("--budget-s", type=float, default=3.0, help="GAZESCOPE_SEED004_CNN_TIME_BUDGET_S")
    ap.add_argument(
        "--drain",
        action="store_true",
        help="wait until the server processed every calibration frame before RequestVideoURL (on a busy "
        "machine the frames still queued when the client leaves are dropped and the fit lacks dots)",
    )
    ap.add_argument("--compare", type=Path, default=None, help="also measure these sources first")
    a = ap.parse_args()
    if a.compare is not None:
        print(f"== before ({a.compare.resolve()})", flush=True)
        run(a.compare.resolve(), a)
    print(f"== after ({(ROOT / 'src').resolve()})", flush=True)
    run(ROOT / "src", a)


if __name__ == "__main__":
    main()
