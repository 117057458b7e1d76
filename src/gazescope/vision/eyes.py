"""Per-eye measures from landmarks: eye aspect ratio, pupil centre, horizontal/vertical ratios.

* Eye aspect ratio (EAR): Soukupova & Cech, "Real-Time Eye Blink Detection using Facial Landmarks",
  CVWW 2016: ``(|p2-p6| + |p3-p5|) / (2 |p1-p4|)``; about 0.25-0.35 for an open eye, falling toward
  0.05-0.1 when closed (Face Mesh lids never quite meet).
* Ratios keep GazeTracking's meaning (0.0 = pupil toward the subject's right ... 1.0 left; 0.0 top ... 1.0
  bottom) but are measured in an eye-corner frame: the axis runs from the corner on the subject's right to
  the one on the left, and the horizontal ratio maps the pupil's position along it from ``r`` to
  ``1 - r`` (``r`` = iris radius / eye width, since a visible iris centre cannot come nearer a corner than
  its radius) onto 0..1; the vertical ratio places the pupil between the upper and lower lid. Both are
  clipped to 0..1. GazeTracking divides the pupil x by the crop width instead, which gives values beyond 1.
"""

from __future__ import annotations

import math

import numpy as np

from gazescope.domain import EyeState, FaceLandmarks, Point
from gazescope.vision.landmarks.base import EyeIndices

# Iris radius / eye width used where the backend gives no iris ring (dlib): the human iris is about
# 11.7 mm across (Caroline & Andre 2002) and the palpebral fissure about 28-30 mm long.
DEFAULT_IRIS_RADIUS_FRAC = 0.2


def eye_aspect_ratio(p: np.ndarray) -> float:
    """EAR of six points (6, 2) in Soukupova & Cech's order; 0.0 for a degenerate eye."""
    width = float(np.hypot(*(p[0] - p[3])))
    if width <= 1e-6:
        return 0.0
    a = float(np.hypot(*(p[1] - p[5])))
    b = float(np.hypot(*(p[2] - p[4])))
    return (a + b) / (2.0 * width)


def measure_eye(face: FaceLandmarks, idx: EyeIndices, side: str, pupil: Point | None = None) -> EyeState:
    """Measures of one eye.

    Args:
        face: the face's landmarks.
        idx: the eye's rows in ``face.points_px``.
        side: 'right' or 'left' (the subject's).
        pupil: pupil centre found by the backend (dlib); None to use the scheme's iris centre.

    Returns:
        EyeState with EAR, pupil, ratios in 0..1 (None without a pupil), corner-frame offsets and width.
    """
    pts = face.points_px
    p = pts[list(idx.ear)]
    ear = eye_aspect_ratio(p)
    outer, inner = p[0], p[3]
    # a: corner on the subject's right side of this eye (image left); b: on the left side (image right).
    a, b = (outer, inner) if side == "right" else (inner, outer)
    u = b - a
    width = float(math.hypot(float(u[0]), float(u[1])))
    if width <= 1e-6:
        return EyeState(ear, None, None, None, None, None, 0.0, 0.0)
    ex = u / width
    ey = np.array([-ex[1], ex[0]], dtype=np.float32)  # perpendicular, pointing down the image
    top = pts[idx.lid_top] if idx.lid_top is not None else (p[1] + p[2]) / 2
    bottom = pts[idx.lid_bottom] if idx.lid_bottom is not None else (p[4] + p[5]) / 2
    lid_gap = float(np.dot(bottom - top, ey))
    opening = lid_gap / width
    if pupil is None and idx.iris_center is not None:
        c = pts[idx.iris_center]
        ring = pts[list(idx.iris_ring)]
        r_frac = float(np.mean(np.hypot(*(ring - c).T))) / width if len(ring) else DEFAULT_IRIS_RADIUS_FRAC
    elif pupil is not None:
        c = np.asarray(pupil, dtype=np.float32)
        r_frac = DEFAULT_IRIS_RADIUS_FRAC
    else:
        return EyeState(ear, None, None, None, None, None, width, opening)
    r_frac = min(max(r_frac, 0.05), 0.35)
    t = float(np.dot(c - a, ex)) / width
    h_ratio = min(max((t - r_frac) / (1.0 - 2.0 * r_frac), 0.0), 1.0)
    v_ratio = None
    if lid_gap > 1e-3 * width:
        v_ratio = min(max(float(np.dot(c - top, ey)) / lid_gap, 0.0), 1.0)
    mid = (a + b) / 2
    off_y = float(np.dot(c - mid, ey)) / width
    return EyeState(
        ear=ear,
        pupil_px=(float(c[0]), float(c[1])),
        horizontal_ratio=h_ratio,
        vertical_ratio=v_ratio,
        offset_x=t - 0.5,
        offset_y=off_y,
        width_px=width,
        opening=opening,
    )


def mean_or_none(values: list[float | None]) -> float | None:
    """Mean of the values that are not None, or None."""
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None
