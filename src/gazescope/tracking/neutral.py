"""A person's neutral gaze: the direction they hold most of the time while facing the device.

Webcam gaze angles carry a per-person, per-set-up bias of 5-15 degrees (iris landmark bias, eye shape,
where the screen sits relative to the camera): on the labelled clips of ``shared/data/attention`` the
median gaze of people looking into the lens ranges from -5 to +14 degrees of yaw and 0 to +18 of pitch.
Deviations are therefore read from the person's own neutral, the running median of their gaze angles
over ``attention_neutral_window_s`` (frames with a face and open eyes, at most 10 a second), kept within
``attention_neutral_max_deg`` of the camera axis so that a person who looks away most of the time cannot
make looking away their neutral. The median also tracks the pupil's resting place across the eye
(``offset_y``), against which a lid closing over the iris drags the iris landmarks down.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

SAMPLE_INTERVAL_MS = 100.0


class NeutralGaze:
    """Causal running median of gaze yaw, pitch (degrees) and pupil offset_y (eye widths).

    Args:
        window_s: how far back the median looks (seconds, > 0).
        max_deg: largest angle of the neutral from the camera axis (degrees, > 0).
        camera_pitch_deg: pitch of the camera axis as seen by the user (degrees; negative below the eyes).
        pitch_weight: weight of the pitch difference in :meth:`deviation_deg` (>= 0; the vertical gaze of
            webcam landmarks is compressed, ``AttentionSettings.attention_pitch_weight``).
    """

    def __init__(
        self, window_s: float, max_deg: float, camera_pitch_deg: float = 0.0, pitch_weight: float = 1.0
    ) -> None:
        self.window_ms = window_s * 1000.0
        self.pitch_weight = pitch_weight
        self.max_deg = max_deg
        self.camera_pitch_deg = camera_pitch_deg
        self._q: deque[tuple[float, float, float, float]] = deque()
        self._last_t: float | None = None
        self.yaw_deg = 0.0
        self.pitch_deg = camera_pitch_deg
        self.offset_y: float | None = None

    @property
    def n(self) -> int:
        """Values in the window."""
        return len(self._q)

    def update(self, t_ms: float, yaw_deg: float, pitch_deg: float, offset_y: float) -> None:
        """Add one open-eyed frame's gaze (sampled at most every 100 ms) and refresh the neutral."""
        if self._last_t is not None and t_ms - self._last_t < SAMPLE_INTERVAL_MS and self._q:
            return
        self._last_t = t_ms
        self._q.append((t_ms, yaw_deg, pitch_deg, offset_y))
        while self._q and self._q[0][0] < t_ms - self.window_ms:
            self._q.popleft()
        med = np.median(np.asarray(self._q, dtype=np.float64)[:, 1:], axis=0)
        y, p = float(med[0]), float(med[1]) - self.camera_pitch_deg
        r = math.hypot(y, p)
        if r > self.max_deg:
            y, p = y * self.max_deg / r, p * self.max_deg / r
        self.yaw_deg, self.pitch_deg = y, p + self.camera_pitch_deg
        self.offset_y = float(med[2])

    def deviation_deg(self, yaw_deg: float, pitch_deg: float) -> float:
        """Angle (degrees, >= 0) between a gaze and the neutral (small-angle: the hypotenuse), the pitch
        difference weighted by ``pitch_weight``."""
        return math.hypot(yaw_deg - self.yaw_deg, self.pitch_weight * (pitch_deg - self.pitch_deg))
