"""Saccades between fixations of one segment."""

from __future__ import annotations

import math

import pytest

from gazescope.analytics.events import detect_fixations_idt, detect_saccades


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
