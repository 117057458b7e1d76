"""``FrameAnalyzer`` (``gazescope.vision.pipeline``) on real video and still images."""

from __future__ import annotations

import numpy as np

from gazescope.config import Settings
from gazescope.vision.pipeline import FrameAnalyzer


def test_desk_video_has_a_face_in_every_frame(desk_features):
    assert len(desk_features) == 842
    assert sum(f.face_detected for f in desk_features) >= 0.99 * 842
    assert all(f.face_count == 1 for f in desk_features if f.face_detected)


def test_ratios_stay_within_unit_range_and_measures_are_plausible(desk_features):
    faces = [f for f in desk_features if f.face_detected]
    for f in faces:
        for eye in (f.right_eye, f.left_eye):
            assert eye is not None and eye.pupil_px is not None
            assert 0.0 <= eye.horizontal_ratio <= 1.0
            assert eye.vertical_ratio is None or 0.0 <= eye.vertical_ratio <= 1.0
            assert 0.0 < eye.ear < 0.6
        assert f.head is not None and abs(f.head.yaw_deg) < 70 and abs(f.head.roll_deg) < 45
        assert 0.0 <= f.confidence <= 1.0
    ears = np.array([f.ear_mean for f in faces])
    assert 0.2 < np.median(ears) < 0.35  # open-eye EAR of Face Mesh on this subject
    h = np.array([(f.right_eye.horizontal_ratio + f.left_eye.horizontal_ratio) / 2 for f in faces])
    assert h.min() < 0.35 and h.max() > 0.65  # the subject looks both ways in this video


def test_face_count_on_still_images(still_image):
    analyzer = FrameAnalyzer(Settings(), static=True)
    try:
        assert analyzer.analyze(still_image("two_people.jpg")).face_count == 2
        one = analyzer.analyze(still_image("obama-480p.jpg"))
        assert one.face_detected and one.face_count == 1
        partial = analyzer.analyze(still_image("obama_partial_face.jpg"))
        assert partial.face_count <= 1
        blank = analyzer.analyze(np.zeros((480, 640, 3), np.uint8))
        assert not blank.face_detected and blank.face_count == 0 and blank.right_eye is None
    finally:
        analyzer.close()
