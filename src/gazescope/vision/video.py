"""Reading recorded video (anything OpenCV's FFmpeg backend reads) or a folder of images, frame by frame.

Frames are yielded as RGB arrays with a timestamp from the frame index and the stream's frame rate
(container timestamps are unreliable in some AVI files), and never written anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from gazescope.errors import VideoReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """``frames``: frame count (declared by the container, may be approximate); ``fps``: frame rate."""

    path: Path
    frames: int
    fps: float
    width: int
    height: int


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def probe(path: Path, fps: float | None = None) -> VideoInfo:
    """Frame count, rate and size of a video or image folder.

    Raises:
        VideoReadError: missing path, unreadable video, or a folder with no images.
    """
    path = Path(path)
    if not path.exists():
        raise VideoReadError(f"{path} does not exist")
    if path.is_dir():
        imgs = _images(path)
        if not imgs:
            raise VideoReadError(f"{path} holds no {'/'.join(IMAGE_SUFFIXES)} images")
        first = cv2.imread(str(imgs[0]))
        if first is None:
            raise VideoReadError(f"cannot read image {imgs[0]}")
        return VideoInfo(path, len(imgs), fps or 30.0, first.shape[1], first.shape[0])
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoReadError(f"cannot open video {path} (not a video OpenCV can read)")
        return VideoInfo(
            path,
            int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            fps or float(cap.get(cv2.CAP_PROP_FPS) or 30.0),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()


def iter_frames(path: Path, fps: float | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield (frame_index, t_ms, rgb) for every readable frame of a video or image folder.

    ``t_ms = frame_index * 1000 / fps``. Unreadable images in a folder are skipped.

    Raises:
        VideoReadError: as :func:`probe`, or when no frame at all could be read.
    """
    info = probe(path, fps)
    n = 0
    if info.path.is_dir():
        for img_path in _images(info.path):
            img = cv2.imread(str(img_path))
            if img is None:
                continue
            yield n, n * 1000.0 / info.fps, cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            n += 1
    else:
        cap = cv2.VideoCapture(str(info.path))
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                yield n, n * 1000.0 / info.fps, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                n += 1
        finally:
            cap.release()
    if n == 0:
        raise VideoReadError(f"no frame could be read from {path}")
