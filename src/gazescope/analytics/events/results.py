"""Typed results of event detection: fixations, saccades, and all events of one sample list."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gazescope.domain import BlinkEvent


@dataclass(frozen=True, slots=True)
class Fixation:
    """One fixation.

    ``start_ms``/``end_ms``: timestamps of its first and last sample (same clock as ``t_ms``);
    ``duration_ms = end_ms - start_ms`` (>= ``min_duration_ms``). ``x_px``/``y_px``: centroid (mean of its
    samples) in screen pixels. ``n_samples``: samples in it (>= 1). ``dispersion_px``: Salvucci & Goldberg's
    ``(max x - min x) + (max y - min y)`` over its samples. ``start_index``/``end_index``: positions of its
    first and last sample in the input sample list (inclusive).
    """

    start_ms: float
    end_ms: float
    duration_ms: float
    x_px: float
    y_px: float
    n_samples: int
    dispersion_px: float
    start_index: int
    end_index: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Saccade:
    """The movement between two consecutive fixations of one segment (no gap in between).

    ``start_ms``: end of the previous fixation; ``end_ms``: start of the next; ``duration_ms``: their
    difference (at webcam rates this is a bound, one or two frame intervals). ``from_*``/``to_*``: the two
    fixation centroids in screen pixels. ``amplitude_px``: distance between them; ``amplitude_deg``: the
    same in degrees of visual angle when a :class:`ScreenGeometry` was given, else None.
    ``peak_velocity_px_s``: largest point-to-point velocity of the samples from the last sample of the
    previous fixation to the first of the next (px/s); ``peak_velocity_deg_s`` likewise in deg/s or None.
    Webcam frame rates undersample saccades (which last 20-80 ms), so peak velocities are lower bounds.
    """

    start_ms: float
    end_ms: float
    duration_ms: float
    from_x_px: float
    from_y_px: float
    to_x_px: float
    to_y_px: float
    amplitude_px: float
    amplitude_deg: float | None
    peak_velocity_px_s: float
    peak_velocity_deg_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class GazeEvents:
    """Everything :func:`gazescope.analytics.events.detect_events` finds, with the thresholds used.

    ``method``: "idt" or "ivt". ``threshold_px``: dispersion (px, I-DT) or velocity (px/s, I-VT) threshold
    applied. ``threshold_deg``: the same in degrees (deg or deg/s) when geometry was known, else None.
    """

    fixations: tuple[Fixation, ...]
    saccades: tuple[Saccade, ...]
    blinks: tuple[BlinkEvent, ...]
    method: str
    threshold_px: float
    threshold_deg: float | None
    min_duration_ms: float
    max_gap_ms: float
