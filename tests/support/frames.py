"""Real frames for tests: a video's frames as JPEG, the way browsers send them."""

from __future__ import annotations

from pathlib import Path

import cv2


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
