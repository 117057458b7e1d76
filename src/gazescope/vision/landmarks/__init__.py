"""Landmark backends behind one protocol; ``create_detector(name)`` picks one."""

from __future__ import annotations

from gazescope.config import LandmarkSettings
from gazescope.errors import LandmarkBackendError
from gazescope.vision.landmarks.base import Detection, EyeIndices, LandmarkDetector, LandmarkScheme

BACKENDS = ("mediapipe", "dlib")


def create_detector(
    name: str, *, static: bool = False, settings: LandmarkSettings | None = None
) -> LandmarkDetector:
    """Create a landmark detector by name ('mediapipe' or 'dlib').

    Args:
        name: the backend, one of :data:`BACKENDS` (``Settings.landmark_backend``).
        static: True for independent single images (no tracking between calls).
        settings: the detector thresholds (:class:`~gazescope.config.LandmarkSettings`; a ``Settings`` is
            one); None: the defaults.

    Raises:
        LandmarkBackendError: unknown name, or the backend's optional dependency is not installed.
    """
    if name == "mediapipe":
        from gazescope.vision.landmarks.mediapipe_facemesh import FaceMeshDetector

        return FaceMeshDetector(settings, static=static)
    if name == "dlib":
        from gazescope.vision.landmarks.dlib68 import Dlib68Detector

        return Dlib68Detector(static=static)
    raise LandmarkBackendError(f"unknown landmark backend {name!r}; available: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Detection", "EyeIndices", "LandmarkDetector", "LandmarkScheme", "create_detector"]
