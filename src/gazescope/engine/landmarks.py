"""Landmarks instead of frames (issue 22): a client that runs Face Mesh itself sends the landmarks of each
frame, as a binary ``GSLM`` message or as JSON (docs/protocol.md, "Landmarks instead of frames").

:func:`parse_landmarks` validates either form into a :class:`LandmarksMessage` (a ``ProtocolError`` with
code ``bad_landmarks`` otherwise); :func:`encode_landmarks` writes the binary form (tests, benchmarks and a
reference for clients). From the message on, a landmarks frame takes the frames' path
(:func:`gazescope.engine.frame_processes.analyze_landmarks`).
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from gazescope.config import LimitSettings
from gazescope.engine.wire import Inbound, LandmarksMessage, ProtocolError

MAGIC = b"GSLM"
"""First four bytes of a binary landmarks message (a JPEG starts ``FF D8``, a PNG ``89 50 4E 47``)."""
VERSION = 1
MESH_POINTS = 478
"""Face Mesh with iris refinement: 468 face points and 10 iris points (``refine_landmarks=True``)."""
HEADER = struct.Struct("<4sBBHHHd")
"""magic, version (uint8), face_count (uint8), n_landmarks (uint16), width, height (uint16 px), t_ms
(float64): 20 bytes, little-endian; then n_landmarks x 3 float32 (x, y, z)."""
MAX_FACES = 255
CODE = "bad_landmarks"


def _bad(message: str) -> ProtocolError:
    return ProtocolError(CODE, message)


def _check(
    points: np.ndarray, width: int, height: int, face_count: int, t_ms: float | None, limits: LimitSettings
) -> LandmarksMessage:
    n = len(points)
    if n not in (0, MESH_POINTS):
        raise _bad(f"a landmarks message holds {MESH_POINTS} points (Face Mesh with iris) or none, not {n}")
    if (n == 0) != (face_count == 0):
        raise _bad("face_count must be 0 exactly when the message holds no points")
    top = limits.landmarks_max_image_px
    if not (1 <= width <= top and 1 <= height <= top):
        raise _bad(f"width and height must be within 1..{top} px, got {width} x {height}")
    if t_ms is not None and not (math.isfinite(t_ms) and abs(t_ms) <= 1e15):
        raise _bad("t_ms must be a finite number of milliseconds")
    if n:
        if not np.isfinite(points).all():
            raise _bad("landmark values must be finite (no NaN or infinity)")
        m = limits.landmarks_xy_margin_norm
        xy = points[:, :2]
        if float(xy.min()) < -m or float(xy.max()) > 1.0 + m:
            raise _bad(f"landmark x and y are normalised to the image: each within {-m:g}..{1 + m:g}")
        z = limits.landmarks_max_abs_z
        if float(np.abs(points[:, 2]).max()) > z:
            raise _bad(f"landmark z (relative depth) must be within ±{z:g}")
    points.flags.writeable = False
    return LandmarksMessage(points, width, height, face_count, t_ms)


def parse_binary(data: bytes, limits: LimitSettings) -> LandmarksMessage:
    """Read a binary landmarks message (layout: :data:`HEADER`, then n x 3 float32).

    Raises:
        ProtocolError: ``bad_landmarks``: wrong magic or version, a size other than 20 + 12 n bytes, n not
            0 or 478, face_count not 0 exactly when n is 0, width or height outside
            1..``landmarks_max_image_px``, a value that is not finite or outside the ranges of
            ``landmarks_xy_margin_norm`` and ``landmarks_max_abs_z``.
    """
    if len(data) < HEADER.size:
        raise _bad(f"a binary landmarks message has a {HEADER.size}-byte header; got {len(data)} bytes")
    magic, version, faces, n, width, height, t_ms = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise _bad("a binary landmarks message starts with 'GSLM'")
    if version != VERSION:
        raise _bad(f"landmarks message version {version} is not supported (only {VERSION})")
    if len(data) != HEADER.size + 12 * n:
        raise _bad(
            f"a binary landmarks message of {n} points is {HEADER.size + 12 * n} bytes, got {len(data)}"
        )
    points = np.frombuffer(data, dtype="<f4", count=3 * n, offset=HEADER.size).reshape(n, 3).copy()
    return _check(points, width, height, faces, t_ms, limits)


def _int(msg: dict[str, Any], key: str) -> int:
    v = msg.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float) or not float(v).is_integer():
        raise _bad(f"a landmarks message needs an integer {key!r}")
    return int(v)


def parse_json(msg: dict[str, Any], limits: LimitSettings) -> LandmarksMessage:
    """Read a JSON landmarks message ``{"type": "landmarks", "landmarks": [x0, y0, z0, ...], "width",
    "height", "t_ms", "face_count"}`` (a flat list of 478 x 3 numbers, or [] with ``face_count`` 0;
    ``t_ms`` optional).

    Raises:
        ProtocolError: ``bad_landmarks``, for the reasons of :func:`parse_binary` and a ``landmarks`` that
            is not a flat list of numbers of length 0 or 1,434.
    """
    values = msg.get("landmarks")
    if not isinstance(values, list):
        raise _bad("a landmarks message needs 'landmarks': a flat list of x, y, z numbers")
    if len(values) not in (0, 3 * MESH_POINTS):
        raise _bad(f"'landmarks' holds {3 * MESH_POINTS} numbers (478 points x 3) or none, not {len(values)}")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise _bad("'landmarks' must hold numbers only")
    faces = _int(msg, "face_count")
    if not 0 <= faces <= MAX_FACES:
        raise _bad(f"face_count must be within 0..{MAX_FACES}")
    t = msg.get("t_ms")
    if t is not None and (isinstance(t, bool) or not isinstance(t, int | float)):
        raise _bad("t_ms must be a number (ms)")
    try:
        points = np.array(values, dtype=np.float32).reshape(-1, 3)
    except OverflowError:
        raise _bad("landmark values must be finite") from None
    return _check(
        points, _int(msg, "width"), _int(msg, "height"), faces, None if t is None else float(t), limits
    )


def parse_landmarks(inbound: Inbound, limits: LimitSettings) -> Inbound:
    """The ``landmarks`` message ``inbound`` (its binary ``payload`` or its JSON ``body``) with its
    :class:`LandmarksMessage` in ``landmarks`` and its time in ``client_t_ms``; the payload is let go.

    Raises:
        ProtocolError: ``bad_landmarks`` (see :func:`parse_binary`, :func:`parse_json`).
    """
    if isinstance(inbound.payload, bytes):
        lm = parse_binary(inbound.payload, limits)
    else:
        lm = parse_json(inbound.body, limits)
    return Inbound("landmarks", client_t_ms=lm.client_t_ms, landmarks=lm)


def encode_landmarks(
    points_norm: np.ndarray | None, width_px: int, height_px: int, t_ms: float, face_count: int | None = None
) -> bytes:
    """The binary message of one frame's landmarks: ``points_norm`` (478, 3) normalised x, y, z, or None
    (or a (0, 3) array) for no face; ``face_count`` defaults to 1 with points and 0 without."""
    pts = np.zeros((0, 3), np.float32) if points_norm is None else np.asarray(points_norm, "<f4")
    faces = (1 if len(pts) else 0) if face_count is None else face_count
    header = HEADER.pack(MAGIC, VERSION, faces, len(pts), width_px, height_px, float(t_ms))
    return header + pts.astype("<f4", copy=False).tobytes()
