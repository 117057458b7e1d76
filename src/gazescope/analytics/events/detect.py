"""Fixations by registered method name, and all events of one sample list in one call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from gazescope.analytics.events._fixations import resolve_threshold
from gazescope.analytics.events._library import fixation_detector
from gazescope.analytics.events.blinks import blink_events
from gazescope.analytics.events.params import DEFAULT_EVENT_PARAMS, EventParams
from gazescope.analytics.events.results import Fixation, GazeEvents
from gazescope.analytics.events.saccades import saccades
from gazescope.analytics.samples import BlinkArrays, GazeArrays, blink_arrays, gaze_arrays

FixationMethod = Literal["idt", "ivt"]


def detect_fixations(
    samples: Sequence[Mapping[str, Any]],
    *,
    method: FixationMethod = "idt",
    params: EventParams = DEFAULT_EVENT_PARAMS,
) -> list[Fixation]:
    """Fixations of sample dicts by the detector registered as ``method``.

    Args:
        samples: Stored samples or client gaze points (:mod:`gazescope.analytics.samples` reads them).
        method: "idt" (default; threshold = dispersion in px or deg,
            :func:`gazescope.analytics.events.idt.idt`) or "ivt" (threshold = velocity in px/s or deg/s,
            :func:`gazescope.analytics.events.ivt.ivt`).
        params: Thresholds, durations, geometry and merging (:class:`EventParams`).

    Returns:
        The fixations in time order; ``start_index``/``end_index`` are indices into ``samples``.

    Raises:
        gazescope.errors.ValidationError: An unknown method (listing the registered ones), and as the
            detector does.
    """
    detector = fixation_detector(method)
    ga = gaze_arrays(samples, max_gap_ms=params.max_gap_ms)
    return detector.detect(ga.positions_px, ga.t_ms, params)


def detect_events(
    samples: Sequence[Mapping[str, Any]],
    *,
    method: FixationMethod = "idt",
    params: EventParams = DEFAULT_EVENT_PARAMS,
) -> GazeEvents:
    """Fixations, saccades and blinks of one sample list in one call (arguments as
    :func:`detect_fixations`).

    Returns:
        :class:`GazeEvents` with the thresholds used (px, and deg with ``params.geometry``).

    Raises:
        gazescope.errors.ValidationError: As :func:`detect_fixations`.
    """
    fixation_detector(method)  # an unknown method is reported before the samples are read
    ga = gaze_arrays(samples, max_gap_ms=params.max_gap_ms)  # once: the fixations and the saccades read it
    return events_of_arrays(ga, blink_arrays(samples), method=method, params=params)


def events_of_arrays(
    gaze: GazeArrays,
    blink: BlinkArrays,
    *,
    method: FixationMethod = "idt",
    params: EventParams = DEFAULT_EVENT_PARAMS,
) -> GazeEvents:
    """Fixations, saccades and blinks of one session's arrays (what :func:`detect_events` does after
    reading the sample dicts; reports call it on :class:`gazescope.analytics.samples.SessionArrays`).

    Args:
        gaze: Screen points and validity (:func:`gazescope.analytics.samples.gaze_arrays`), (N,) each.
        blink: Blink flags, times, frames and EAR (:func:`gazescope.analytics.samples.blink_arrays`).
        method: A registered fixation detector ("idt" or "ivt").
        params: Thresholds, durations, geometry and merging (:class:`EventParams`).

    Returns:
        :class:`GazeEvents` with the thresholds used (px, and deg with ``params.geometry``).

    Raises:
        gazescope.errors.ValidationError: As :func:`detect_fixations`.
    """
    detector = fixation_detector(method)
    fix = detector.detect(gaze.positions_px, gaze.t_ms, params)
    thr_px, thr_deg = resolve_threshold(
        params.threshold_px, params.threshold_deg, params.geometry, detector.default_px, detector.default_deg
    )
    found = saccades(
        gaze.positions_px, gaze.t_ms, fix, geometry=params.geometry, max_gap_ms=params.max_gap_ms
    )
    return GazeEvents(
        fixations=tuple(fix),
        saccades=tuple(found),
        blinks=tuple(blink_events(blink)),
        method=method,
        threshold_px=thr_px,
        threshold_deg=thr_deg,
        min_duration_ms=params.min_duration_ms,
        max_gap_ms=params.max_gap_ms,
    )
