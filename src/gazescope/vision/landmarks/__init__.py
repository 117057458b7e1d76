"""Landmark backends behind one protocol; ``create_detector(name)`` picks one."""

from __future__ import annotations

from gazescope.errors import LandmarkBackendError
from gazescope.vision.landmarks.base import Detection, EyeIndices, LandmarkDetector, LandmarkScheme

BACKENDS = ("mediapipe", "dlib")


def create_detector(
    name: str = "mediapipe",
    *,
    static: bool = False,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
    face_count_interval: int = 15,
    small_face_fallback: bool = True,
) -> LandmarkDetector:
    """Create a landmark detector by name ('mediapipe' or 'dlib').

    Raises:
        LandmarkBackendError: unknown name, or the backend's optional dependency is not installed.
    """
    if name == "mediapipe":
        from gazescope.vision.landmarks.mediapipe_facemesh import FaceMeshDetector

        return FaceMeshDetector(
            static=static,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
            face_count_interval=face_count_interval,
            small_face_fallback=small_face_fallback,
        )
    if name == "dlib":
        from gazescope.vision.landmarks.dlib68 import Dlib68Detector

        return Dlib68Detector(static=static)
    raise LandmarkBackendError(f"unknown landmark backend {name!r}; available: {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Detection", "EyeIndices", "LandmarkDetector", "LandmarkScheme", "create_detector"]
