"""What the fixation detectors share: merging adjacent fixations (Olsen 2012)."""

from __future__ import annotations

from gazescope.analytics.events import detect_fixations_idt, detect_fixations_ivt


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
