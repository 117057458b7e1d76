"""Fixtures for calibration tests: synthetic Face Mesh features with a known iris position."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.session import CalibrationSession
from gazescope.domain import FaceLandmarks, FrameFeatures, HeadPose
from gazescope.vision.landmarks.mediapipe_facemesh import FACEMESH_SCHEME


def _synthetic_ff(gx: float, gy: float, *, yaw: float = 0.0, nose_x: float = 320.0) -> FrameFeatures:
    """A face whose irises sit at ``gx``, ``gy`` (eye widths, x toward the subject's left) from the
    corner midpoints, upper lids following ``gy``; 40 px wide eyes."""
    sch = FACEMESH_SCHEME
    pts = np.zeros((sch.n_points, 2), dtype=np.float32)
    pts[:] = (nose_x, 260.0)
    w = 40.0
    for idx, (cx, side) in (
        (sch.right_eye, (nose_x - 40.0, "right")),
        (sch.left_eye, (nose_x + 40.0, "left")),
    ):
        # right eye: outer corner on the image left; left eye: outer corner on the image right
        outer_x = cx - w / 2 if side == "right" else cx + w / 2
        inner_x = cx + w / 2 if side == "right" else cx - w / 2
        e = idx.ear
        pts[e[0]] = (outer_x, 200.0)
        pts[e[3]] = (inner_x, 200.0)
        lid_y = 200.0 - 0.18 * w + 0.5 * gy * w
        for k in (e[1], e[2], idx.lid_top):
            pts[k] = (cx, lid_y)
        for k in (e[4], e[5], idx.lid_bottom):
            pts[k] = (cx, 200.0 + 0.12 * w)
        # the image x of "toward the subject's left" is +x for both eyes
        pts[idx.iris_center] = (cx + gx * w, 200.0 + gy * w)
        for k in idx.iris_ring:
            pts[k] = pts[idx.iris_center] + (4.0, 0.0)
    pts[sch.pose[2]] = pts[sch.right_eye.ear[0]]
    pts[sch.pose[3]] = pts[sch.left_eye.ear[0]]
    face = FaceLandmarks(points_px=pts, scheme=sch, image_size=(640, 480))
    head = HeadPose(
        yaw_deg=yaw, pitch_deg=0.0, roll_deg=0.0, translation=(0.0, 0.0, 600.0), reprojection_px=1.0
    )
    return FrameFeatures(face_detected=True, face_count=1, image_size=(640, 480), confidence=1.0,
                         landmarks=face, head=head)  # fmt: skip


@pytest.fixture
def make_ff() -> Callable[..., FrameFeatures]:
    return _synthetic_ff


def gaze_for_target(x_px: float, y_px: float, w: float = 1600.0, h: float = 900.0) -> tuple[float, float]:
    """The synthetic person's eye offsets when looking at (x, y): looking left on screen moves the iris
    toward the subject's left (+x)."""
    return 0.06 - 0.12 * x_px / w, -0.08 + 0.06 * y_px / h


@pytest.fixture
def gaze_of() -> Callable[..., tuple[float, float]]:
    return gaze_for_target


def fitted_calibration(make_ff=_synthetic_ff, gaze_of=gaze_for_target) -> FittedCalibration:
    """A ridge calibration of the synthetic person ("ana") on a 1600x900 screen, 9-point layout."""
    s = CalibrationSession("9", 1600, 900, user_id="ana")
    t = 0.0
    for i, (x, y) in enumerate(s.targets_px):
        s.target_shown(i, t)
        for k in range(15):
            s.add(make_ff(*gaze_of(x, y, 1600, 900)), t + 33.0 * k)
        t += 1000.0
    return s.finish().calibration


@pytest.fixture
def fitted(make_ff, gaze_of) -> FittedCalibration:
    return fitted_calibration(make_ff, gaze_of)
