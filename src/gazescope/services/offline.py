"""Offline analysis of recorded video: the live pipeline (``FrameAnalyzer`` + ``GazeTracker``) run over
every frame of a file or image folder, written as ``samples.csv``, ``report.json`` and ``report.html``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gazescope.analytics.export import samples_to_csv
from gazescope.config import Settings
from gazescope.domain import GazeSample
from gazescope.tracking.tracker import GazeTracker, ScreenMapper
from gazescope.vision.pipeline import FrameAnalyzer
from gazescope.vision.video import VideoInfo, iter_frames, probe


def track_video(
    path: Path,
    *,
    settings: Settings | None = None,
    calibration: ScreenMapper | None = None,
    fps: float | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> tuple[list[GazeSample], GazeTracker, VideoInfo]:
    """Run the causal pipeline over a video or image folder, keeping the typed samples.

    Args:
        path: video file or folder of images.
        settings: thresholds and landmark backend.
        calibration: a fitted calibration to map gaze to the screen.
        fps: frame rate for image folders (or to override the container's).
        on_frame: progress callback (frames done, frames declared).

    Returns:
        (samples, tracker, info): one :class:`GazeSample` per readable frame (``t_ms`` = frame index x
        1000 / fps), the tracker that made them (its ``blink_events``), and the input's ``VideoInfo``.

    Raises:
        VideoReadError: unreadable input.
    """
    settings = settings or Settings()
    info = probe(path, fps)
    analyzer = FrameAnalyzer(settings)
    tracker = GazeTracker(settings, calibration)
    samples: list[GazeSample] = []
    try:
        for idx, t_ms, rgb in iter_frames(path, fps):
            t0 = time.perf_counter()
            ff = analyzer.analyze(rgb)
            ms = (time.perf_counter() - t0) * 1e3
            samples.append(tracker.update(ff, t_ms, idx, processing_ms=ms, image_rgb=rgb))
            if on_frame is not None:
                on_frame(idx + 1, info.frames)
    finally:
        analyzer.close()
    return samples, tracker, info


def analyze_video(
    path: Path,
    *,
    settings: Settings | None = None,
    calibration: ScreenMapper | None = None,
    fps: float | None = None,
    on_frame: Callable[[int, int], None] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """:func:`track_video`, as sample dicts, with the session report (arguments and errors as there).

    Returns:
        (samples, report): one sample dict per frame and the session report.
    """
    settings = settings or Settings()
    typed, tracker, info = track_video(
        path, settings=settings, calibration=calibration, fps=fps, on_frame=on_frame
    )
    samples = [s.to_dict() for s in typed]
    report = build_report(samples, tracker, info.fps, calibration, source=str(path), settings=settings)
    return samples, report


def build_report(
    samples: list[dict[str, Any]],
    tracker: GazeTracker,
    fps: float,
    calibration: ScreenMapper | None,
    source: str,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """The session report of analysed samples (analytics' report, with the tracker's own blink events, which
    carry frame indices and minimum EAR, as ``blinks``); ``settings``: data-quality and activity
    thresholds (default: the defaults)."""
    from gazescope.analytics.report import build_session_report

    session: dict[str, Any] = {"id": None, "label": source, "source": source}
    if calibration is not None:
        session["screen_w_px"] = calibration.screen_w_px
        session["screen_h_px"] = calibration.screen_h_px
    acc = None
    if calibration is not None:
        acc = (getattr(calibration, "accuracy", None) or {}).get("mean_error_px")
    settings = settings or Settings()
    report = build_session_report(
        session, samples, calibration_accuracy_px=acc, fps_hint=fps, quality=settings.data_quality,
        activity=settings.activity,
    ).to_dict()  # fmt: skip
    report["blinks"] = [
        {"start_ms": e.start_ms, "end_ms": e.end_ms, "start_frame": e.start_frame, "end_frame": e.end_frame,
         "duration_ms": e.duration_ms, "min_ear": round(e.min_ear, 4)}
        for e in tracker.blink_events
    ]  # fmt: skip
    report["source"] = source
    return report


def write_outputs(
    out_dir: Path, samples: list[dict[str, Any]], report: dict[str, Any], settings: Settings | None = None
) -> dict[str, Path]:
    """Write samples.csv, report.json and report.html (with plots) into ``out_dir``; ``settings``: activity
    thresholds and the looking-away angle the attention figure marks (default: the defaults)."""
    settings = settings or Settings()
    from gazescope.analytics.report_html import render_report_html, session_images

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "samples": out_dir / "samples.csv",
        "report_json": out_dir / "report.json",
        "report_html": out_dir / "report.html",
    }
    files["samples"].write_text(samples_to_csv(samples))
    files["report_json"].write_text(json.dumps(report, indent=2, default=str))
    session = {"screen_w_px": report.get("screen_w_px"), "screen_h_px": report.get("screen_h_px")}
    images = session_images(
        session, samples, calibration_accuracy_px=report.get("calibration_accuracy_px"),
        fps_hint=report.get("fps"), activity=settings.activity, looking_away_deg=settings.looking_away_deg,
    )  # fmt: skip
    files["report_html"].write_text(render_report_html(report, images))
    return files
