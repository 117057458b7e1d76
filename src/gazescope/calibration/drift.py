"""Drift check: the error of an applied calibration at one point shown mid-session, and whether to
recalibrate (accuracy as in Holmqvist, Nyström & Mulvey, ETRA 2012: target to mean estimate)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.session import GRADE_FAIR_PCT, GRADE_GOOD_PCT
from gazescope.domain import FrameFeatures
from gazescope.errors import NotEnoughDataError

DRIFT_FACTOR = 2.0
"""Recalibration is advised when a drift check's error exceeds ``max(GRADE_GOOD_PCT, DRIFT_FACTOR x the
validated mean error)`` (in % of width): one point's error is noisy, so only an error clearly worse than
the calibration's own validation means the mapping has moved (head or camera moved, lighting changed)."""


@dataclass(frozen=True, slots=True)
class DriftCheck:
    """Result of :func:`check_drift`: the error at one point now (px and % of width), the threshold used,
    the number of usable samples, and whether recalibration is advised."""

    target_px: tuple[float, float]
    estimate_px: tuple[float, float]
    error_px: float
    error_pct_width: float
    threshold_pct_width: float
    n_samples: int
    recalibrate: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_px": list(self.target_px),
            "estimate_px": [round(v, 2) for v in self.estimate_px],
            "error_px": round(self.error_px, 2),
            "error_pct_width": round(self.error_pct_width, 3),
            "threshold_pct_width": round(self.threshold_pct_width, 3),
            "n_samples": self.n_samples,
            "recalibrate": self.recalibrate,
        }


def check_drift(
    calibration: FittedCalibration,
    samples: Sequence[FrameFeatures],
    target_px: tuple[float, float],
    images_rgb: Sequence[np.ndarray] | None = None,
) -> DriftCheck:
    """Current error at one validation point shown mid-session (the client shows a dot; pass the frames
    collected while it was fixated, after the settle window and without blinks).

    Recalibration is advised when the error exceeds ``max(GRADE_GOOD_PCT, DRIFT_FACTOR x the calibration's
    validated mean error)`` in % of the screen width (see :data:`DRIFT_FACTOR`).

    Raises:
        NotEnoughDataError: none of the samples has usable features.
    """
    imgs: Sequence[np.ndarray | None] = images_rgb if images_rgb is not None else [None] * len(samples)
    preds = [calibration.predict_screen(ff, img) for ff, img in zip(samples, imgs, strict=False)]
    pts = np.array([p for p in preds if p is not None])
    if len(pts) == 0:
        raise NotEnoughDataError(
            "a drift check needs at least 1 sample with a detected face and irises, got 0"
        )
    est = pts.mean(axis=0)
    err = float(math.hypot(est[0] - target_px[0], est[1] - target_px[1]))
    pct = 100.0 * err / calibration.screen_w_px
    base = calibration.accuracy.get("mean_error_pct_width")
    threshold = max(GRADE_GOOD_PCT, DRIFT_FACTOR * float(base)) if base is not None else GRADE_FAIR_PCT
    return DriftCheck(
        target_px=(float(target_px[0]), float(target_px[1])),
        estimate_px=(float(est[0]), float(est[1])),
        error_px=err,
        error_pct_width=pct,
        threshold_pct_width=threshold,
        n_samples=len(pts),
        recalibrate=pct > threshold,
    )
