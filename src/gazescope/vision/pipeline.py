"""``FrameAnalyzer``: one RGB frame in, :class:`~gazescope.domain.FrameFeatures` out.

The only stateful part is the landmark detector's own tracking (one analyzer per stream); everything
measured here is a function of the frame. Timings of the landmark and measure stages are reported in
the features for benchmarks and the ``processing_ms`` of samples.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from gazescope.config import LandmarkSettings, Settings
from gazescope.domain import FaceLandmarks, FrameFeatures
from gazescope.vision.eyes import measure_eye
from gazescope.vision.gaze import camera_bearing_deg, gaze_angles_deg
from gazescope.vision.head_pose import estimate_head_pose
from gazescope.vision.landmarks import LandmarkDetector, create_detector


def _confidence(face: FaceLandmarks, eye_widths: list[float], yaw: float | None, has_pupils: int) -> float:
    """Heuristic 0..1: small eyes, strong yaw and missing pupils lower trust in eye measures.

    Eye width under 6 px gives 0 and over 20 px full size credit (iris landmarks need ~10 px irises;
    Ablavatski et al. 2020); |yaw| beyond 30 degrees loses credit linearly to 0 at 60 degrees (the far eye
    is occluded); each eye without a pupil halves the score.
    """
    width = max(eye_widths) if eye_widths else 0.0
    size = min(max((width - 6.0) / 14.0, 0.0), 1.0)
    pose = 1.0 if yaw is None else min(max(1.0 - (abs(yaw) - 30.0) / 30.0, 0.0), 1.0)
    pupils = 0.5 ** (2 - has_pupils)
    return round(size * pose * pupils, 4)


def measure_face(face: FaceLandmarks, face_count: int = 1) -> FrameFeatures:
    """Every per-frame measure of one face from its landmarks: eyes, head pose, gaze angles, confidence.

    The one path from landmarks to :class:`~gazescope.domain.FrameFeatures`, whether the landmarks came
    from a frame decoded here or were computed elsewhere (a replay of cached landmarks).

    Args:
        face: the face's landmarks (``face.image_size`` is the frame's (width, height) in pixels).
        face_count: faces seen in the frame (at least 1 is reported).

    Returns:
        FrameFeatures with ``face_detected`` True; timings 0.
    """
    w, h = face.image_size
    pupils = face.pupils_px or (None, None)
    right = measure_eye(face, face.scheme.right_eye, "right", pupils[0])
    left = measure_eye(face, face.scheme.left_eye, "left", pupils[1])
    head = estimate_head_pose(face)
    gaze_yaw = gaze_pitch = None
    offs = [
        (e.offset_x, e.offset_y)
        for e in (right, left)
        if e.offset_x is not None and e.offset_y is not None  # set together by measure_eye
    ]
    if head is not None and offs:
        ox = sum(o[0] for o in offs) / len(offs)
        oy = sum(o[1] for o in offs) / len(offs)
        cam_yaw, cam_pitch = gaze_angles_deg(ox, oy, head.yaw_deg, head.pitch_deg)
        nose = face.points_px[face.scheme.pose[0]]
        bear_yaw, bear_pitch = camera_bearing_deg(float(nose[0]), float(nose[1]), w, h)
        gaze_yaw = cam_yaw - bear_yaw
        gaze_pitch = cam_pitch - bear_pitch
    conf = _confidence(face, [right.width_px, left.width_px], head.yaw_deg if head else None, len(offs))
    return FrameFeatures(
        face_detected=True,
        face_count=max(face_count, 1),
        image_size=(w, h),
        confidence=conf,
        landmarks=face,
        right_eye=right,
        left_eye=left,
        head=head,
        gaze_yaw_deg=gaze_yaw,
        gaze_pitch_deg=gaze_pitch,
    )


class FrameAnalyzer:
    """Landmarks + per-frame measures for one stream.

    Args:
        settings: the landmark backend and its thresholds (:class:`~gazescope.config.LandmarkSettings`;
            a ``Settings`` is one). None: ``Settings()`` (the environment).
        static: True for independent single images (no tracking between calls).
        detector: an existing detector to use instead of creating one.
    """

    def __init__(
        self,
        settings: LandmarkSettings | None = None,
        *,
        static: bool = False,
        detector: LandmarkDetector | None = None,
    ) -> None:
        s: LandmarkSettings = settings if settings is not None else Settings()
        self.settings = s
        self.detector = detector or create_detector(s.landmark_backend, static=static, settings=s)

    def analyze(self, image_rgb: np.ndarray) -> FrameFeatures:
        """Measure one RGB uint8 frame (H, W, 3)."""
        h, w = image_rgb.shape[:2]
        t0 = time.perf_counter()
        det = self.detector.detect(image_rgb)
        t1 = time.perf_counter()
        face = det.face
        if face is None:
            return FrameFeatures(
                face_detected=False, face_count=det.face_count, image_size=(w, h), landmark_ms=(t1 - t0) * 1e3
            )
        features = measure_face(face, det.face_count)
        return replace(features, landmark_ms=(t1 - t0) * 1e3, measure_ms=(time.perf_counter() - t1) * 1e3)

    def close(self) -> None:
        self.detector.close()
