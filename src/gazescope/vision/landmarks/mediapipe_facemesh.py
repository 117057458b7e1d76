"""MediaPipe Face Mesh with iris (``refine_landmarks=True``): the default landmark backend.

Face Mesh (Kartynnik et al., "Real-time Facial Surface Geometry from Monocular Video on Mobile GPUs",
2019) gives 468 face points; the attention-mesh refinement adds 10 iris points (468-477; Ablavatski et
al., "Real-time Pupil Tracking from Monocular Video for Digital Puppetry", 2020). Models ship inside the
``mediapipe==0.10.21`` wheel (``mp.solutions.face_mesh``); nothing is downloaded.

Small or distant faces (stage footage, a webcam across a room) escape Face Mesh's own short-range face
detector (BlazeFace short range is built for faces within ~2 m). When Face Mesh finds no face, gazescope
asks MediaPipe's full-range face detector (BlazeFace full range, sparse; faces up to ~5 m), crops a
square of ``FALLBACK_CROP_SCALE`` x the face box around it, scales the crop to ``FALLBACK_CROP_PX`` pixels
and runs a static-mode Face Mesh on the crop, mapping the landmarks back to the frame. This costs only on
frames where the plain tracker found nothing.

Only the rows gazescope reads are copied out of the protobuf result (``FACEMESH_SUBSET``), which keeps
the Python-side cost per frame to a few tens of microseconds. Faces are counted with MediaPipe Face
Detection (BlazeFace short range) every ``face_count_interval`` frames in tracking mode, every frame in
static mode, because Face Mesh itself is run for one face only.
"""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np

from gazescope.config import LandmarkSettings
from gazescope.domain import FaceLandmarks
from gazescope.errors import LandmarkBackendError
from gazescope.vision.landmarks.base import Detection, EyeIndices, LandmarkScheme

# Face Mesh indices gazescope uses (canonical mesh numbering; iris 468-477 with refine_landmarks).
_R_EAR = (33, 160, 158, 133, 153, 144)
_L_EAR = (263, 387, 385, 362, 380, 373)
_R_CONTOUR = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
_L_CONTOUR = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
_POSE = (1, 152, 33, 263, 61, 291)
_BROW_R = (70, 63, 105, 66, 107)
_BROW_L = (300, 293, 334, 296, 336)
_EXTRA = (159, 145, 386, 374, 468, 469, 470, 471, 472, 473, 474, 475, 476, 477, 168, 6, 10, 234, 454)

FACEMESH_SUBSET: tuple[int, ...] = tuple(
    dict.fromkeys(_R_EAR + _L_EAR + _R_CONTOUR + _L_CONTOUR + _POSE + _BROW_R + _BROW_L + _EXTRA)
)
_ROW = {mesh_idx: row for row, mesh_idx in enumerate(FACEMESH_SUBSET)}


