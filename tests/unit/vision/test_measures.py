"""Per-frame measures on real faces and on synthetic geometry with known answers."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from gazescope.config import Settings
from gazescope.domain import FaceLandmarks
from gazescope.vision.eyes import eye_aspect_ratio
from gazescope.vision.gaze import eye_angles_deg, gaze_vector, is_eye_contact
from gazescope.vision.head_pose import CANONICAL_FACE_3D, camera_matrix, estimate_head_pose
from gazescope.vision.landmarks.base import EyeIndices, LandmarkScheme
from gazescope.vision.pipeline import FrameAnalyzer
from gazescope.vision.video import iter_frames


def test_ear_of_a_known_eye():
    # corners 30 px apart, lids 6 and 9 px apart: EAR = (6 + 9) / (2 * 30) = 0.25
    p = np.array([(0, 0), (10, -3), (20, -4.5), (30, 0), (20, 4.5), (10, 3)], dtype=np.float32)
    assert eye_aspect_ratio(p) == pytest.approx(0.25)
    assert eye_aspect_ratio(np.zeros((6, 2), np.float32)) == 0.0


_POSE_ONLY = LandmarkScheme(
    name="pose-only",
    n_points=6,
    right_eye=EyeIndices((2, 2, 2, 2, 2, 2), None, None, None, (), ()),
    left_eye=EyeIndices((3, 3, 3, 3, 3, 3), None, None, None, (), ()),
    pose=(0, 1, 2, 3, 4, 5),
)


@pytest.mark.parametrize(
    ("yaw", "pitch", "roll"), [(0, 0, 0), (20, 0, 0), (-25, 10, 0), (0, -15, 8), (10, 5, -12)]
)
def test_head_pose_recovers_a_known_rotation(yaw, pitch, roll):
    # Build the rotation that turns the face's forward axis to (yaw, pitch) and tilts it by roll,
    # project the canonical face with it, and read the angles back.
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    fwd = np.array([math.sin(y) * math.cos(p), -math.sin(p), -math.cos(y) * math.cos(p)])
    z_axis = -fwd
    down = np.array([0.0, 1.0, 0.0])  # camera y points down
    x_axis = np.cross(down, z_axis)
    x_axis /= np.linalg.norm(x_axis)
    y_axis = np.cross(z_axis, x_axis)
    rot0 = np.stack([x_axis, y_axis, z_axis], axis=1)
    c, s = math.cos(r), math.sin(r)
    rot = rot0 @ np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    rvec, _ = cv2.Rodrigues(rot)
    tvec = np.array([[30.0], [-20.0], [2500.0]])
    pts, _ = cv2.projectPoints(CANONICAL_FACE_3D, rvec, tvec, camera_matrix(640, 480), np.zeros(4))
    face = FaceLandmarks(
        points_px=pts.reshape(-1, 2).astype(np.float32), scheme=_POSE_ONLY, image_size=(640, 480)
    )
    pose = estimate_head_pose(face)
    assert pose is not None
    assert pose.yaw_deg == pytest.approx(yaw, abs=1.0)
    assert pose.pitch_deg == pytest.approx(pitch, abs=1.0)
    assert pose.roll_deg == pytest.approx(roll, abs=1.5)
    assert pose.reprojection_px < 0.5


def test_gaze_geometry_signs():
    assert eye_angles_deg(0.0, 0.0) == (0.0, 0.0)
    yaw, pitch = eye_angles_deg(0.1, -0.05)  # pupil toward the subject's left and up
    assert yaw > 0 and pitch > 0
    assert gaze_vector(90.0, -90.0) == (1.0, 1.0)  # clipped; y is down
    assert is_eye_contact(5.0, 5.0, 10.0) and not is_eye_contact(10.0, 10.0, 10.0)


@pytest.fixture(scope="module")
def desk_features(desk_video):
    analyzer = FrameAnalyzer(Settings())
    try:
        return [analyzer.analyze(rgb) for _, _, rgb in iter_frames(desk_video)]
    finally:
        analyzer.close()


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


def test_pupils_are_inside_the_eyes(desk_features):
    f = next(f for f in desk_features if f.face_detected)
    pts = f.landmarks.points_px
    for eye, idx in ((f.right_eye, f.landmarks.scheme.right_eye), (f.left_eye, f.landmarks.scheme.left_eye)):
        contour = pts[list(idx.contour)].astype(np.float32)
        assert cv2.pointPolygonTest(contour, eye.pupil_px, False) >= 0


def _image(data_dir, name):
    return cv2.cvtColor(cv2.imread(str(data_dir / "images" / name)), cv2.COLOR_BGR2RGB)


def test_face_count_on_still_images(data_dir):
    analyzer = FrameAnalyzer(Settings(), static=True)
    try:
        assert analyzer.analyze(_image(data_dir, "two_people.jpg")).face_count == 2
        one = analyzer.analyze(_image(data_dir, "obama-480p.jpg"))
        assert one.face_detected and one.face_count == 1
        partial = analyzer.analyze(_image(data_dir, "obama_partial_face.jpg"))
        assert partial.face_count <= 1
        blank = analyzer.analyze(np.zeros((480, 640, 3), np.uint8))
        assert not blank.face_detected and blank.face_count == 0 and blank.right_eye is None
    finally:
        analyzer.close()


def test_small_faces_of_stage_footage_are_found_more_often_than_by_plain_face_mesh(data_dir):
    import mediapipe as mp

    frames = [rgb for _, _, rgb in iter_frames(data_dir / "videos" / "hamilton_clip_640x360.mp4")]
    raw = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True)
    raw_faces = sum(1 for rgb in frames if raw.process(rgb).multi_face_landmarks)
    raw.close()
    analyzer = FrameAnalyzer(Settings())
    ours = sum(analyzer.analyze(rgb).face_detected for rgb in frames)
    analyzer.close()
    assert ours >= raw_faces
    assert ours > raw_faces + 20  # the full-range fallback finds faces plain Face Mesh misses


def test_dlib_backend_measures_the_same_face(data_dir):
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    analyzer = FrameAnalyzer(Settings(landmark_backend="dlib"), static=True)
    f = analyzer.analyze(_image(data_dir, "obama-480p.jpg"))
    assert f.face_detected and f.landmarks.points_px.shape == (68, 2)
    assert f.right_eye.pupil_px is not None and f.left_eye.pupil_px is not None
    for eye in (f.right_eye, f.left_eye):
        assert 0.0 <= eye.horizontal_ratio <= 1.0
        assert 0.1 < eye.ear < 0.5
    assert f.head is not None and abs(f.head.yaw_deg) < 30


def test_unknown_backend_lists_the_available_ones():
    from gazescope.errors import LandmarkBackendError
    from gazescope.vision.landmarks import create_detector

    with pytest.raises(LandmarkBackendError, match="mediapipe, dlib"):
        create_detector("openface")
