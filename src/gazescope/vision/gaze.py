"""Gaze direction from eye-in-head angles and head pose; eye contact.

Eye-in-head angles come from the pupil's offset from the midpoint of the eye corners, in units of the
corner-to-corner width ``W``: with an eyeball radius ``R`` of about 12 mm (axial length ~24 mm; Bekerman
et al., "Variations in Eyeball Diameters of the Healthy Adults", J. Ophthalmology 2014) and a palpebral
fissure of about 29 mm, ``W / R ~= 2.4`` and ``sin(angle) = offset * W / R``. Head pose adds its yaw
and pitch. The angles are then taken relative to the line from the face to the camera (the face is
seldom on the optical axis: its bearing is ``atan((x - cx) / f)`` with the same pinhole as head pose),
so (0, 0) means looking into the camera.

``gaze_vector`` (x, y) = (yaw, -pitch) / 45 degrees clipped to -1..1: x toward the subject's left
(image right), y down. Eye contact: the angle to the camera axis within ``eye_contact_cone_deg``.
"""

from __future__ import annotations

import math

EYE_WIDTH_OVER_RADIUS = 2.4
GAZE_VECTOR_FULL_SCALE_DEG = 45.0


def eye_angles_deg(offset_x: float, offset_y: float) -> tuple[float, float]:
    """(yaw, pitch) of the eye in the head, in degrees, from corner-frame pupil offsets (width units).

    ``yaw > 0`` toward the subject's left; ``pitch > 0`` up. Range -90..90.
    """
    sx = max(-1.0, min(1.0, offset_x * EYE_WIDTH_OVER_RADIUS))
    sy = max(-1.0, min(1.0, -offset_y * EYE_WIDTH_OVER_RADIUS))
    return math.degrees(math.asin(sx)), math.degrees(math.asin(sy))


def camera_bearing_deg(x_px: float, y_px: float, width: int, height: int) -> tuple[float, float]:
    """(yaw, pitch) of the direction from a face at image point (x, y) to the camera, in degrees."""
    f = float(width)
    return -math.degrees(math.atan((x_px - width / 2) / f)), math.degrees(math.atan((y_px - height / 2) / f))


def gaze_vector(yaw_deg: float, pitch_deg: float) -> tuple[float, float]:
    """(x, y) in -1..1 from gaze angles relative to the camera; y is down."""
    s = GAZE_VECTOR_FULL_SCALE_DEG
    return max(-1.0, min(1.0, yaw_deg / s)), max(-1.0, min(1.0, -pitch_deg / s))


def is_eye_contact(yaw_deg: float, pitch_deg: float, cone_deg: float, camera_pitch_deg: float = 0.0) -> bool:
    """True when the gaze lies within ``cone_deg`` of the camera direction."""
    return math.hypot(yaw_deg, pitch_deg - camera_pitch_deg) <= cone_deg
