"""``gazescope bench``: where the milliseconds of one frame go, on one core.

Frames of a video are re-encoded as JPEG (as a browser sends them) and then timed stage by stage, each
in the same run on the same frames:

* ``decode``: :func:`gazescope.vision.frames.decode_frame` (limits, header check, libjpeg-turbo to RGB);
* ``landmarks``: the raw landmark inference alone (MediaPipe ``FaceMesh.process``, as a plain MediaPipe
  user would call it);
* ``measures``: everything else in :meth:`FrameAnalyzer.analyze`: copying landmarks out of the result,
  face counting (amortised), EAR, iris ratios, head pose, gaze;
* ``tracking``: :meth:`GazeTracker.update` (filters, blinks, attention);
* ``total``: the sum for the frame.

Percentiles are over frames with a face (the budget that matters). The process is pinned to one core
with ``os.sched_setaffinity`` unless asked otherwise.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from gazescope.config import Settings
from gazescope.errors import VideoReadError
from gazescope.tracking.tracker import GazeTracker
from gazescope.vision.frames import decode_frame, encode_jpeg
from gazescope.vision.pipeline import FrameAnalyzer
from gazescope.vision.video import iter_frames


def _pct(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan")}
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 4), "p95": round(float(np.percentile(a, 95)), 4)}


def run_bench(
    video: Path,
    *,
    quality: int = 70,
    max_frames: int = 100000,
    pin_one_core: bool = True,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Time each stage per frame; returns ``{"stages": {name: {"p50", "p95"}}, "frames", ...}``.

    Raises:
        VideoReadError: unreadable video.
    """
    cpu = "all"
    if pin_one_core and hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        cpu = f"pinned to core {core}"
    settings = settings or Settings()
    jpegs = [encode_jpeg(rgb, quality) for i, _, rgb in iter_frames(video) if i < max_frames]
    if not jpegs:
        raise VideoReadError(f"no frames in {video}")
    analyzer = FrameAnalyzer(settings)
    tracker = GazeTracker(settings)
    detector = analyzer.detector
    stages: dict[str, list[float]] = {k: [] for k in ("decode", "landmarks", "measures", "tracking", "total")}
    faces = 0
    # warm-up: graph initialisation and the first full-frame detection are not per-frame costs
    analyzer.analyze(decode_frame(jpegs[0]))
    fps = 30.0
    try:
        for i, data in enumerate(jpegs):
            t0 = time.perf_counter()
            rgb = decode_frame(data)
            t1 = time.perf_counter()
            ff = analyzer.analyze(rgb)
            t2 = time.perf_counter()
            tracker.update(ff, i * 1000.0 / fps, i)
            t3 = time.perf_counter()
            if not ff.face_detected:
                continue
            faces += 1
            inference = getattr(detector, "last_inference_ms", ff.landmark_ms)
            analyze_ms = (t2 - t1) * 1e3
            stages["decode"].append((t1 - t0) * 1e3)
            stages["landmarks"].append(inference)
            stages["measures"].append(analyze_ms - inference)
            stages["tracking"].append((t3 - t2) * 1e3)
            stages["total"].append((t3 - t0) * 1e3)
    finally:
        analyzer.close()
    res_stages = {k: _pct(v) for k, v in stages.items()}
    lm = res_stages["landmarks"]["p50"]
    total = res_stages["total"]["p50"]
    return {
        "stages": res_stages,
        "frames": len(jpegs),
        "frames_with_face": faces,
        "cpu": cpu,
        "jpeg_quality": quality,
        "backend": settings.landmark_backend,
        "ratio_total_to_landmarks": round(total / lm, 4) if lm else None,
        "ratio_pipeline_to_landmarks": round((total - res_stages["decode"]["p50"]) / lm, 4) if lm else None,
    }
