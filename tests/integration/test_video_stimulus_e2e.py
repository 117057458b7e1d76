"""Video stimuli end to end on a real ``gazescope serve``: a short real video (``short_video``: cut
from ``../shared/data/videos/hamilton_clip_640x360.mp4`` with ffmpeg at test time, into tmp_path) is uploaded,
served with range requests, given AOIs with time ranges, and watched by two sessions over the tracking
WebSocket (real webcam_dots frames of one person, calibrated with the dots of another of their sessions;
``stimulus_time`` messages give the video position of each frame). Checked: stored samples carry the
video time, heatmaps of different time windows draw different gaze, AOI figures stay inside the AOIs'
time ranges, and the overlay MP4 has the video's frame count and size.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import websockets
from PIL import Image

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SUBJECT = "hy"
FPS = 30
SECONDS = 3
W, H = 320, 180


async def recv_type(ws: Any, *types: str, timeout: float = 120.0) -> dict[str, Any]:
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg["type"] in types:
            return msg


async def calibrate_user(base: str, ws_base: str, dots: list[dict[str, Any]]) -> dict[str, Any]:
    """Calibrate ``SUBJECT`` with one session's dots (ridge, settle 0) and save the profile."""
    async with httpx.AsyncClient(base_url=base) as http:
        sid = (await http.post("/api/sessions", json={"user_id": SUBJECT})).json()["id"]
    async with websockets.connect(f"{ws_base}/ws/sessions/{sid}/track", max_size=None) as ws:
        await recv_type(ws, "session")
        await ws.send(json.dumps({
            "type": "calibration_start", "layout": "16", "screen_w_px": dots[0]["w"], "screen_h_px": dots[0]["h"],
            "mapper": "ridge", "settle_ms": 0, "samples_per_target": 3,
        }))  # fmt: skip
        await recv_type(ws, "calibration_started")
        for p in dots:
            await ws.send(json.dumps({"type": "calibration_target", "x_px": p["x"], "y_px": p["y"]}))
            for _ in range(4):
                await ws.send(p["jpeg"])
                await recv_type(ws, "sample")
        await ws.send(json.dumps({"type": "calibration_finish"}))
        return await recv_type(ws, "calibration_result")


async def watch(ws_base: str, sid: str, video_id: str, frames: list[bytes]) -> None:
    """Stream ``frames`` as the video's frames 0, 1, 2 ... (one per video frame), each after a
    ``stimulus_time`` message giving its position (paused, so the position is exact)."""
    async with websockets.connect(f"{ws_base}/ws/sessions/{sid}/track", max_size=None) as ws:
        await recv_type(ws, "session")
        await recv_type(ws, "calibration_applied")
        for k, jpeg in enumerate(frames):
            msg = {"type": "stimulus_time", "stimulus_id": video_id, "video_t_s": k / FPS, "playing": False}
            await ws.send(json.dumps(msg))
            await ws.send(jpeg)
            await recv_type(ws, "sample")


