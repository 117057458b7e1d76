"""Per-frame eye aspect ratio (EAR) series of labelled blink clips, cached on disk.

Face Mesh is the costly step of the blink evaluation; the blink detector itself only reads the EAR of
each frame slot. :func:`clip_series` runs the landmark pipeline once per clip (frame slots placed as in
:func:`~gazescope.evaluation.blink.read_video_slots`) and stores the EAR series and the annotated blink
spans as ``.npz`` under a cache folder, so threshold tuning (:mod:`gazescope.evaluation.blink_loso`)
replays the causal detector over cached series in milliseconds. The cache key holds the clip's path,
size and mtime and the landmark backend, so a changed clip or backend is re-measured.

EAR: Soukupova & Cech, "Real-Time Eye Blink Detection using Facial Landmarks", CVWW 2016.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gazescope.config import Settings
from gazescope.evaluation.blink import read_video_slots, truth_spans


@dataclass(frozen=True, slots=True)
class EarSeries:
    """One clip's EAR per frame slot and its annotated blinks.

    ``ear``: shape (n_slots,), the mean EAR of both eyes (dimensionless, about 0.05-0.45), NaN where no
    face was found. ``fps``: frame slots per second. ``truth``: (first, last) frame slot of each annotated
    blink, already scaled to slots and widened as the protocol says. ``clip``: the video path.
    ``subject``: the ZJU subject (the six-digit prefix of the file name, else the folder name).
    """

    clip: str
    subject: str
    fps: float
    ear: np.ndarray
    truth: list[tuple[int, int]]


def subject_of(video: Path) -> str:
    """ZJU subject of a clip: the six-digit prefix of ``000003M_FBN``-style names, else the parent folder."""
    m = re.match(r"(\d{6})", video.stem)
    return m.group(1) if m else video.parent.name


def _cache_path(cache_dir: Path, video: Path, tag: Path, settings: Settings) -> Path:
    st_v, st_t = video.stat(), tag.stat()
    key = (
        f"{video.resolve()}|{st_v.st_size}|{st_v.st_mtime_ns}|{st_t.st_mtime_ns}|{settings.landmark_backend}"
    )
    return cache_dir / f"{video.stem}-{hashlib.sha1(key.encode()).hexdigest()[:12]}.npz"


def measure_series(video: Path, tag: Path, settings: Settings) -> EarSeries:
    """Run the landmark pipeline over every frame slot of ``video`` (no cache).

    Raises:
        VideoReadError: the video cannot be decoded or the tag has no annotated frame.
    """
    from gazescope.vision.pipeline import FrameAnalyzer

    images, fps = read_video_slots(video)
    ear = np.full(len(images), np.nan)
    analyzer = FrameAnalyzer(settings)
    try:
        for i, img in enumerate(images):
            ff = analyzer.analyze(img)
            if ff.face_detected and ff.ear_mean is not None:
                ear[i] = ff.ear_mean
    finally:
        analyzer.close()
    return EarSeries(str(video), subject_of(video), fps, ear, truth_spans(tag, len(images)))


def clip_series(video: Path, tag: Path, settings: Settings, cache_dir: Path | None = None) -> EarSeries:
    """The clip's :class:`EarSeries`, read from ``cache_dir`` when measured before, else measured and stored."""
    if cache_dir is None:
        return measure_series(video, tag, settings)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = _cache_path(cache_dir, video, tag, settings)
    if path.exists():
        with np.load(path) as z:
            ear, fps = z["ear"], float(z["fps"])
        return EarSeries(str(video), subject_of(video), fps, ear, truth_spans(tag, len(ear)))
    series = measure_series(video, tag, settings)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ear=series.ear, fps=series.fps)
    tmp.replace(path)
    return series
