"""Gaze direction from the pupil's place between the eye corners and head pose; eye contact.

The eyeball is a sphere of radius ``R`` turning about its centre; the eye corners lie ``z_c`` in front of
that centre, ``W`` apart. Seen by a camera with the head turned by ``phi``, the pupil's offset from the
corners' midpoint, in units of the projected corner-to-corner width ``W cos(phi)``, is
``(R sin(theta + phi) - z_c sin(phi)) / (W cos(phi))``, where ``theta + phi`` is the eye's direction
relative to the camera. Hence::

    sin(gaze) = (W / R) * offset * cos(phi) + (z_c / R) * sin(phi)

for yaw and, with the lid-perpendicular offset, for pitch. Adding the head angle to an eye-in-head angle
read as if the head were frontal (``asin(offset W / R)``, the previous model) overstates the head's share:
it called a head turned 40 degrees with the eyes rolled back to the lens 13 degrees off the camera.
``W / R ~= 2.4``: eyeball radius about 12 mm (axial length ~24 mm; Bekerman et al., "Variations in Eyeball
Diameters of the Healthy Adults", J. Ophthalmology 2014) over a palpebral fissure of about 29 mm.
``z_c / R`` (:data:`CORNER_DEPTH_OVER_RADIUS`) = 0.5: the eye corners lie a few millimetres in front of the
eyeball's centre; on the labelled desk video (shared/data/attention), frames with the head turned 40
degrees and the eyes back on the lens solve to 0.57. It is fixed, not tuned by the attention evaluation. The angles are then taken relative to the line from the face to
the camera (the face is seldom on the optical axis: its bearing is ``atan((x - cx) / f)`` with the same
pinhole as head pose), so (0, 0) means looking into the camera.

``gaze_vector`` (x, y) = (yaw, -pitch) / 45 degrees clipped to -1..1: x toward the subject's left
(image right), y down. Eye contact and looking away are judged against the person's neutral gaze
(:mod:`gazescope.tracking.neutral`).
"""

from __future__ import annotations

import math

EYE_WIDTH_OVER_RADIUS = 2.4
CORNER_DEPTH_OVER_RADIUS = 0.5
GAZE_VECTOR_FULL_SCALE_DEG = 45.0


def _asin_deg(x: float) -> float:
    return math.degrees(math.asin(max(-1.0, min(1.0, x))))


def gaze_angles_deg(
    offset_x: float,
    offset_y: float,
    head_yaw_deg: float,
    head_pitch_deg: float,
    corner_depth: float = CORNER_DEPTH_OVER_RADIUS,
) -> tuple[float, float]:
    """(yaw, pitch) of the gaze relative to the camera's viewing direction, in degrees (-90..90).

    Args:
        offset_x, offset_y: the pupil's offset from the eye corners' midpoint along and across the corner
            axis, in units of the corner-to-corner width (``EyeState.offset_x``/``offset_y``; y down).
        head_yaw_deg, head_pitch_deg: head pose (``yaw > 0`` toward the subject's left, ``pitch > 0`` up).
        corner_depth: ``z_c / R``, how far the corners lie in front of the eyeball's centre in radii.

    Returns:
        The eye's direction in the camera frame (not yet corrected for the face's bearing from the
        optical axis): ``yaw > 0`` toward the subject's left, ``pitch > 0`` up. See the module docstring.
    """
    hy, hp = math.radians(head_yaw_deg), math.radians(head_pitch_deg)
    g = EYE_WIDTH_OVER_RADIUS
    return (
        _asin_deg(g * offset_x * math.cos(hy) + corner_depth * math.sin(hy)),
        _asin_deg(-g * offset_y * math.cos(hp) + corner_depth * math.sin(hp)),
    )


def eye_angles_deg(offset_x: float, offset_y: float) -> tuple[float, float]:
    """(yaw, pitch) of the eye in the head, in degrees, from corner-frame pupil offsets (width units):
    :func:`gaze_angles_deg` of a frontal head. ``yaw > 0`` toward the subject's left; ``pitch > 0`` up.
    Range -90..90."""
    return gaze_angles_deg(offset_x, offset_y, 0.0, 0.0)


def camera_bearing_deg(x_px: float, y_px: float, width: int, height: int) -> tuple[float, float]:
    """(yaw, pitch) of the direction from a face at image point (x, y) to the camera, in degrees."""
    f = float(width)
    return -math.degrees(math.atan((x_px - width / 2) / f)), math.degrees(math.atan((y_px - height / 2) / f))


def gaze_vector(yaw_deg: float, pitch_deg: float) -> tuple[float, float]:
    """(x, y) in -1..1 from gaze angles relative to the camera; y is down."""
    s = GAZE_VECTOR_FULL_SCALE_DEG
    return max(-1.0, min(1.0, yaw_deg / s)), max(-1.0, min(1.0, -pitch_deg / s))
