"""I-DT (dispersion threshold) against hand-computed fixations."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.analytics.events import EventParams, detect_fixations_idt
from gazescope.analytics.events.idt import idt
from gazescope.analytics.samples import gaze_arrays
from gazescope.errors import ValidationError


@pytest.mark.parametrize(
    ("kwargs", "bounds"),
    [
        pytest.param({"threshold_px": 50}, [(0, 5), (6, 9), (13, 16), (18, 21)], id="scene-50px"),
        pytest.param({"threshold_px": 50, "min_duration_ms": 50}, [(0, 5), (6, 9), (11, 12), (13, 16), (18, 21)],
                     id="min-duration-50ms"),
    ],
)  # fmt: skip
def test_idt_on_arrays_matches_the_sample_dicts(scene_samples, kwargs, bounds):
    ga = gaze_arrays(scene_samples)
    fix = idt(ga.positions_px, ga.t_ms, EventParams(**kwargs))
    assert [(f.start_index, f.end_index) for f in fix] == bounds
    assert fix == detect_fixations_idt(
        scene_samples,
        dispersion_px=kwargs["threshold_px"],
        min_duration_ms=kwargs.get("min_duration_ms", 100),
    )


def test_idt_checks_array_shapes():
    with pytest.raises(ValidationError, match=r"\(N, 2\)"):
        idt(np.zeros((3, 3)), np.arange(3.0))
    with pytest.raises(ValidationError, match=r"\(N, 2\)"):
        idt(np.zeros((3, 2)), np.arange(4.0))
    assert idt(np.zeros((0, 2)), np.zeros(0)) == []


def test_idt_matches_hand_computed_with_gap_splitting_and_min_duration(scene_samples, check_scene_fixations):
    check_scene_fixations(detect_fixations_idt(scene_samples, dispersion_px=50, min_duration_ms=100))


def test_min_duration_keeps_short_run_when_lowered(scene_samples):
    fix = detect_fixations_idt(scene_samples, dispersion_px=50, min_duration_ms=50)
    assert [(f.start_index, f.end_index) for f in fix] == [(0, 5), (6, 9), (11, 12), (13, 16), (18, 21)]


def test_time_gap_splits_fixation(make_sample):
    s = [make_sample(t, 10, 10) for t in (0, 50, 100, 150, 400, 450, 500, 550)]
    fix = detect_fixations_idt(s, dispersion_px=50, min_duration_ms=100)  # 250 ms > max_gap_ms 200
    assert [(f.start_ms, f.end_ms) for f in fix] == [(0, 150), (400, 550)]
    fix = detect_fixations_idt(s, dispersion_px=50, min_duration_ms=100, max_gap_ms=300)
    assert [(f.start_ms, f.end_ms) for f in fix] == [(0, 550)]


def test_off_screen_samples_split(make_sample):
    s = [make_sample(50 * i, 10, 10) for i in range(9)]
    s[4]["on_screen"] = False
    fix = detect_fixations_idt(s, dispersion_px=50, min_duration_ms=100)
    assert [(f.start_index, f.end_index) for f in fix] == [(0, 3), (5, 8)]
