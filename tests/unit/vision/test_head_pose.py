"""Head pose (``gazescope.vision.head_pose``): a known rotation of the canonical face is read back."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from gazescope.domain import FaceLandmarks
from gazescope.vision.head_pose import CANONICAL_FACE_3D, camera_matrix, estimate_head_pose
from gazescope.vision.landmarks.base import EyeIndices, LandmarkScheme

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
