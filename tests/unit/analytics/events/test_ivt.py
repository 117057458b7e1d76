"""I-VT (velocity threshold) against hand-computed fixations, and where it differs from I-DT."""

from __future__ import annotations

import pytest

from gazescope.analytics.events import EventParams, detect_fixations_idt, detect_fixations_ivt
from gazescope.analytics.events.ivt import ivt
from gazescope.analytics.samples import gaze_arrays


def test_ivt_on_arrays_matches_the_sample_dicts(scene_samples):
    ga = gaze_arrays(scene_samples)
    assert ivt(ga.positions_px, ga.t_ms, EventParams(threshold_px=1000)) == detect_fixations_ivt(
        scene_samples, velocity_px_s=1000
    )


def test_ivt_matches_hand_computed_with_gap_splitting_and_min_duration(scene_samples, check_scene_fixations):
    # jitter steps are at most hypot(2, 3) px / 50 ms = 72 px/s; jumps are thousands of px/s
    check_scene_fixations(detect_fixations_ivt(scene_samples, velocity_px_s=1000, min_duration_ms=100))


def test_idt_and_ivt_differ_on_slow_drift(make_sample):
    # 10 px per 50 ms (200 px/s): I-VT keeps one group, I-DT with 50 px splits at D > 50
    s = [make_sample(50 * i, 10 * i, 0) for i in range(10)]
    idt = detect_fixations_idt(s, dispersion_px=50, min_duration_ms=100)
    assert [(f.start_index, f.end_index) for f in idt] == [(0, 5), (6, 9)]
    assert idt[0].dispersion_px == 50 and idt[0].x_px == pytest.approx(25)
    ivt = detect_fixations_ivt(s, velocity_px_s=1000, min_duration_ms=100)
    assert [(f.start_index, f.end_index, f.duration_ms) for f in ivt] == [(0, 9, 450)]
    assert ivt[0].dispersion_px == 90