def test_video_stimulus_two_viewers_windows_aois_overlay(
    serve: Callable[..., Any], short_video: Path, webcam_dots: Callable[..., Any], tmp_path: Path
) -> None:
    clip = short_video
    calib, watch_a, watch_b = (webcam_dots(SUBJECT, s) for s in ("1", "4", "5"))
    screen = {"screen_w_px": calib[0]["w"], "screen_h_px": calib[0]["h"]}
    server = serve(GAZESCOPE_STIMULUS_VIDEO_DIR=str(tmp_path / "videos"))
    with httpx.Client(base_url=server.url, timeout=120) as http:
        # upload: checked by decoding, served with ranges
        r = http.post("/api/stimuli", files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")})
        assert r.status_code == 201, r.text
        video = r.json()
        assert video["kind"] == "video" and (video["width_px"], video["height_px"]) == (W, H)
        assert video["frame_count"] == FPS * SECONDS and video["fps"] == pytest.approx(FPS)
        vid = video["id"]
        part = http.get(video["video_url"], headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.headers["content-type"] == "video/mp4"
        assert part.content == clip.read_bytes()[:100]
        assert http.get(f"/api/stimuli/{vid}/image").headers["content-type"] == "image/jpeg"
        bad = http.post(
            "/api/stimuli", files={"file": ("x.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)}
        )
        assert bad.status_code == 400, bad.text
        aois = [
            {"name": "whole-first-second", "kind": "rect", "x_px": 0, "y_px": 0, "w_px": W, "h_px": H,
             "start_s": 0.0, "end_s": 1.0},
            {"name": "left-half-later", "kind": "rect", "x_px": 0, "y_px": 0, "w_px": W / 2, "h_px": H,
             "start_s": 1.5},
        ]  # fmt: skip
        assert http.put(f"/api/stimuli/{vid}/aois", json={"aois": aois}).status_code == 200

        result = asyncio.run(calibrate_user(server.url, server.ws_url, calib))
        assert result["type"] == "calibration_result", result
        # two viewers: the dots of two other sessions, each dot held for several video frames
        frames_a = [p["jpeg"] for p in watch_a for _ in range(6)][: FPS * SECONDS]
        frames_b = [p["jpeg"] for p in reversed(watch_b) for _ in range(6)][: FPS * SECONDS]
        sids = []
        for frames in (frames_a, frames_b):
            sid = http.post("/api/sessions", json={"user_id": SUBJECT, "stimulus_id": vid, **screen}).json()[
                "id"
            ]
            asyncio.run(watch(server.ws_url, sid, vid, frames))
            http.post(f"/api/sessions/{sid}/end")
            sids.append(sid)

        samples = http.get(f"/api/sessions/{sids[0]}/samples").json()
        samples = samples.get("samples", samples) if isinstance(samples, dict) else samples
        assert [s["video_t_s"] for s in samples] == pytest.approx(
            [k / FPS for k in range(FPS * SECONDS)], abs=1e-3
        )
        assert all(s["stimulus_id"] == vid for s in samples)
        assert sum(s["screen_x_px"] is not None for s in samples) > 0.8 * len(samples)

        # heatmaps of two time windows: the frame's size, drawn from different gaze
        pngs = []
        for t in (0.5, 2.5):
            r = http.get(
                f"/api/stimuli/{vid}/heatmap.png", params={"t_s": t, "window_s": 1.0, "source": "samples"}
            )
            assert r.status_code == 200, r.text
            im = Image.open(io.BytesIO(r.content))
            assert im.size == (W, H)
            pngs.append(np.asarray(im.convert("RGB"), dtype=float))
        assert np.abs(pngs[0] - pngs[1]).mean() > 1.0
        one = http.get(
            f"/api/sessions/{sids[1]}/heatmap.png", params={"t_s": 1.5, "window_s": 3.0, "source": "samples"}
        )
        assert one.status_code == 200, one.text
        assert http.get(f"/api/stimuli/{vid}/heatmap.png", params={"t_s": 99}).status_code == 422

        # fixations per window and AOI figures inside the AOIs' time ranges
        rep = http.get(f"/api/stimuli/{vid}/video/report", params={"window_s": 0.5}).json()
        assert set(rep["session_ids"]) == set(sids) and rep["n_sessions"] == 2
        assert len(rep["windows"]) == 6 and sum(w["fixations"] for w in rep["windows"]) > 0
        assert sum(w["samples"] for w in rep["windows"]) == 2 * FPS * SECONDS
        first = next(a for a in rep["aois"] if a["name"] == "whole-first-second")
        assert (first["start_s"], first["end_s"]) == (0.0, 1.0)
        later = next(a for a in rep["aois"] if a["name"] == "left-half-later")
        assert later["start_s"] == 1.5 and later["end_s"] == pytest.approx(SECONDS)
        for sess in rep["sessions"]:
            m = {a["name"]: a for a in sess["aois"]}
            whole = m["whole-first-second"]
            assert whole["fixated"], sess  # the whole frame: every fixation of the first second is in it
            assert 0 <= whole["ttff_ms"] <= 1000 and 0 < whole["dwell_ms"] <= 1000
            assert whole["sample_dwell_ms"] <= 1000 + 1e-6
            lm = m["left-half-later"]
            assert lm["dwell_ms"] <= 1500 + 1e-6 and lm["sample_dwell_ms"] <= 1500 + 1e-6
            if lm["fixated"]:
                assert 0 <= lm["ttff_ms"] <= 1500

        # the overlay video: the clip's frame count and size
        for mode in ("heatmap", "points"):
            r = http.get(f"/api/stimuli/{vid}/video/overlay.mp4", params={"mode": mode, "window_s": 1.0})
            assert r.status_code == 200, r.text
            out = tmp_path / f"overlay-{mode}.mp4"
            out.write_bytes(r.content)
            cap = cv2.VideoCapture(str(out))
            n, size = 0, None
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                size = (frame.shape[1], frame.shape[0])
                n += 1
            cap.release()
            assert (n, size) == (FPS * SECONDS, (W, H)), mode
