"""Real frames for tests: a video's frames as JPEG, the way browsers send them."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import pytest


def video_jpegs(video: Path, limit: int | None = None, quality: int = 70) -> list[bytes]:
    """The first ``limit`` frames of ``video`` (all when None) as JPEG bytes of ``quality``."""
    cap = cv2.VideoCapture(str(video))
    out: list[bytes] = []
    try:
        while limit is None or len(out) < limit:
            ok, frame = cap.read()
            if not ok:
                break
            ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
            assert ok
            out.append(buf.tobytes())
    finally:
        cap.release()
    return out


def webcam_dots_rows(data_dir: Path, subject: str, session: str) -> tuple[Path, list[dict[str, str]]]:
    """The webcam_dots folder and its ``labels.csv`` rows of one subject's session (the test is skipped
    when the set is absent)."""
    folder = data_dir / "gaze" / "webcam_dots"
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"webcam_dots not found under {data_dir}")
    with (folder / "labels.csv").open() as fh:
        return folder, [r for r in csv.DictReader(fh) if r["subject"] == subject and r["session"] == session]
