"""Fixation (I-DT, I-VT), saccade and blink detection against hand-computed results."""

from __future__ import annotations

import math

import pytest

from gazescope.analytics.events import (
    ScreenGeometry,
    detect_blinks,
    detect_events,
    detect_fixations,
    detect_fixations_idt,
    detect_fixations_ivt,
    detect_saccades,
    gaze_points_to_samples,
)
from gazescope.errors import ValidationError

EXPECTED = [  # (start_ms, end_ms, x, y, n, dispersion, start_index, end_index)
    (0, 250, 100, 100, 6, 10, 0, 5),
    (300, 450, 500, 300, 4, 0, 6, 9),
    (650, 800, 800, 600, 4, 0, 13, 16),
    (900, 1050, 800, 600, 4, 0, 18, 21),
]


def _check(fixations):
    assert len(fixations) == len(EXPECTED)
    for f, (t0, t1, x, y, n, disp, i0, i1) in zip(fixations, EXPECTED, strict=True):
        assert (f.start_ms, f.end_ms, f.duration_ms) == (t0, t1, t1 - t0)
        assert (f.x_px, f.y_px) == pytest.approx((x, y))
        assert (f.n_samples, f.start_index, f.end_index) == (n, i0, i1)
        assert f.dispersion_px == pytest.approx(disp)


def test_idt_matches_hand_computed_with_gap_splitting_and_min_duration(scene_samples):
    _check(detect_fixations_idt(scene_samples, dispersion_px=50, min_duration_ms=100))


def test_ivt_matches_hand_computed_with_gap_splitting_and_min_duration(scene_samples):
    # jitter steps are at most hypot(2, 3) px / 50 ms = 72 px/s; jumps are thousands of px/s
    _check(detect_fixations_ivt(scene_samples, velocity_px_s=1000, min_duration_ms=100))


def test_min_duration_keeps_short_run_when_lowered(scene_samples):
    fix = detect_fixations_idt(scene_samples, dispersion_px=50, min_duration_ms=50)
    assert [(f.start_index, f.end_index) for f in fix] == [(0, 5), (6, 9), (11, 12), (13, 16), (18, 21)]


def test_idt_and_ivt_differ_on_slow_drift(make_sample):
    # 10 px per 50 ms (200 px/s): I-VT keeps one group, I-DT with 50 px splits at D > 50
    s = [make_sample(50 * i, 10 * i, 0) for i in range(10)]
    idt = detect_fixations_idt(s, dispersion_px=50, min_duration_ms=100)
    assert [(f.start_index, f.end_index) for f in idt] == [(0, 5), (6, 9)]
    assert idt[0].dispersion_px == 50 and idt[0].x_px == pytest.approx(25)
    ivt = detect_fixations_ivt(s, velocity_px_s=1000, min_duration_ms=100)
    assert [(f.start_index, f.end_index, f.duration_ms) for f in ivt] == [(0, 9, 450)]
    assert ivt[0].dispersion_px == 90


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


def test_saccades_only_within_segments(scene_samples):
    fix = detect_fixations_idt(scene_samples, dispersion_px=50)
    sac = detect_saccades(scene_samples, fix)
    assert len(sac) == 1
    (s,) = sac
    assert (s.start_ms, s.end_ms, s.duration_ms) == (250, 300, 50)
    assert (s.from_x_px, s.from_y_px, s.to_x_px, s.to_y_px) == pytest.approx((100, 100, 500, 300))
    assert s.amplitude_px == pytest.approx(math.hypot(400, 200))
    assert s.peak_velocity_px_s == pytest.approx(math.hypot(400, 200) / 0.05)
    assert s.amplitude_deg is None and s.peak_velocity_deg_s is None


def test_degrees_with_geometry(scene_samples):
    g = ScreenGeometry(screen_w_px=1920, screen_w_cm=53.0, distance_cm=60.0)
    one_deg = 1920 / 53.0 * 2 * 60 * math.tan(math.radians(0.5))
    assert g.px_from_deg(1.0) == pytest.approx(one_deg)
    assert g.deg_from_px(one_deg) == pytest.approx(1.0)
    ev = detect_events(scene_samples, geometry=g, threshold_deg=1.0)
    assert ev.threshold_px == pytest.approx(one_deg) and ev.threshold_deg == 1.0
    _check(list(ev.fixations))
    (s,) = ev.saccades
    assert s.amplitude_deg == pytest.approx(float(g.deg_from_px(math.hypot(400, 200))))
    assert s.peak_velocity_deg_s == pytest.approx(float(g.deg_from_px(math.hypot(400, 200))) / 0.05)
    assert len(ev.blinks) == 1


