"""Landmark backends (``gazescope.vision.landmarks``): the small-face fallback of Face Mesh, dlib 68 points,
and the factory's error for an unknown backend."""

from __future__ import annotations

import pytest

from gazescope.config import Settings
from gazescope.vision.pipeline import FrameAnalyzer
from gazescope.vision.video import iter_frames


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


def test_dlib_backend_measures_the_same_face(still_image):
    pytest.importorskip("dlib")
    pytest.importorskip("face_recognition_models")
    analyzer = FrameAnalyzer(Settings(landmark_backend="dlib"), static=True)
    f = analyzer.analyze(still_image("obama-480p.jpg"))
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


def test_a_clients_face_mesh_landmarks_give_the_server_detectors_face_exactly(desk_video):
    """Issue 22: the 478 normalised landmarks a client sends become the very face (pixels and depth) and
    measures the server's own Face Mesh detector gives for the same frames."""
    from itertools import islice

    import numpy as np

    from gazescope.evaluation.landmark_series import mesh_landmarks
    from gazescope.vision.landmarks import create_detector
    from gazescope.vision.landmarks.mediapipe_facemesh import face_from_mesh
    from gazescope.vision.pipeline import measure_face

    frames = [rgb for _, _, rgb in islice(iter_frames(desk_video), 0, 60, 3)]
    s = Settings()
    det = create_detector("mediapipe", static=False, settings=s)
    try:
        served = [det.detect(rgb).face for rgb in frames]
    finally:
        det.close()
    sent = mesh_landmarks(frames, s)
    h, w = frames[0].shape[:2]
    assert all(f is not None for f in served) and not np.isnan(sent).any()
    for face, mesh in zip(served, sent, strict=True):
        assert face is not None
        mine = face_from_mesh(mesh, w, h)
        assert mine.image_size == face.image_size == (w, h)
        assert np.array_equal(mine.points_px, face.points_px) and np.array_equal(mine.depth, face.depth)
        a, b = measure_face(mine), measure_face(face)
        assert (a.confidence, a.head, a.gaze_yaw_deg, a.ear_mean) == (
            b.confidence,
            b.head,
            b.gaze_yaw_deg,
            b.ear_mean,
        )
