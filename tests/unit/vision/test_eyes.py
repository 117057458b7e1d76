"""Per-eye measures (``gazescope.vision.eyes``): EAR of a known eye, pupils inside the eye on real video."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gazescope.vision.eyes import eye_aspect_ratio


def test_ear_of_a_known_eye():
    # corners 30 px apart, lids 6 and 9 px apart: EAR = (6 + 9) / (2 * 30) = 0.25
    p = np.array([(0, 0), (10, -3), (20, -4.5), (30, 0), (20, 4.5), (10, 3)], dtype=np.float32)
    assert eye_aspect_ratio(p) == pytest.approx(0.25)
    assert eye_aspect_ratio(np.zeros((6, 2), np.float32)) == 0.0


def test_pupils_are_inside_the_eyes(desk_features):
    f = next(f for f in desk_features if f.face_detected)
    pts = f.landmarks.points_px
    for eye, idx in ((f.right_eye, f.landmarks.scheme.right_eye), (f.left_eye, f.landmarks.scheme.left_eye)):
        contour = pts[list(idx.contour)].astype(np.float32)
        assert cv2.pointPolygonTest(contour, eye.pupil_px, False) >= 0
