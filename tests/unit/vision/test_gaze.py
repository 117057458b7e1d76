"""Gaze geometry (``gazescope.vision.gaze``): eye-in-head angles, the eye-head model, gaze vector."""

from __future__ import annotations

import math

import pytest

from gazescope.vision.gaze import (
    CORNER_DEPTH_OVER_RADIUS,
    EYE_WIDTH_OVER_RADIUS,
    eye_angles_deg,
    gaze_angles_deg,
    gaze_vector,
)


def test_gaze_geometry_signs():
    assert eye_angles_deg(0.0, 0.0) == (0.0, 0.0)
    yaw, pitch = eye_angles_deg(0.1, -0.05)  # pupil toward the subject's left and up
    assert yaw > 0 and pitch > 0
    assert gaze_vector(90.0, -90.0) == (1.0, 1.0)  # clipped; y is down


@pytest.mark.parametrize(
    ("gaze_deg", "head_deg"),
    [
        pytest.param(0.0, -40.0, id="head-turned-right-eyes-on-the-lens"),
        pytest.param(0.0, 25.0, id="head-turned-left-eyes-on-the-lens"),
        pytest.param(30.0, 0.0, id="frontal-head-eyes-left"),
        pytest.param(-20.0, 15.0, id="head-left-eyes-further-right"),
    ],
)
def test_the_eye_head_model_inverts_its_projection(gaze_deg, head_deg):
    """A pupil placed by the sphere-and-corners projection of the module docstring is read back as the
    gaze it was placed for, whatever the head's turn (the old sum head + eye-in-head did not)."""
    th, ph = math.radians(gaze_deg - head_deg), math.radians(head_deg)
    r, w, zc = 1.0, EYE_WIDTH_OVER_RADIUS, CORNER_DEPTH_OVER_RADIUS
    offset = (r * math.sin(th + ph) - zc * math.sin(ph)) / (w * math.cos(ph))
    yaw, _ = gaze_angles_deg(offset, 0.0, head_deg, 0.0)
    assert yaw == pytest.approx(gaze_deg, abs=1e-6)
    old = head_deg + eye_angles_deg(offset, 0.0)[0]
    if head_deg:
        assert abs(old - gaze_deg) > 3.0
