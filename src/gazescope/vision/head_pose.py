"""Head pose by solvePnP against a canonical 3D face.

The six-point generic face model of Mallick ("Head Pose Estimation using OpenCV and Dlib", LearnOpenCV,
2016): nose tip, chin, outer eye corners and mouth corners, in millimetre-like units, here written in
OpenCV's camera convention (x right, y down, z away from the camera) so that a frontal face has a
rotation near identity. The camera is approximated as a pinhole with focal length equal to the image
width and the principal point at the image centre (no intrinsics are known for a webcam in a browser),
solved with ``cv2.solvePnP(..., SOLVEPNP_SQPNP)`` (Terzakis & Lourakis, "A Consistently Fast
and Globally Optimal Solution to the Perspective-n-Point Problem", ECCV 2020).

Angles are read from the face's forward axis rather than from an Euler decomposition, so they have no
gimbal flips: ``yaw_deg > 0`` toward the subject's left (image right), ``pitch_deg > 0`` up,
``roll_deg > 0`` tilted toward the subject's left shoulder.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from gazescope.domain import FaceLandmarks, HeadPose

# nose tip, chin, right-eye outer corner, left-eye outer corner, mouth right, mouth left (subject's sides)
CANONICAL_FACE_3D = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, 330.0, 65.0),
        (-225.0, -170.0, 135.0),
        (225.0, -170.0, 135.0),
        (-150.0, 150.0, 125.0),
        (150.0, 150.0, 125.0),
    ],
    dtype=np.float64,
)
_DIST = np.zeros((4, 1))


def camera_matrix(width: int, height: int) -> np.ndarray:
    """Pinhole camera (3, 3) with focal length = image width and centre at the image centre."""
    f = float(width)
    return np.array([[f, 0, width / 2.0], [0, f, height / 2.0], [0, 0, 1]], dtype=np.float64)


def estimate_head_pose(face: FaceLandmarks) -> HeadPose | None:
    """Head pose of one face, or None when solvePnP fails.

    Returns:
        HeadPose with yaw/pitch/roll in degrees (about -90..90), translation of the nose tip in model
        units, and the RMS reprojection error in pixels.
    """
    w, h = face.image_size
    img_pts = face.points_px[list(face.scheme.pose)].astype(np.float64)
    cam = camera_matrix(w, h)
    ok, rvec, tvec = cv2.solvePnP(CANONICAL_FACE_3D, img_pts, cam, _DIST, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return None
    rot, _ = cv2.Rodrigues(rvec)
    if tvec[2, 0] < 0:  # the mirror solution behind the camera
        return None
    fwd = -rot[:, 2]  # the face's forward axis (toward the camera for a frontal face)
    yaw = math.degrees(math.atan2(fwd[0], -fwd[2]))
    pitch = math.degrees(math.asin(max(-1.0, min(1.0, -fwd[1]))))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    proj, _ = cv2.projectPoints(CANONICAL_FACE_3D, rvec, tvec, cam, _DIST)
    err = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img_pts) ** 2, axis=1))))
    t = tvec.ravel()
    return HeadPose(
        yaw_deg=yaw,
        pitch_deg=pitch,
        roll_deg=roll,
        translation=(float(t[0]), float(t[1]), float(t[2])),
        reprojection_px=err,
    )
