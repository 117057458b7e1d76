"""Screen geometry: pixels as degrees of visual angle."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gazescope.errors import ValidationError


@dataclass(frozen=True, slots=True)
class ScreenGeometry:
    """Physical screen size and viewing distance, to express pixels as degrees of visual angle.

    ``screen_w_px``: screen width in pixels (> 0). ``screen_w_cm``: visible width in centimetres (> 0).
    ``distance_cm``: eye-to-screen distance (> 0), typically 50-70 cm at a desk. Square pixels are
    assumed. Conversions hold for distances measured from the screen centre (a size ``s`` centred on the
    line of sight subtends ``2 atan(s / 2d)``); off-centre they overestimate the angle by at most a few
    percent for ordinary monitors.

    Raises :class:`gazescope.errors.ValidationError` when a value is not a positive finite number.
    """

    screen_w_px: float
    screen_w_cm: float
    distance_cm: float

    def __post_init__(self) -> None:
        for name in ("screen_w_px", "screen_w_cm", "distance_cm"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ValidationError(f"ScreenGeometry.{name} must be a positive number, got {v!r}")

    @property
    def px_per_cm(self) -> float:
        return self.screen_w_px / self.screen_w_cm

    def px_from_deg(self, deg: float) -> float:
        """Pixels subtended by ``deg`` degrees of visual angle centred on the line of sight."""
        return self.px_per_cm * 2.0 * self.distance_cm * math.tan(math.radians(deg) / 2.0)

    def deg_from_px(self, px: float | np.ndarray) -> float | np.ndarray:
        """Degrees of visual angle subtended by ``px`` pixels (scalar or array) centred on the gaze line."""
        return np.degrees(
            2.0 * np.arctan(np.asarray(px, dtype=float) / self.px_per_cm / (2.0 * self.distance_cm))
        )

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> ScreenGeometry | None:
        """Geometry from a dict holding ``screen_w_px``, ``screen_w_cm`` and ``distance_cm``; None if any
        is missing or None (e.g. a session dict without physical sizes)."""
        if not d:
            return None
        w, cm, dist = d.get("screen_w_px"), d.get("screen_w_cm"), d.get("distance_cm")
        if w is None or cm is None or dist is None:
            return None
        return cls(float(w), float(cm), float(dist))
