"""EventParams: the detectors' parameters as one frozen value, passed through unchanged from the sample-dict
entry points to the array detectors; activity recognition builds its own from its settings in one place."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from gazescope.analytics.activity import activity_event_params
from gazescope.analytics.events import (
    DEFAULT_EVENT_PARAMS,
    EventParams,
    detect_events,
    detect_fixations,
    fixation_detector,
    fixation_detectors,
)
from gazescope.analytics.events.idt import idt
from gazescope.analytics.events.ivt import ivt
from gazescope.analytics.samples import gaze_arrays
from gazescope.config import ActivitySettings


def test_event_params_are_frozen_with_the_documented_defaults() -> None:
    p = EventParams()
    assert p == DEFAULT_EVENT_PARAMS
    assert (p.threshold_px, p.threshold_deg, p.geometry, p.merge_distance_px) == (None, None, None, None)
    assert (p.min_duration_ms, p.max_gap_ms, p.merge_gap_ms) == (100.0, 200.0, 150.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.threshold_px = 50.0  # type: ignore[misc]


@pytest.mark.parametrize("detector", [idt, ivt], ids=["idt", "ivt"])
def test_each_detector_takes_arrays_and_one_params_value(detector) -> None:
    assert list(inspect.signature(detector).parameters) == ["positions", "timestamps", "params"]


@pytest.mark.parametrize("method", ["idt", "ivt"])
def test_the_same_params_give_the_same_fixations_on_every_path(scene_samples, method) -> None:
    params = EventParams(
        threshold_px=50.0 if method == "idt" else 1000.0, min_duration_ms=50.0, merge_gap_ms=40.0
    )
    ga = gaze_arrays(scene_samples, max_gap_ms=params.max_gap_ms)
    on_arrays = fixation_detector(method).detect(ga.positions_px, ga.t_ms, params)
    assert on_arrays  # the scene has fixations under these thresholds
    assert detect_fixations(scene_samples, method=method, params=params) == on_arrays
    ev = detect_events(scene_samples, method=method, params=params)
    assert list(ev.fixations) == on_arrays
    assert (ev.threshold_px, ev.min_duration_ms, ev.max_gap_ms) == (params.threshold_px, 50.0, 200.0)
    assert set(fixation_detectors()) == {"idt", "ivt"}


def test_activity_builds_its_params_from_its_settings() -> None:
    s = ActivitySettings(activity_fixation_dispersion_deg=1.5, activity_min_fixation_ms=120.0)
    p = activity_event_params(s)
    assert p == EventParams(
        threshold_px=1.5,
        min_duration_ms=120.0,
        max_gap_ms=s.activity_max_transition_gap_ms,
        merge_distance_px=0.75,
    )
