"""The landmark-detector protocol and the landmark schemes downstream code reads points by.

A scheme names, for each role (eye corners, lids, iris, pose points), the row of
``FaceLandmarks.points_px`` that holds it, so that eye and head measures are written once for every
backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from gazescope.domain import FaceLandmarks


@dataclass(frozen=True, slots=True)
class EyeIndices:
    """Rows of one eye's points. ``ear`` is (p1..p6) in Soukupova & Cech's order: p1 outer corner,
    p2/p3 upper lid (outer, inner), p4 inner corner, p5/p6 lower lid (inner, outer)."""

    ear: tuple[int, int, int, int, int, int]
    lid_top: int | None
    lid_bottom: int | None
    iris_center: int | None
    iris_ring: tuple[int, ...]
    contour: tuple[int, ...]

    @property
    def outer(self) -> int:
        return self.ear[0]

    @property
    def inner(self) -> int:
        return self.ear[3]


@dataclass(frozen=True, slots=True)
class LandmarkScheme:
    """Which row is which, for one backend. ``pose`` rows: nose tip, chin, right-eye outer corner,
    left-eye outer corner, mouth right corner, mouth left corner (the subject's right/left)."""

    name: str
    n_points: int
    right_eye: EyeIndices
    left_eye: EyeIndices
    pose: tuple[int, int, int, int, int, int]
    brow_right: tuple[int, ...] = ()
    brow_left: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Detection:
    """Result of one detector call: the primary face (None if no face) and the number of faces seen."""

    face: FaceLandmarks | None
    face_count: int


@runtime_checkable
class LandmarkDetector(Protocol):
    """A face-landmark backend.

    ``detect`` takes an RGB uint8 image (H, W, 3) and returns a :class:`Detection`. A detector created
    with ``static=False`` may keep tracking state between calls (one detector per stream); with
    ``static=True`` every call is independent (single images).
    """

    name: str
    scheme: LandmarkScheme

    def detect(self, image_rgb: np.ndarray) -> Detection: ...

    def close(self) -> None: ...
