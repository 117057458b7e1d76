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


# --------------------------------------------------------------------------------------------------
# uploaded video stimuli: checked by decoding (OpenCV's FFmpeg backend), never executed
# --------------------------------------------------------------------------------------------------

VIDEO_MEDIA_TYPES = {"mp4": "video/mp4", "webm": "video/webm"}


def sniff_video_format(data: bytes) -> str | None:
    """'mp4' (ISO base media: ``ftyp`` box at byte 4) or 'webm' (EBML magic ``1A 45 DF A3``), else None."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


@dataclass(frozen=True, slots=True)
class VideoStimulusInfo:
    """A decoded stimulus video: ``width_px`` x ``height_px``, ``fps`` (> 0), ``frame_count`` (frames that
    decode), ``duration_s = frame_count / fps``."""

    width_px: int
    height_px: int
    fps: float
    frame_count: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps


def inspect_video(path: Path, *, max_width: int, max_height: int) -> VideoStimulusInfo:
    """Decode every frame of the video at ``path`` to check it and count its frames.

    Raises:
        VideoReadError: OpenCV cannot open it, no frame decodes, or it has no frame rate.
        FrameTooLargeError: frames larger than ``max_width`` x ``max_height`` (checked on the first frame,
            before the rest is decoded).
    """
    from gazescope.errors import FrameTooLargeError

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise VideoReadError("the file is not a video OpenCV (FFmpeg) can decode")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoReadError("no frame of the video could be decoded")
        h, w = frame.shape[:2]
        if w > max_width or h > max_height:
            raise FrameTooLargeError(f"video frames are {w}x{h}, over the limit of {max_width}x{max_height}")
        if not (fps > 0 and np.isfinite(fps)):
            raise VideoReadError("the video declares no frame rate")
        n = 1
        while cap.grab():
            n += 1
        return VideoStimulusInfo(int(w), int(h), fps, n)
    finally:
        cap.release()


def read_frame_at(path: Path, t_s: float, fps: float) -> np.ndarray:
    """The RGB frame (H, W, 3) shown at ``t_s`` seconds (frame ``floor(t_s * fps)``, clamped to the video).

    Raises:
        VideoReadError: the video cannot be opened or the frame cannot be decoded.
    """
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise VideoReadError("cannot open the stimulus video")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        index = max(0, int(t_s * fps + 1e-6))
        if n > 0:
            index = min(index, n - 1)
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoReadError(f"frame {index} of the stimulus video could not be decoded")
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
