"""dlib 68-point landmarks with pupil localisation by adaptive thresholding (optional extra ``dlib``).

Face detection: dlib's HOG frontal face detector; landmarks: the iBUG 300-W 68-point shape predictor
(Kazemi & Sullivan, "One Millisecond Face Alignment with an Ensemble of Regression Trees", CVPR 2014),
whose model file ships in the PyPI package ``face_recognition_models``.

Pupils: the method of the GazeTracking library (A. Lamé, github.com/antoinelame/GazeTracking, used by
seeds 001/002): the eye polygon is cut out of the grey frame, bilateral-filtered, eroded and binarised;
the binarisation threshold is calibrated per eye so that the dark iris covers about 48% of the eye area
(averaged over the first 20 frames of a stream, or found per image in static mode); the pupil is the
centroid of the second-largest contour.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from gazescope.domain import FaceLandmarks, Point
from gazescope.errors import LandmarkBackendError
from gazescope.vision.landmarks.base import Detection, EyeIndices, LandmarkScheme

DLIB68_SCHEME = LandmarkScheme(
    name="dlib68",
    n_points=68,
    right_eye=EyeIndices(
        ear=(36, 37, 38, 39, 40, 41),
        lid_top=None,
        lid_bottom=None,
        iris_center=None,
        iris_ring=(),
        contour=(36, 37, 38, 39, 40, 41),
    ),
    left_eye=EyeIndices(
        ear=(45, 44, 43, 42, 47, 46),
        lid_top=None,
        lid_bottom=None,
        iris_center=None,
        iris_ring=(),
        contour=(42, 43, 44, 45, 46, 47),
    ),
    pose=(30, 8, 36, 45, 48, 54),
    brow_right=(17, 18, 19, 20, 21),
    brow_left=(22, 23, 24, 25, 26),
)

AVERAGE_IRIS_SIZE = 0.48  # GazeTracking calibration.py
CALIBRATION_FRAMES = 20  # GazeTracking calibration.py
_KERNEL = np.ones((3, 3), np.uint8)


def _process_eye(eye_gray: np.ndarray, threshold: int) -> np.ndarray:
    frame = cv2.bilateralFilter(eye_gray, 10, 15, 15)
    frame = cv2.erode(frame, _KERNEL, iterations=3)
    return cv2.threshold(frame, threshold, 255, cv2.THRESH_BINARY)[1]


def _iris_size(binary: np.ndarray) -> float:
    inner = binary[5:-5, 5:-5]
    if inner.size == 0:
        return 0.0
    return 1.0 - cv2.countNonZero(inner) / inner.size


def best_threshold(eye_gray: np.ndarray) -> int:
    """The threshold (5..95) whose binarised iris covers closest to 48% of the eye region."""
    trials = {t: _iris_size(_process_eye(eye_gray, t)) for t in range(5, 100, 5)}
    return min(trials, key=lambda t: abs(trials[t] - AVERAGE_IRIS_SIZE))


def isolate_eye(gray: np.ndarray, pts: np.ndarray, margin: int = 5) -> tuple[np.ndarray, tuple[int, int]]:
    """Cut the eye polygon ``pts`` (6, 2) out of ``gray``; outside the polygon is white.

    Returns the crop and its (x, y) origin in the frame.
    """
    h, w = gray.shape
    poly = pts.astype(np.int32)
    mask = np.full((h, w), 255, np.uint8)
    cv2.fillPoly(mask, [poly], (0,))
    x0 = max(int(poly[:, 0].min()) - margin, 0)
    x1 = min(int(poly[:, 0].max()) + margin, w)
    y0 = max(int(poly[:, 1].min()) - margin, 0)
    y1 = min(int(poly[:, 1].max()) + margin, h)
    eye = np.where(mask[y0:y1, x0:x1] == 0, gray[y0:y1, x0:x1], 255).astype(np.uint8)
    return eye, (x0, y0)


def locate_pupil(eye_gray: np.ndarray, threshold: int) -> tuple[float, float] | None:
    """Pupil centre (x, y) in crop pixels: centroid of the second-largest contour, or None."""
    if eye_gray.size == 0:
        return None
    binary = _process_eye(eye_gray, threshold)
    contours, _ = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_NONE)
    contours = sorted(contours, key=cv2.contourArea)
    if len(contours) < 2:
        return None
    m = cv2.moments(contours[-2])
    if m["m00"] == 0:
        return None
    return m["m10"] / m["m00"], m["m01"] / m["m00"]


class Dlib68Detector:
    """dlib HOG face detector + 68-point shape predictor + GazeTracking pupils.

    ``detect(image_rgb)`` takes uint8 (H, W, 3) RGB. The largest detected face is the primary face.

    Raises:
        LandmarkBackendError: dlib or face_recognition_models is not installed
            (``pip install 'gazescope[dlib]'``).
    """

    name = "dlib"
    scheme = DLIB68_SCHEME

    def __init__(self, *, static: bool = False) -> None:
        try:
            import dlib
            import face_recognition_models
        except ImportError as exc:
            raise LandmarkBackendError(
                f"the dlib backend needs the optional extra: pip install 'gazescope[dlib]' ({exc})"
            ) from exc
        self.static = static
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
        self._rect = dlib.rectangle
        self._thresholds: dict[str, list[int]] = {"right": [], "left": []}
        self.last_inference_ms = 0.0  # face detection + shape prediction time of the last detect()

    def _threshold(self, side: str, eye: np.ndarray) -> int:
        if self.static:
            return best_threshold(eye)
        seen = self._thresholds[side]
        if len(seen) < CALIBRATION_FRAMES:
            seen.append(best_threshold(eye))
        return int(sum(seen) / len(seen))

    def _pupil(self, gray: np.ndarray, pts: np.ndarray, side: str) -> Point | None:
        eye, (x0, y0) = isolate_eye(gray, pts)
        if eye.size == 0 or min(eye.shape) < 12:
            return None
        c = locate_pupil(eye, self._threshold(side, eye))
        return None if c is None else (float(c[0] + x0), float(c[1] + y0))

    def detect(self, image_rgb: np.ndarray) -> Detection:
        t0 = time.perf_counter()
        gray = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
        faces = list(self._detector(gray, 0))
        self.last_inference_ms = (time.perf_counter() - t0) * 1e3
        if not faces:
            return Detection(face=None, face_count=0)
        rect = max(faces, key=lambda r: r.width() * r.height())
        shape = self._predictor(gray, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        self.last_inference_ms = (time.perf_counter() - t0) * 1e3
        h, w = gray.shape
        pr = self._pupil(gray, pts[36:42], "right")
        pl = self._pupil(gray, pts[42:48], "left")
        face = FaceLandmarks(points_px=pts, scheme=DLIB68_SCHEME, image_size=(w, h), pupils_px=(pr, pl))
        return Detection(face=face, face_count=len(faces))

    def close(self) -> None:
        return None
