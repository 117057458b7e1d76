"""Gaze geometry (``gazescope.vision.gaze``): eye-in-head angles, gaze vector, eye contact."""

from __future__ import annotations

from gazescope.vision.gaze import eye_angles_deg, gaze_vector, is_eye_contact


def test_gaze_geometry_signs():
    assert eye_angles_deg(0.0, 0.0) == (0.0, 0.0)
    yaw, pitch = eye_angles_deg(0.1, -0.05)  # pupil toward the subject's left and up
    assert yaw > 0 and pitch > 0
    assert gaze_vector(90.0, -90.0) == (1.0, 1.0)  # clipped; y is down
    assert is_eye_contact(5.0, 5.0, 10.0) and not is_eye_contact(10.0, 10.0, 10.0)
