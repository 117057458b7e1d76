"""Saccades between consecutive fixations of one valid segment (Salvucci & Goldberg 2000: what lies
between fixations). At webcam rates (15-30 Hz) saccades (20-80 ms) are undersampled: durations are bounds
and peak velocities lower bounds."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gazescope.analytics.events._fixations import track, velocities_px_s
from gazescope.analytics.events.geometry import ScreenGeometry
from gazescope.analytics.events.results import Fixation, Saccade
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS, gaze_arrays
from gazescope.errors import ValidationError


def saccades(
    positions: np.ndarray,
    timestamps: np.ndarray,
    fixations: Sequence[Fixation],
    *,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
) -> list[Saccade]:
    """Saccades between consecutive fixations that lie in the same valid segment.

    Args:
        positions: (N, 2) float screen points in px, NaN rows invalid (as given to the fixation detector).
        timestamps: (N,) float sample times (ms, non-decreasing).
        fixations: :class:`Fixation` values detected on the same arrays with the same ``max_gap_ms``
            (their indices are rows of ``positions``).
        geometry: Optional :class:`ScreenGeometry`; fills ``amplitude_deg`` and ``peak_velocity_deg_s``.
        max_gap_ms: > 0 (ms), as for the fixations.

    Returns:
        The :class:`Saccade` values; none between fixations separated by a blink, lost face, off-screen
        gaze or a gap (the movement was not observed).

    Raises:
        gazescope.errors.ValidationError: A fixation's indices fall outside ``positions``; bad shapes or
            timestamps.
    """
    tr = track(positions, timestamps, max_gap_ms)
    n = len(tr.t_ms)
    out: list[Saccade] = []
    for f1, f2 in itertools.pairwise(fixations):
        if not (0 <= f1.end_index < n and 0 <= f2.start_index < n):
            raise ValidationError(
                "fixation indices fall outside the samples; detect them on the same samples"
            )
        s1, s2 = tr.segment[f1.end_index], tr.segment[f2.start_index]
        if s1 < 0 or s1 != s2 or f2.start_index <= f1.end_index:
            continue
        a = np.arange(f1.end_index, f2.start_index + 1)
        v = velocities_px_s(tr, a)
        peak = float(v.max()) if len(v) else 0.0
        amp = math.hypot(f2.x_px - f1.x_px, f2.y_px - f1.y_px)
        amp_deg = peak_deg = None
        if geometry is not None:
            amp_deg = float(geometry.deg_from_px(amp))
            d = np.diff(tr.positions_px[a], axis=0)
            dist = np.hypot(d[:, 0], d[:, 1])
            dt = np.diff(tr.t_ms[a]) / 1000.0
            with np.errstate(divide="ignore", invalid="ignore"):
                vd = np.where(dt > 0, geometry.deg_from_px(dist) / np.where(dt > 0, dt, 1.0), 0.0)
            peak_deg = float(vd.max()) if len(vd) else 0.0
        out.append(
            Saccade(
                start_ms=f1.end_ms,
                end_ms=f2.start_ms,
                duration_ms=f2.start_ms - f1.end_ms,
                from_x_px=f1.x_px,
                from_y_px=f1.y_px,
                to_x_px=f2.x_px,
                to_y_px=f2.y_px,
                amplitude_px=amp,
                amplitude_deg=amp_deg,
                peak_velocity_px_s=peak,
                peak_velocity_deg_s=peak_deg,
            )
        )
    return out


def detect_saccades(
    samples: Sequence[Mapping[str, Any]],
    fixations: Sequence[Fixation],
    *,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
) -> list[Saccade]:
    """:func:`saccades` of sample dicts (see :mod:`gazescope.analytics.samples`); ``fixations`` must come
    from the same samples. Raises :class:`gazescope.errors.ValidationError` as it does."""
    ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)
    return saccades(ga.positions_px, ga.t_ms, fixations, geometry=geometry, max_gap_ms=max_gap_ms)
