"""Events by method name: thresholds in px and degrees, defaults, errors, empty input."""

from __future__ import annotations

import math

import pytest

from gazescope.analytics.events import (
    EventParams,
    ScreenGeometry,
    detect_events,
    detect_fixations,
    gaze_points_to_samples,
)
from gazescope.errors import ValidationError


def test_degrees_with_geometry(scene_samples, check_scene_fixations):
    g = ScreenGeometry(screen_w_px=1920, screen_w_cm=53.0, distance_cm=60.0)
    one_deg = 1920 / 53.0 * 2 * 60 * math.tan(math.radians(0.5))
    assert g.px_from_deg(1.0) == pytest.approx(one_deg)
    assert g.deg_from_px(one_deg) == pytest.approx(1.0)
    ev = detect_events(scene_samples, params=EventParams(geometry=g, threshold_deg=1.0))
    assert ev.threshold_px == pytest.approx(one_deg) and ev.threshold_deg == 1.0
    check_scene_fixations(list(ev.fixations))
    (s,) = ev.saccades
    assert s.amplitude_deg == pytest.approx(float(g.deg_from_px(math.hypot(400, 200))))
    assert s.peak_velocity_deg_s == pytest.approx(float(g.deg_from_px(math.hypot(400, 200))) / 0.05)
    assert len(ev.blinks) == 1


def test_default_thresholds_without_and_with_geometry(scene_samples):
    assert detect_events(scene_samples).threshold_px == 100
    assert detect_events(scene_samples, method="ivt").threshold_px == 2000
    g = ScreenGeometry(1920, 53.0, 60.0)
    assert detect_events(scene_samples, params=EventParams(geometry=g)).threshold_deg == 2.5


def test_bad_input_raises_clear_errors(make_sample):
    with pytest.raises(ValidationError, match="decrease"):
        detect_fixations([make_sample(100, 1, 1), make_sample(50, 1, 1)])
    with pytest.raises(ValidationError, match="geometry"):
        detect_fixations([make_sample(0, 1, 1)], params=EventParams(threshold_deg=1.0))
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
