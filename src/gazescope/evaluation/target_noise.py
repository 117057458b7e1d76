"""What several frames per calibration target buy against one (``benchmarks/target_noise.py``).

The live calibration collects ``calibration_samples_per_target`` frames per target and fits one median
row per target (:func:`gazescope.calibration.features.aggregate`). webcam_dots holds one snapshot per dot,
so the frames a live target would give are rebuilt from it: each snapshot is copied ``n`` times with
zero-mean Gaussian pixel noise added and Face Mesh runs on every copy, so the features carry the landmark
model's own jitter. The noise level is the one whose iris jitter across copies matches the frame-to-frame
iris jitter Face Mesh shows on the desk webcam video (:func:`video_feature_jitter`, robust MAD x 1.4826 /
sqrt(2) of consecutive differences; Hampel 1974 for the MAD scale), so the copies are as noisy, in
feature terms, as live frames of a webcam. The session protocol (data README) is then run with calibration rows
from one copy (a single frame) and from the median or the mean of the ``n`` copies; the scored images are
single copies, as live samples are.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from gazescope.calibration.features import FEATURE_NAMES, GazeFeatures, aggregate, extract_features
from gazescope.calibration.mappers import create_mapper
from gazescope.config import Settings
from gazescope.errors import NotEnoughDataError, VideoReadError
from gazescope.evaluation.gaze import _read_labels
from gazescope.evaluation.scoring import ErrorStats, LabelledItem, errors, stats


def video_feature_jitter(
    video: Path, settings: Settings | None = None, max_frames: int = 900
) -> dict[str, float]:
    """Frame-to-frame jitter of each calibration feature over a webcam video, as the live tracker sees it
    (Face Mesh in tracking mode): 1.4826 x median |f[t+1] - f[t]| / sqrt(2) per feature (the median
    ignores the minority of frames where the eyes or head really move).

    Raises:
        VideoReadError: the video cannot be read or gives fewer than 2 frames with features.
    """
    from gazescope.vision.pipeline import FrameAnalyzer

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise VideoReadError(f"cannot open video {video}")
    analyzer = FrameAnalyzer(settings or Settings())
    rows: list[np.ndarray | None] = []
    try:
        while len(rows) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            gf = extract_features(analyzer.analyze(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)))
            rows.append(gf.vector() if gf is not None else None)
    finally:
        cap.release()
        analyzer.close()
    diffs = [b - a for a, b in itertools.pairwise(rows) if a is not None and b is not None]
    if not diffs:
        raise VideoReadError(f"{video}: fewer than 2 consecutive frames with features")
    jit = 1.4826 * np.median(np.abs(np.stack(diffs)), axis=0) / np.sqrt(2.0)
    return {k: float(x) for k, x in zip(FEATURE_NAMES, jit, strict=True)}


def noisy_copies(rgb: np.ndarray, sigma: float, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``n`` copies of an RGB uint8 image with Gaussian pixel noise of ``sigma`` grey levels added."""
    base = rgb.astype(np.float32)
    return [np.clip(base + rng.normal(0.0, sigma, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


@dataclass(frozen=True, slots=True)
class NoisyItem:
    """One labelled snapshot and the features of its noisy copies (None where Face Mesh found no face)."""

    item: LabelledItem
    copies: list[GazeFeatures | None]


def load_noisy(
    folder: Path, sigma: float, n: int, seed: int = 0, settings: Settings | None = None
) -> list[NoisyItem]:
    """Features of ``n`` noisy copies of every image of a webcam_dots folder.

    Raises:
        VideoReadError: missing labels or an unreadable image.
    """
    from gazescope.vision.pipeline import FrameAnalyzer

    rng = np.random.default_rng(seed)
    analyzer = FrameAnalyzer(settings or Settings(), static=True)
    out = []
    try:
        for r in _read_labels(Path(folder)):
            bgr = cv2.imread(str(Path(folder) / r["image"]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise VideoReadError(f"cannot read image {r['image']}")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            feats = [extract_features(analyzer.analyze(c)) for c in noisy_copies(rgb, sigma, n, rng)]
            item = LabelledItem(
                r["subject"],
                r["session"],
                (float(r["x"]), float(r["y"])),
                float(r["screen_w"]),
                float(r["screen_h"]),
                None,
            )
            out.append(NoisyItem(item, feats))
    finally:
        analyzer.close()
    return out


def _mean(features: list[GazeFeatures]) -> GazeFeatures:
    v = np.mean(np.stack([f.vector() for f in features]), axis=0)
    return GazeFeatures(**cast(dict[str, Any], {k: float(x) for k, x in zip(FEATURE_NAMES, v, strict=True)}))


@dataclass(frozen=True, slots=True)
class AggregationComparison:
    """Session-protocol errors with calibration rows from one noisy copy (``single``), the median and the
    mean of the copies, and each feature's std across copies (``jitter``, eye widths)."""

    single: ErrorStats
    median: ErrorStats
    mean: ErrorStats
    jitter: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "single": self.single.to_dict(),
            "median": self.median.to_dict(),
            "mean": self.mean.to_dict(),
            "jitter": dict(self.jitter),
        }


def compare_aggregation(
    noisy: list[NoisyItem], mapper_params: dict[str, Any] | None = None
) -> AggregationComparison:
    """Session-protocol figures with calibration rows from one copy, the median, and the mean of the copies.

    The scored rows are always the first copy (a single live frame). Returns an
    :class:`AggregationComparison`.
    """
    results: dict[str, ErrorStats] = {}
    for how in ("single", "median", "mean"):
        items: list[LabelledItem] = []
        for ni in noisy:
            found = [f for f in ni.copies if f is not None]
            if not found or ni.copies[0] is None:
                items.append(ni.item)
                continue
            cal = found[0] if how == "single" else aggregate(found) if how == "median" else _mean(found)
            # a calibration row and a scored row per image: evaluate_items scores other sessions only
            items.append(replace(ni.item, features=cal, session=ni.item.session + "#cal"))
            items.append(replace(ni.item, features=ni.copies[0]))
        results[how] = _session_protocol(items, mapper_params)
    vec = [np.stack([f.vector() for f in ni.copies if f is not None]) for ni in noisy]
    sd = np.mean([v.std(axis=0) for v in vec if len(v) > 1], axis=0)
    jitter = {k: float(x) for k, x in zip(FEATURE_NAMES, sd, strict=True)}
    return AggregationComparison(results["single"], results["median"], results["mean"], jitter)


def _session_protocol(items: list[LabelledItem], mapper_params: dict[str, Any] | None) -> ErrorStats:
    """The data README's protocol where each session calibrates on its ``#cal`` rows and every other
    session's plain rows are scored."""
    errs: list[float] = []
    pcts: list[float] = []
    by: dict[tuple[str, str], list[LabelledItem]] = {}
    for it in items:
        by.setdefault((it.subject, it.session), []).append(it)
    for (subj, sess), cal in by.items():
        if not sess.endswith("#cal"):
            continue
        try:
            m = create_mapper("ridge", **(mapper_params or {})).fit(
                np.stack([it.features.vector() for it in cal if it.features is not None]),
                np.array([it.target_px for it in cal if it.features is not None]),
            )
        except NotEnoughDataError:
            continue
        test = [
            it
            for (s2, ss), its in by.items()
            if s2 == subj and not ss.endswith("#cal") and ss + "#cal" != sess
            for it in its
        ]
        test = [it for it in test if it.features is not None]
        if not test:
            continue
        e, p = errors(test, m.predict(np.stack([it.features.vector() for it in test])))  # type: ignore[union-attr]
        errs += e
        pcts += p
    return stats(np.array(errs), np.array(pcts))
