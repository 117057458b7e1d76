"""Fixations by registered method name, and all events of one sample list in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from gazescope.analytics.events._fixations import (
    DEFAULT_MERGE_GAP_MS,
    DEFAULT_MIN_DURATION_MS,
    resolve_threshold,
)
from gazescope.analytics.events._library import fixation_detector
from gazescope.analytics.events.blinks import detect_blinks
from gazescope.analytics.events.geometry import ScreenGeometry
from gazescope.analytics.events.results import Fixation, GazeEvents
from gazescope.analytics.events.saccades import saccades
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS, gaze_arrays

FixationMethod = Literal["idt", "ivt"]


def detect_fixations(
    samples: Sequence[Mapping[str, Any]],
    *,
    method: FixationMethod = "idt",
    threshold_px: float | None = None,
    threshold_deg: float | None = None,
    min_duration_ms: float = DEFAULT_MIN_DURATION_MS,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
    merge_distance_px: float | None = None,
    merge_gap_ms: float = DEFAULT_MERGE_GAP_MS,
) -> list[Fixation]:
    """Fixations of sample dicts by the detector registered as ``method``: "idt" (default; threshold =
    dispersion in px or deg, :func:`gazescope.analytics.events.idt.idt`) or "ivt" (threshold = velocity
    in px/s or deg/s, :func:`gazescope.analytics.events.ivt.ivt`).

    Raises :class:`gazescope.errors.ValidationError` for an unknown method (listing the registered ones)
    and as the detector does.
    """
    detector = fixation_detector(method)
    ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)
    return detector.detect(
        ga.positions_px,
        ga.t_ms,
        threshold_px=threshold_px,
        threshold_deg=threshold_deg,
        min_duration_ms=min_duration_ms,
        geometry=geometry,
        max_gap_ms=max_gap_ms,
        merge_distance_px=merge_distance_px,
        merge_gap_ms=merge_gap_ms,
    )


def detect_events(
    samples: Sequence[Mapping[str, Any]],
    *,
    method: FixationMethod = "idt",
    threshold_px: float | None = None,
    threshold_deg: float | None = None,
    min_duration_ms: float = DEFAULT_MIN_DURATION_MS,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
    merge_distance_px: float | None = None,
    merge_gap_ms: float = DEFAULT_MERGE_GAP_MS,
) -> GazeEvents:
    """Fixations, saccades and blinks of one sample list in one call (arguments as
    :func:`detect_fixations`). Returns :class:`GazeEvents` with the thresholds used. Raises
    :class:`gazescope.errors.ValidationError` as :func:`detect_fixations`."""
    detector = fixation_detector(method)
    ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)  # once: the fixations and the saccades read it
    fix = detector.detect(
        ga.positions_px,
        ga.t_ms,
        threshold_px=threshold_px,
        threshold_deg=threshold_deg,
        min_duration_ms=min_duration_ms,
        geometry=geometry,
        max_gap_ms=max_gap_ms,
        merge_distance_px=merge_distance_px,
        merge_gap_ms=merge_gap_ms,
    )
    thr_px, thr_deg = resolve_threshold(
        threshold_px, threshold_deg, geometry, detector.default_px, detector.default_deg
    )
    return GazeEvents(
        fixations=tuple(fix),
        saccades=tuple(saccades(ga.positions_px, ga.t_ms, fix, geometry=geometry, max_gap_ms=max_gap_ms)),
        blinks=tuple(detect_blinks(samples)),
        method=method,
        threshold_px=thr_px,
        threshold_deg=thr_deg,
        min_duration_ms=min_duration_ms,
        max_gap_ms=max_gap_ms,
    )
