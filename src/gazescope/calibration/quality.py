"""The quality gate of a calibration: is its validation error small enough for the profile to be reused?

A calibration whose mean validation error (% of the screen width) is above
``Settings.calibration_max_error_pct_width`` fails the gate: its profile is stored as not accepted, and
neither later sessions nor later sittings of the user reuse it unless the user keeps it
(``calibration_keep``; ``docs/protocol.md``). The threshold's source is in its ``Settings`` description
(webcam trackers in the field: 106-172 px, about 7-11 % of a 1,500 px screen).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QualityGate:
    """The gate's verdict on one calibration.

    Attributes:
        error_pct_width: the calibration's mean validation error, % of the screen width (>= 0).
        max_error_pct_width: the threshold it was held against, % of the screen width (0..100].
        passed: ``error_pct_width <= max_error_pct_width`` (False for a non-finite error).
    """

    error_pct_width: float
    max_error_pct_width: float
    passed: bool

    def to_dict(self) -> dict[str, float | bool | None]:
        """The JSON form (the ``quality`` object of ``calibration_result``; a non-finite error is null)."""
        err = self.error_pct_width
        return {
            "error_pct_width": round(err, 3) if math.isfinite(err) else None,
            "max_error_pct_width": self.max_error_pct_width,
            "passed": self.passed,
        }


def quality_gate(error_pct_width: float, max_error_pct_width: float) -> QualityGate:
    """Hold a mean validation error (% of the screen width) against the threshold (same unit).

    Raises:
        ValueError: a threshold that is not within (0, 100].
    """
    if not 0 < max_error_pct_width <= 100:
        raise ValueError(f"max_error_pct_width must be within (0, 100], got {max_error_pct_width}")
    passed = math.isfinite(error_pct_width) and error_pct_width <= max_error_pct_width
    return QualityGate(float(error_pct_width), float(max_error_pct_width), passed)
