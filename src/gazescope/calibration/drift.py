"""Drift check: the error of an applied calibration at one point shown mid-session, and whether to
recalibrate (accuracy as in Holmqvist, Nyström & Mulvey, ETRA 2012: target to mean estimate).

:func:`check_drift` scores collected frames; :class:`DriftChecks` is the check of one tracking stream
(``drift_start``, frames, ``drift_finish``; ``docs/protocol.md``).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gazescope.calibration.host import CalibrationHost
from gazescope.calibration.messages import DriftResult, DriftStart, DriftStarted
from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.profiles import StreamProfiles
from gazescope.calibration.session import GRADE_FAIR_PCT, GRADE_GOOD_PCT
from gazescope.domain import FrameFeatures, GazeSample
from gazescope.errors import CalibrationError, NotEnoughDataError, ValidationError

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


@dataclass
class _Drift:
    target_px: tuple[float, float]
    boundary: int  # first frame index it applies to
    settle_ms: float
    features: deque[FrameFeatures]  # the newest Settings.calibration_drift_max_samples (or _max_frames)
    t0_ms: float | None = None
    images: deque[Any] | None = None
    skipped: int = 0


class DriftChecks:
    """The drift check of one tracking stream, of the calibration its :class:`StreamProfiles` applied.

    :meth:`observe` runs in the frame worker thread, everything else on the event loop; the running check
    both touch is guarded by a lock. A check takes frames from the first one received after
    ``drift_start``, once ``settle_ms`` passed, without blinks and with a face.
    """

    def __init__(self, host: CalibrationHost, profiles: StreamProfiles) -> None:
        self.host = host
        self.profiles = profiles
        self._lock = threading.Lock()
        self._drift: _Drift | None = None

    @property
    def running(self) -> bool:
        """True while a check collects frames."""
        return self._drift is not None

    def clear(self) -> None:
        """Drop a running check and its frames."""
        with self._lock:
            self._drift = None

    async def start(self, msg: DriftStart) -> DriftStarted:
        """``drift_start``: collect frames for a drift check at one point (replacing a running check).

        Args:
            msg: the point (``x_px``, ``y_px``) on the applied calibration's screen, and the settle time in
                ms (default ``Settings.calibration_settle_ms``; negative counts as 0).

        Returns:
            The ``drift_started`` reply.

        Raises:
            CalibrationError: nothing applied (``not_calibrated``).
            ValidationError: the point lies off the screen.
        """
        x, y = msg.x_px, msg.y_px
        assert x is not None and y is not None
        settle = msg.settle_ms if msg.settle_ms is not None else self.host.settings.calibration_settle_ms
        cal, _ = self.profiles.applied_now()
        if cal is None:
            raise CalibrationError(
                "no calibration is applied: calibrate or send calibration_use first",
                code="not_calibrated",
            )
        if not (0 <= x <= cal.screen_w_px and 0 <= y <= cal.screen_h_px):
            raise ValidationError(f"({x:g}, {y:g}) lies off the {cal.screen_w_px}x{cal.screen_h_px} screen")
        s = self.host.settings
        d = _Drift(
            (x, y),
            self.host.next_frame_index,
            max(0.0, settle),
            deque(maxlen=s.calibration_drift_max_samples),
        )
        if (
            cal.mapper.needs_patches
        ):  # appearance mappers keep the frames too (in memory, until the check ends)
            d.images = deque(maxlen=s.calibration_drift_max_frames)
            d.features = deque(maxlen=s.calibration_drift_max_frames)
        with self._lock:
            self._drift = d
        return DriftStarted(x_px=x, y_px=y, settle_ms=settle)

    async def finish(self) -> DriftResult:
        """``drift_finish``: score the collected frames (:func:`check_drift`) and record the result.

        Returns:
            The ``drift_result`` reply (error in px and % of width, threshold, samples, advice).

        Raises:
            CalibrationError: no check running (``no_drift_check``).
            NotEnoughDataError: no usable frame yet (the check goes on collecting).
        """
        cal, _ = self.profiles.applied_now()
        with self._lock:
            d = self._drift
            if d is None or cal is None:
                raise CalibrationError(
                    "no drift check is running; send drift_start first", code="no_drift_check"
                )
            self._drift = None
            feats = list(d.features)
            images = list(d.images) if d.images is not None else None
        try:
            check = await self.host.cpu(check_drift, cal, feats, d.target_px, images)
        except NotEnoughDataError:
            with self._lock:
                if self._drift is None:
                    self._drift = d  # keep collecting
            raise
        out = check.to_dict()
        _, profile_id = self.profiles.applied_now()  # the profile applied now (a fit may have landed)
        await self.profiles.record("drift", profile_id=profile_id, **out)
        return DriftResult(profile_id=profile_id, **out)

    def observe(self, ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> None:
        """Offer a processed frame to the running check.

        Args:
            ff: the frame's Face Mesh features.
            sample: the frame's sample (``frame_index``, ``t_ms``, ``is_blinking``).
            image_rgb: the frame (H, W, 3) uint8 RGB, kept (in memory) for appearance mappers only.
        """
        with self._lock:
            d = self._drift
            if d is None or sample.frame_index < d.boundary:
                return
            if d.t0_ms is None:
                d.t0_ms = sample.t_ms
            if sample.t_ms - d.t0_ms < d.settle_ms or sample.is_blinking or not ff.face_detected:
                d.skipped += 1
                return
            d.features.append(ff)
            if d.images is not None:
                d.images.append(image_rgb)