def test_default_thresholds_without_and_with_geometry(scene_samples):
    assert detect_events(scene_samples).threshold_px == 100
    assert detect_events(scene_samples, method="ivt").threshold_px == 2000
    g = ScreenGeometry(1920, 53.0, 60.0)
    assert detect_events(scene_samples, geometry=g).threshold_deg == 2.5


def test_blinks_from_runs(make_sample):
    s = [make_sample(50 * i, 1, 1) for i in range(8)]
    for i, ear in ((2, 0.2), (3, 0.1), (6, 0.15)):
        s[i].update(is_blinking=True, ear_left=ear, ear_right=ear + 0.02)
    b = detect_blinks(s)
    assert [(e.start_ms, e.end_ms, e.start_frame, e.end_frame) for e in b] == [
        (100, 150, 2, 3),
        (300, 300, 6, 6),
    ]
    assert b[0].min_ear == pytest.approx(0.11) and b[1].duration_ms == 0


def test_client_points_feed_the_same_analytics():
    pts = [{"t_ms": 50 * i, "x_px": 100 + (i % 2), "y_px": 200} for i in range(6)]
    pts += [{"t_ms": 300 + 50 * i, "x_px": 900, "y_px": 500} for i in range(4)]
    pts.reverse()  # unordered on arrival
    s = gaze_points_to_samples(pts, screen_w_px=1280, screen_h_px=720)
    assert [p["t_ms"] for p in s] == sorted(p["t_ms"] for p in pts)
    fix = detect_fixations(s, threshold_px=50)
    assert [(f.start_ms, f.end_ms) for f in fix] == [(0, 250), (300, 450)]
    assert fix[0].x_px == pytest.approx(100.5)
    off = gaze_points_to_samples([{"t_ms": 0, "x_px": 2000, "y_px": 5}], screen_w_px=1280, screen_h_px=720)
    assert off[0]["on_screen"] is False


def test_bad_input_raises_clear_errors(make_sample):
    with pytest.raises(ValidationError, match="decrease"):
        detect_fixations([make_sample(100, 1, 1), make_sample(50, 1, 1)])
    with pytest.raises(ValidationError, match="geometry"):
        detect_fixations([make_sample(0, 1, 1)], threshold_deg=1.0)
    with pytest.raises(ValidationError, match="available"):
        detect_fixations([], method="nope")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="t_ms"):
        gaze_points_to_samples([{"x_px": 1, "y_px": 2}])
    with pytest.raises(ValidationError):
        ScreenGeometry(1920, 0, 60)


def test_empty_and_uncalibrated_input(make_sample):
    assert detect_fixations([]) == []
    s = [make_sample(50 * i, None, None) for i in range(10)]
    ev = detect_events(s)
    assert ev.fixations == () and ev.saccades == ()


def test_adjacent_fixations_merge(make_sample):
    # two I-DT windows 30+30 = 60 px apart in dispersion (> 50): split, centroids hypot(30, 30) = 42.4 apart
    s = [make_sample(50 * i, 0, 0) for i in range(4)] + [make_sample(50 * i, 30, 30) for i in range(4, 8)]
    kept = detect_fixations_idt(s, dispersion_px=50)  # default merge distance 25 px: stay apart
    assert [(f.start_index, f.end_index) for f in kept] == [(0, 3), (4, 7)]
    merged = detect_fixations_idt(s, dispersion_px=50, merge_distance_px=50)
    assert [(f.start_index, f.end_index, f.duration_ms) for f in merged] == [(0, 7, 350)]
    assert (merged[0].x_px, merged[0].y_px, merged[0].dispersion_px) == (15, 15, 60)
    # gap 50 ms > merge_gap_ms 40: not merged
    assert len(detect_fixations_idt(s, dispersion_px=50, merge_distance_px=50, merge_gap_ms=40)) == 2
    # I-VT: one fast interval (42.4 px / 50 ms = 849 px/s > 500) splits, merging joins before the 100 ms filter
    assert len(detect_fixations_ivt(s, velocity_px_s=500, merge_distance_px=0)) == 2
    ivt = detect_fixations_ivt(s, velocity_px_s=500, merge_distance_px=50)
    assert [(f.start_index, f.end_index) for f in ivt] == [(0, 7)]