def _rows(idx: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(_ROW[i] for i in idx)


FACEMESH_SCHEME = LandmarkScheme(
    name="mediapipe_facemesh",
    n_points=len(FACEMESH_SUBSET),
    right_eye=EyeIndices(
        ear=_rows(_R_EAR),  # type: ignore[arg-type]
        lid_top=_ROW[159],
        lid_bottom=_ROW[145],
        iris_center=_ROW[468],
        iris_ring=_rows((469, 470, 471, 472)),
        contour=_rows(_R_CONTOUR),
    ),
    left_eye=EyeIndices(
        ear=_rows(_L_EAR),  # type: ignore[arg-type]
        lid_top=_ROW[386],
        lid_bottom=_ROW[374],
        iris_center=_ROW[473],
        iris_ring=_rows((474, 475, 476, 477)),
        contour=_rows(_L_CONTOUR),
    ),
    pose=_rows(_POSE),  # type: ignore[arg-type]
    brow_right=_rows(_BROW_R),
    brow_left=_rows(_BROW_L),
)


_SUBSET_INDEX = np.array(FACEMESH_SUBSET, dtype=np.intp)


def facemesh_face(subset_norm: np.ndarray, width: int, height: int) -> FaceLandmarks:
    """The face of Face Mesh's normalised landmarks, in frame pixels: the one conversion of every
    ``FACEMESH_SCHEME`` face, from this detector and from a client's landmarks (issue 22).

    Args:
        subset_norm: float32 (len(FACEMESH_SUBSET), 3), the rows of :data:`FACEMESH_SUBSET` as MediaPipe
            gives them: x, y normalised to the width and height, z relative depth in image widths.
        width, height: the image size in pixels.

    Returns:
        FaceLandmarks with ``points_px`` = (x * width, y * height) and ``depth`` = z * width (float32).
    """
    arr = np.asarray(subset_norm, dtype=np.float32) * np.array([width, height, width], dtype=np.float32)
    return FaceLandmarks(
        points_px=arr[:, :2].copy(),
        scheme=FACEMESH_SCHEME,
        image_size=(width, height),
        depth=arr[:, 2].copy(),
    )


def face_from_mesh(mesh_norm: np.ndarray, width: int, height: int) -> FaceLandmarks:
    """:func:`facemesh_face` of all 478 Face Mesh landmarks (x, y, z normalised; (478, 3)), as a
    client running Face Mesh with iris refinement sends them."""
    return facemesh_face(mesh_norm[_SUBSET_INDEX], width, height)


# Chosen on hamilton_clip_640x360.mp4 (faces in 131 of 275 frames by plain Face Mesh): crop scales 1.2-3.0,
# sides 160-320 px and crop detection thresholds 0.2-0.5 gave 155-191 frames; this was the best.
FALLBACK_CROP_SCALE = 1.5  # crop side / detected face box side
FALLBACK_CROP_PX = 192  # crop side after scaling (Face Mesh's landmark model sees 192 x 192)
FALLBACK_MIN_CONFIDENCE = 0.3  # the crop holds a face the full-range detector already found
FACE_COUNT_MIN_CONFIDENCE = (
    0.5  # face counting: MediaPipe Face Detection's own default, apart from the mesh's
)


class FaceMeshDetector:
    """Face Mesh + iris landmarks for one stream (``static=False``) or for single images (``static=True``).

    ``detect(image_rgb)`` takes a uint8 (H, W, 3) RGB image and returns a
    :class:`~gazescope.vision.landmarks.base.Detection` whose face has ``FACEMESH_SCHEME`` rows.
    ``settings``: the detector thresholds, face counting interval and small-face fallback
    (:class:`~gazescope.config.LandmarkSettings`); None: the defaults.

    Raises:
        LandmarkBackendError: mediapipe is not importable or lacks ``solutions.face_mesh``.
    """

    name = "mediapipe"
    scheme = FACEMESH_SCHEME

    def __init__(self, settings: LandmarkSettings | None = None, *, static: bool = False) -> None:
        s = settings if settings is not None else LandmarkSettings()
        try:
            from mediapipe.python.solutions import face_detection, face_mesh
        except Exception as exc:  # pragma: no cover - depends on the installed wheel
            raise LandmarkBackendError(
                f"MediaPipe Face Mesh is unavailable ({exc}); install mediapipe==0.10.21"
            ) from exc
        self.static = static
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=static,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=s.min_detection_confidence,
            min_tracking_confidence=s.min_tracking_confidence,
        )
        self._fd_module = face_detection
        self._mesh_module = face_mesh
        self._min_det = s.min_detection_confidence
        self._fallback = s.small_face_fallback
        # MediaPipe solutions, untyped (Any); created on first use
        self._far_detector: Any = None
        self._crop_mesh: Any = None
        self._counter: Any = None
        self._count_interval = 1 if static else max(1, s.face_count_interval)
        self._frames = 0
        self._face_count = 0
        self.last_inference_ms = 0.0  # time of the raw Face Mesh call in the last detect(), for benchmarks

    def _count_faces(self, image_rgb: np.ndarray) -> int:
        if self._counter is None:
            self._counter = self._fd_module.FaceDetection(
                model_selection=0, min_detection_confidence=FACE_COUNT_MIN_CONFIDENCE
            )
        res = self._counter.process(image_rgb)
        return len(res.detections) if res.detections else 0

    def _small_face(self, image_rgb: np.ndarray) -> tuple[np.ndarray | None, int]:
        """Fallback for faces Face Mesh missed: (landmarks (N, 3) in frame pixels or None, faces found)."""
        if self._far_detector is None:
            self._far_detector = self._fd_module.FaceDetection(
                model_selection=1, min_detection_confidence=self._min_det
            )
            self._crop_mesh = self._mesh_module.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                min_detection_confidence=FALLBACK_MIN_CONFIDENCE,
            )  # fmt: skip
        dets = self._far_detector.process(image_rgb).detections
        if not dets:
            return None, 0
        h, w = image_rgb.shape[:2]

        def area(d: Any) -> float:
            b = d.location_data.relative_bounding_box
            return b.width * b.height

        box = max(dets, key=area).location_data.relative_bounding_box
        cx, cy = (box.xmin + box.width / 2) * w, (box.ymin + box.height / 2) * h
        side = max(box.width * w, box.height * h) * FALLBACK_CROP_SCALE
        x0, y0 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
        x1, y1 = int(min(cx + side / 2, w)), int(min(cy + side / 2, h))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None, len(dets)
        crop = image_rgb[y0:y1, x0:x1]
        scale = FALLBACK_CROP_PX / max(crop.shape[:2])
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        res = self._crop_mesh.process(crop)
        if not res.multi_face_landmarks:
            return None, len(dets)
        lm = res.multi_face_landmarks[0].landmark
        ch, cw = crop.shape[:2]
        arr = np.array([(lm[i].x, lm[i].y, lm[i].z) for i in FACEMESH_SUBSET], dtype=np.float32)
        arr[:, 0] = arr[:, 0] * cw / scale + x0
        arr[:, 1] = arr[:, 1] * ch / scale + y0
        arr[:, 2] = arr[:, 2] * cw / scale
        return arr, len(dets)

    def landmarks_raw(self, image_rgb: np.ndarray) -> Any:
        """The unconverted Face Mesh result (for benchmarks that time raw inference)."""
        return self._mesh.process(image_rgb)

    def detect(self, image_rgb: np.ndarray) -> Detection:
        h, w = image_rgb.shape[:2]
        t0 = time.perf_counter()
        res = self._mesh.process(image_rgb)
        self.last_inference_ms = (time.perf_counter() - t0) * 1e3
        face = None
        far_count = 0
        if res.multi_face_landmarks:
            lm = res.multi_face_landmarks[0].landmark
            norm = np.array([(lm[i].x, lm[i].y, lm[i].z) for i in FACEMESH_SUBSET], dtype=np.float32)
            face = facemesh_face(norm, w, h)
        elif self._fallback:
            arr, far_count = self._small_face(image_rgb)
            if arr is not None:
                face = FaceLandmarks(
                    points_px=arr[:, :2].copy(), scheme=FACEMESH_SCHEME, image_size=(w, h),
                    depth=arr[:, 2].copy(),
                )  # fmt: skip
        fresh = self._frames % self._count_interval == 0
        if fresh:
            self._face_count = self._count_faces(image_rgb)
        self._frames += 1
        count = max(self._face_count, far_count)
        if face is not None:
            count = max(count, 1)
        elif not fresh:
            count = far_count
        return Detection(face=face, face_count=count)

    def close(self) -> None:
        self._mesh.close()
        for extra in (self._counter, self._far_detector, self._crop_mesh):
            if extra is not None:
                extra.close()
