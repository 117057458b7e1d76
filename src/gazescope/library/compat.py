"""``GazeTracking``: the API of the GazeTracking library (antoinelame/GazeTracking) on gazescope's tracker.

Code written for GazeTracking runs after changing its import::

    from gazescope import GazeTracking   # was: from gaze_tracking import GazeTracking

    gaze = GazeTracking()
    gaze.refresh(frame)                  # a BGR frame from cv2.VideoCapture
    if gaze.is_blinking(): ...
    gaze.horizontal_ratio(); gaze.is_right(); gaze.annotated_frame()

Meanings follow GazeTracking: ``horizontal_ratio`` 0.0 = looking to the subject's far right ... 1.0 = far
left, ``vertical_ratio`` 0.0 = top ... 1.0 = bottom; ``is_right`` at a ratio <= 0.35, ``is_left`` >= 0.65
(the settings ``direction_right_threshold``/``direction_left_threshold``), ``is_center`` otherwise; every
method answers None while the pupils are not located (``is_blinking``: while no face is found). What
differs: MediaPipe Face Mesh instead of dlib (no model file to download), smoothed ratios held through
blinks, blinks from an adaptive per-person eye aspect ratio threshold instead of a fixed 3.8 width/height
ratio, and ``pupil_left_coords`` is the
subject's own left eye (GazeTracking's "left" is the eye on the image's left, the subject's right).
:attr:`GazeTracking.sample` gives the whole :class:`~gazescope.domain.GazeSample`.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import cv2
import numpy as np

from gazescope.config import Settings
from gazescope.domain import Direction, GazeSample
from gazescope.library.tracker import Tracker

#: GazeTracking's pupil marker: a green cross (BGR) with arms of 5 px.
CROSS_COLOR_BGR = (0, 255, 0)
CROSS_ARM_PX = 5


class GazeTracking:
    """GazeTracking's class, on a :class:`~gazescope.library.tracker.Tracker`.

    Args:
        fps: the frame rate of the frames refreshed, when they come from a file (None: the clock).
        settings: as :class:`Tracker`.
    """

    def __init__(self, *, fps: float | None = None, settings: Settings | None = None) -> None:
        self.tracker = Tracker(fps=fps, settings=settings)
        self.frame: np.ndarray | None = None
        self.sample: GazeSample | None = None

    def refresh(self, frame: Any) -> None:
        """Analyse a new frame: numpy (H, W, 3) uint8 BGR (raises ValidationError for anything else)."""
        self.sample = self.tracker.process(frame)
        self.frame = frame

    @property
    def pupils_located(self) -> bool:
        """Both pupils were found in the last frame."""
        s = self.sample
        return bool(
            s is not None and s.pupil_left_px is not None and s.pupil_right_px is not None
            and s.horizontal_ratio is not None and s.vertical_ratio is not None
        )  # fmt: skip

    @staticmethod
    def _coords(p: tuple[float, float] | None) -> tuple[int, int] | None:
        return None if p is None else (int(p[0]), int(p[1]))

    def pupil_left_coords(self) -> tuple[int, int] | None:
        """(x, y) frame pixels of the subject's left pupil, or None."""
        return self._coords(self.sample.pupil_left_px) if self.pupils_located and self.sample else None

    def pupil_right_coords(self) -> tuple[int, int] | None:
        """(x, y) frame pixels of the subject's right pupil, or None."""
        return self._coords(self.sample.pupil_right_px) if self.pupils_located and self.sample else None

    def horizontal_ratio(self) -> float | None:
        """0.0 (subject's far right) .. 1.0 (far left), 0.5 centre; None without pupils."""
        return self.sample.horizontal_ratio if self.pupils_located and self.sample else None

    def vertical_ratio(self) -> float | None:
        """0.0 (top) .. 1.0 (bottom), 0.5 centre; None without pupils."""
        return self.sample.vertical_ratio if self.pupils_located and self.sample else None

    def _direction(self, d: Direction) -> bool | None:
        return self.sample.direction == d if self.pupils_located and self.sample else None

    def is_right(self) -> bool | None:
        """Looking to the subject's right (horizontal_ratio <= 0.35); None without pupils."""
        return self._direction(Direction.RIGHT)

    def is_left(self) -> bool | None:
        """Looking to the subject's left (horizontal_ratio >= 0.65); None without pupils."""
        return self._direction(Direction.LEFT)

    def is_center(self) -> bool | None:
        """Neither right nor left; None without pupils."""
        return self._direction(Direction.CENTER)

    def is_blinking(self) -> bool | None:
        """The eyes are closed in a blink (or a longer closure); None without a face (pupils may be lost
        while the eyes are closed, so this answers whenever a face is found)."""
        s = self.sample
        return bool(s.is_blinking) if s is not None and s.face_detected else None

    def annotated_frame(self) -> np.ndarray | None:
        """A copy of the last frame with a green cross on each pupil (None before the first refresh)."""
        if self.frame is None:
            return None
        frame = np.array(self.frame, copy=True)
        if self.pupils_located:
            for p in (self.pupil_left_coords(), self.pupil_right_coords()):
                if p is not None:
                    x, y = p
                    cv2.line(frame, (x - CROSS_ARM_PX, y), (x + CROSS_ARM_PX, y), CROSS_COLOR_BGR)
                    cv2.line(frame, (x, y - CROSS_ARM_PX), (x, y + CROSS_ARM_PX), CROSS_COLOR_BGR)
        return frame

    def close(self) -> None:
        """Free the landmark graph."""
        self.tracker.close()

    def __enter__(self) -> GazeTracking:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
