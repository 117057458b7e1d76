"""``Tracker``: OpenCV frames in, typed :class:`~gazescope.domain.GazeSample` out, from Python.

The live service's pipeline without a server: :class:`~gazescope.vision.pipeline.FrameAnalyzer` (landmarks
and per-frame measures) then :class:`~gazescope.tracking.tracker.GazeTracker` (smoothing, blinks,
attention, screen mapping), one of each per tracker. MediaPipe's native log lines are kept out of the
terminal around every call into it (:func:`~gazescope.library.quiet.quiet_native_logs`).
"""

from __future__ import annotations

import math
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from gazescope.config import Settings
from gazescope.domain import BlinkEvent, FrameFeatures, GazeSample
from gazescope.errors import GazescopeError, ValidationError
from gazescope.library.quiet import quiet_native_logs
from gazescope.tracking.tracker import GazeTracker
from gazescope.vision.pipeline import FrameAnalyzer

if TYPE_CHECKING:
    from gazescope.tracking.tracker import ScreenMapper


#: The blank frame a new tracker runs once so that MediaPipe's graphs start (and log) in its constructor.
WARMUP_SHAPE = (64, 64, 3)


def to_rgb(frame: Any, *, rgb: bool = False) -> np.ndarray:
    """A frame as the pipeline takes it: RGB uint8 (H, W, 3), C-contiguous.

    Args:
        frame: a numpy array (H, W, 3) uint8, BGR as ``cv2.VideoCapture.read`` and ``cv2.imread`` give
            it (or RGB when ``rgb``); (H, W) grey and (H, W, 4) BGRA are converted too.
        rgb: the frame is RGB already.

    Raises:
        ValidationError: not a numpy array, not uint8, or another shape.
    """
    if not isinstance(frame, np.ndarray):
        raise ValidationError(f"a frame must be a numpy array (H, W, 3) uint8, not {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValidationError(f"a frame must be uint8 (0..255), not {frame.dtype}")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.ndim != 3 or frame.shape[2] not in (3, 4) or min(frame.shape[:2]) < 1:
        raise ValidationError(f"a frame must have shape (H, W, 3), not {frame.shape}")
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_RGBA2RGB if rgb else cv2.COLOR_BGRA2RGB)
    if rgb:
        return np.ascontiguousarray(frame)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


class Tracker:
    """Gaze, blinks, head pose and attention of one video stream (a webcam, a file), frame by frame.

    Args:
        calibration: a fitted calibration (:meth:`Calibrator.fit`'s ``.calibration``, or
            :func:`load_calibration`); samples then carry ``screen_x_px``/``screen_y_px``/``on_screen``.
        fps: without timestamps, frame ``n`` is at ``n * 1000 / fps`` ms (a video file's rate). None: the
            monotonic clock since the first frame (a live webcam).
        settings: thresholds and landmark backend (:class:`~gazescope.config.Settings`); None reads the
            ``GAZESCOPE_*`` environment.
        static: True when frames are unrelated still images (no landmark tracking between them).

    Raises:
        ValidationError: ``fps`` not positive. LandmarkBackendError: the landmark backend is missing.

    One tracker per stream: its state (smoothing, blink count, rolling rates) follows the frames in
    order. Use it as a context manager, or call :meth:`close`, to free the landmark graph (about 34 MB).
    """

    def __init__(
        self,
        calibration: ScreenMapper | None = None,
        *,
        fps: float | None = None,
        settings: Settings | None = None,
        static: bool = False,
    ) -> None:
        if fps is not None and not (math.isfinite(fps) and fps > 0):
            raise ValidationError(f"fps must be a positive number, not {fps}")
        self.settings = settings if settings is not None else Settings()
        self.fps = fps
        with quiet_native_logs():
            self._analyzer: FrameAnalyzer | None = FrameAnalyzer(self.settings, static=static)
            # MediaPipe's graph threads log as they start; one blank frame (no face: nothing tracked)
            # makes them start, and log, inside this call.
            self._analyzer.analyze(np.zeros(WARMUP_SHAPE, np.uint8))
        self._tracker = GazeTracker(self.settings, calibration)
        self._frames = 0
        self._t0: float | None = None
        self._last_t_ms: float | None = None

    # -- state ---------------------------------------------------------------------------------------
    @property
    def calibration(self) -> ScreenMapper | None:
        """The calibration applied to the samples, or None."""
        return self._tracker.calibration

    def set_calibration(self, calibration: ScreenMapper | None) -> None:
        """Apply a fitted calibration (None removes it); the next samples carry screen coordinates."""
        self._tracker.set_calibration(calibration)

    @property
    def blink_events(self) -> tuple[BlinkEvent, ...]:
        """Every blink so far (start/end in ms and frame indices, minimum EAR)."""
        return tuple(self._tracker.blink_events)

    @property
    def frames(self) -> int:
        """Frames processed so far."""
        return self._frames

    # -- frames --------------------------------------------------------------------------------------
    def _clock(self, t_ms: float | None) -> float:
        if t_ms is None:
            if self.fps is not None:
                t = self._frames * 1000.0 / self.fps
            else:
                now = time.monotonic()
                if self._t0 is None:
                    self._t0 = now
                t = (now - self._t0) * 1000.0
        else:
            t = float(t_ms)
            if not math.isfinite(t):
                raise ValidationError(f"t_ms must be a finite number of milliseconds, not {t_ms}")
        if self._last_t_ms is not None and t < self._last_t_ms:
            raise ValidationError(
                f"t_ms went back in time ({t} after {self._last_t_ms}); timestamps must not decrease"
            )
        return t

    def step(
        self, frame: Any, t_ms: float | None = None, *, rgb: bool = False
    ) -> tuple[FrameFeatures, GazeSample, np.ndarray]:
        """:meth:`process`, also returning the frame's features and its RGB copy (for calibration)."""
        if self._analyzer is None:
            raise GazescopeError("this tracker is closed", code="closed")
        image = to_rgb(frame, rgb=rgb)
        t = self._clock(t_ms)
        t0 = time.perf_counter()
        with quiet_native_logs():
            ff = self._analyzer.analyze(image)
        ms = (time.perf_counter() - t0) * 1e3
        sample = self._tracker.update(ff, t, self._frames, processing_ms=ms, image_rgb=image)
        self._frames += 1
        self._last_t_ms = t
        return ff, sample, image

    def process(self, frame: Any, t_ms: float | None = None, *, rgb: bool = False) -> GazeSample:
        """Track one frame.

        Args:
            frame: numpy (H, W, 3) uint8, BGR as OpenCV gives it (RGB with ``rgb=True``).
            t_ms: the frame's time in ms, not decreasing along the stream (e.g.
                ``cap.get(cv2.CAP_PROP_POS_MSEC)``); None: from ``fps`` or the monotonic clock.
            rgb: the frame is RGB (from PIL, imageio, MediaPipe examples) rather than BGR.

        Returns:
            The frame's :class:`~gazescope.domain.GazeSample` (fields and units: docs/samples.md).

        Raises:
            ValidationError: a frame of another type or shape, or a timestamp that goes back.
            GazescopeError: the tracker is closed (code ``closed``).
        """
        return self.step(frame, t_ms, rgb=rgb)[1]

    # -- lifetime ------------------------------------------------------------------------------------
    def close(self) -> None:
        """Free the landmark graph; later :meth:`process` calls raise. Closing twice is harmless."""
        if self._analyzer is not None:
            with quiet_native_logs():
                self._analyzer.close()
            self._analyzer = None

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
