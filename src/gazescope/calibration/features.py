"""Head-normalised eye features for calibration, from one frame's :class:`~gazescope.domain.FrameFeatures`.

What is measured (each eye, then averaged over the eyes that have an iris):

* ``iris_x`` / ``iris_y``: the iris centre (Face Mesh iris landmark, Ablavatski et al. 2020) relative to
  the midpoint of the eye corners, in an eye-corner frame (x along the corner-to-corner axis toward the
  subject's left, y perpendicular, down), in units of the corner-to-corner width. Expressing the iris in
  this frame removes head translation, image scale and in-plane head roll.
* ``lid_upper_y``: the mean of the three central upper-lid landmarks in the same frame. The upper lid
  follows vertical gaze closely (lid-eye coordination; Becker & Fuchs, "Lid-eye coordination during
  vertical gaze changes in man and monkey", J. Neurophysiol. 1988), and on webcam images it is a steadier
  vertical cue than the iris centre, which moves about one pixel over a laptop screen's height.
* ``opening``: lid distance / eye width; head pose (yaw, pitch, roll in degrees, from
  :mod:`gazescope.vision.head_pose`), nose-tip position normalised by the image size, and the
  inter-ocular (iris-to-iris) distance / image width (a proxy of 1 / distance to the camera).

Measured on the webcam_dots set (2 people, 18 sessions, calibration on one session and test on the
others; see :mod:`gazescope.evaluation.gaze`): the eye-corner-frame iris x predicts the screen x, and the
iris y plus the upper lid predict the screen y; adding head pose, head position or scale as regression
inputs made cross-session errors *worse* (e.g. 263 -> 304 px mean |dx| with head yaw), because 16
calibration images from one sitting cannot separate head from eye contributions, and the generic
6-point head pose is too noisy (a few degrees) for an additive geometric model. The head values are kept
in the vector for :meth:`FittedCalibration.head_in_range` and for mappers that want them.

*Mirror averaging* (``mirrored=``): the same measures from Face Mesh run on the horizontally flipped
frame, mapped back and averaged with the direct ones. It halves the landmark model's own jitter and
left/right bias (webcam_dots: 361 -> 334 px mean error) at the price of a second landmark pass.

*Zoom views* (``views=``, built by :func:`zoom_views` and :func:`analyze_views`): Face Mesh run again on
copies of the frame zoomed about its centre (default scales 0.9 and 1.1), directly and mirrored; the
per-eye measures are averaged over all views. The measures are ratios in the eye-corner frame, so they
are invariant to the zoom and need no mapping back. Test-time augmentation of this kind averages the
landmark model's input-dependent error (cf. test-time augmentation for landmark/pose networks, e.g.
Newell et al., "Stacked hourglass networks", ECCV 2016, flip averaging). Measured on webcam_dots with
the ``ridge`` mapper (6 Face Mesh passes per frame: zooms 0.9/1.0/1.1, each direct and mirrored): mean
error 334 -> 319 px over mirror alone, both subjects better (hy 307 -> 289, math10 351 -> 338 px).
Shifted copies (+-0.5 px) did not help (+-0.5 px shifts with mirror: 326-330 px), nor did more views
without the mirror (9 direct views: 363 px, no better than one): the mirror is what decorrelates the
errors and the zooms add to it. The views were chosen on this set (both subjects), so the figure is
optimistic by the choice among about ten view sets.

Eye patches for appearance mappers (:func:`eye_patches`): each eye cropped along its corner axis (roll
removed), 60x36 grey, histogram-equalised, scaled to 0..1 — the eye-image normalisation of Zhang et al.,
"Appearance-based gaze estimation in the wild" (MPIIGaze, CVPR 2015), without the 3D rotation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from gazescope.domain import FaceLandmarks, FrameFeatures
from gazescope.errors import ValidationError
from gazescope.vision.landmarks.base import EyeIndices

FEATURE_NAMES: tuple[str, ...] = (
    "iris_x",
    "iris_y",
    "lid_upper_y",
    "iris_x_right",
    "iris_x_left",
    "opening",
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "nose_x_norm",
    "nose_y_norm",
    "interocular_norm",
)
"""Order of the columns of :meth:`GazeFeatures.vector` (and of every mapper's input ``X``)."""

N_FEATURES = len(FEATURE_NAMES)
PATCH_H, PATCH_W = 36, 60
PATCH_SIZE = 2 * PATCH_H * PATCH_W
"""Length of the flattened pair of eye patches appended to ``X`` for appearance mappers."""

HEAD_RANGE_FEATURES: tuple[str, ...] = (
    "yaw_deg",
    "pitch_deg",
    "nose_x_norm",
    "nose_y_norm",
    "interocular_norm",
)


@dataclass(frozen=True, slots=True)
class GazeFeatures:
    """Calibration features of one frame (see the module docstring for definitions and sources).

    Offsets are in eye-width units (typically -0.15..0.15), angles in degrees, positions 0..1 of the image,
    ``interocular_norm`` about 0.05-0.3. ``patches``: optional (2, 36, 60) float32 eye patches in 0..1
    (subject's right eye first), only when an RGB frame was given.
    """

    iris_x: float
    iris_y: float
    lid_upper_y: float
    iris_x_right: float
    iris_x_left: float
    opening: float
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    nose_x_norm: float
    nose_y_norm: float
    interocular_norm: float
    patches: np.ndarray | None = None

    def vector(self) -> np.ndarray:
        """The (N_FEATURES,) float64 vector in :data:`FEATURE_NAMES` order."""
        return np.array([getattr(self, n) for n in FEATURE_NAMES], dtype=np.float64)

    def row(self, with_patches: bool = False) -> np.ndarray | None:
        """The mapper input row: the vector, plus the flattened patches when ``with_patches``.

        Returns None when patches are asked for but absent.
        """
        v = self.vector()
        if not with_patches:
            return v
        if self.patches is None:
            return None
        return np.concatenate([v, self.patches.reshape(-1).astype(np.float64)])


def _eye_values(pts: np.ndarray, idx: EyeIndices, side: str) -> tuple[float, float, float, float] | None:
    """(iris_x, iris_y, lid_upper_y, opening) of one eye from points (N, 2); side is the subject's."""
    if idx.iris_center is None:
        return None
    outer, inner = pts[idx.outer], pts[idx.inner]
    a, b = (outer, inner) if side == "right" else (inner, outer)
    u = b - a
    width = float(math.hypot(float(u[0]), float(u[1])))
    if width <= 1e-6:
        return None
    ex = u / width
    ey = np.array([-ex[1], ex[0]])
    mid = (a + b) / 2.0
    c = pts[idx.iris_center]
    # central upper-lid points: the two EAR upper-lid points and the lid-top point
    ear = idx.ear
    upper = [ear[1], ear[2]] + ([idx.lid_top] if idx.lid_top is not None else [])
    lower = [ear[4], ear[5]] + ([idx.lid_bottom] if idx.lid_bottom is not None else [])
    up = pts[upper].mean(axis=0)
    lo = pts[lower].mean(axis=0)
    return (
        float(np.dot(c - mid, ex)) / width,
        float(np.dot(c - mid, ey)) / width,
        float(np.dot(up - mid, ey)) / width,
        float(np.dot(lo - up, ey)) / width,
    )


def _both_eyes(face: FaceLandmarks, mirrored: bool) -> dict[str, tuple[float, float, float, float]]:
    """Per-eye values keyed by the subject's side; ``mirrored`` for a detection on a flipped frame."""
    pts = face.points_px.astype(np.float64)
    sch = face.scheme
    out: dict[str, tuple[float, float, float, float]] = {}
    for idx, side in ((sch.right_eye, "right"), (sch.left_eye, "left")):
        if mirrored:
            w = face.image_size[0]
            p = pts.copy()
            p[:, 0] = w - p[:, 0]
            true_side = "left" if side == "right" else "right"  # a flipped image swaps the eyes
            vals = _eye_values(p, idx, true_side)
        else:
            true_side = side
            vals = _eye_values(pts, idx, side)
        if vals is not None and all(math.isfinite(v) for v in vals):
            out[true_side] = vals
    return out


def extract_features(
    ff: FrameFeatures,
    image_rgb: np.ndarray | None = None,
    *,
    mirrored: FrameFeatures | None = None,
    views: Sequence[tuple[FrameFeatures, bool]] = (),
) -> GazeFeatures | None:
    """Calibration features of one frame.

    Args:
        ff: the frame's features from :class:`~gazescope.vision.pipeline.FrameAnalyzer`.
        image_rgb: the frame (H, W, 3) uint8 RGB; when given, eye patches are cropped (memory only).
        mirrored: optional features of the same frame flipped left-right (``np.fliplr``), for mirror
            averaging (see the module docstring).
        views: further views of the same frame as ``(features, is_mirrored)`` pairs, e.g. zoomed copies
            from :func:`analyze_views`; each eye's measures are averaged over ``ff``, ``mirrored`` and all
            views where that eye was found (equal weights).

    Returns:
        GazeFeatures, or None when there is no face, no head pose, or no iris in either eye.
    """
    if not ff.face_detected or ff.landmarks is None or ff.head is None:
        return None
    face = ff.landmarks
    eyes = _both_eyes(face, mirrored=False)
    if not eyes:
        return None
    extra: list[tuple[FrameFeatures, bool]] = []
    if mirrored is not None:
        extra.append((mirrored, True))
    extra.extend(views)
    if extra:
        acc = {side: [np.asarray(v)] for side, v in eyes.items()}
        for v_ff, v_mirrored in extra:
            if not v_ff.face_detected or v_ff.landmarks is None:
                continue
            for side, vals in _both_eyes(v_ff.landmarks, mirrored=bool(v_mirrored)).items():
                if side in acc:
                    acc[side].append(np.asarray(vals))
        eyes = {side: tuple(float(x) for x in np.mean(vs, axis=0)) for side, vs in acc.items()}  # type: ignore[misc]
    mean = np.array(list(eyes.values()), dtype=float).mean(axis=0)
    xr = eyes["right"][0] if "right" in eyes else float(mean[0])
    xl = eyes["left"][0] if "left" in eyes else float(mean[0])
    w, h = ff.image_size
    sch = face.scheme
    nose = face.points_px[sch.pose[0]]
    ri, li = sch.right_eye.iris_center, sch.left_eye.iris_center
    if ri is not None and li is not None:
        iod = float(np.hypot(*(face.points_px[ri] - face.points_px[li])))
    else:
        iod = float(np.hypot(*(face.points_px[sch.pose[2]] - face.points_px[sch.pose[3]]))) * 0.65
    patches = eye_patches(image_rgb, face) if image_rgb is not None else None
    return GazeFeatures(
        iris_x=float(mean[0]),
        iris_y=float(mean[1]),
        lid_upper_y=float(mean[2]),
        iris_x_right=float(xr),
        iris_x_left=float(xl),
        opening=float(mean[3]),
        yaw_deg=float(ff.head.yaw_deg),
        pitch_deg=float(ff.head.pitch_deg),
        roll_deg=float(ff.head.roll_deg),
        nose_x_norm=float(nose[0]) / w,
        nose_y_norm=float(nose[1]) / h,
        interocular_norm=iod / w,
        patches=patches,
    )


DEFAULT_ZOOMS: tuple[float, ...] = (0.9, 1.1)
"""Zoom scales of the extra views (see the module docstring: chosen on webcam_dots, both subjects)."""


def zoom_views(image_rgb: np.ndarray, zooms: Sequence[float] = DEFAULT_ZOOMS) -> list[np.ndarray]:
    """Copies of the frame zoomed by each scale about the image centre (same size, edges replicated).

    Args:
        image_rgb: (H, W, 3) uint8 frame (kept in memory only).
        zooms: scales, each within 0.5..2 (1.0 gives a copy).

    Raises:
        ValidationError: a bad image or a scale outside 0.5..2.
    """
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValidationError("image_rgb must be a (H, W, 3) uint8 RGB array")
    h, w = image_rgb.shape[:2]
    out = []
    for z in zooms:
        z = float(z)
        if not 0.5 <= z <= 2.0:
            raise ValidationError(f"zoom scales must lie within 0.5..2, got {z}")
        m = np.array([[z, 0, (1 - z) * w / 2.0], [0, z, (1 - z) * h / 2.0]], dtype=np.float32)
        out.append(
            cv2.warpAffine(image_rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        )
    return out


def analyze_views(
    analyze: Callable[[np.ndarray], FrameFeatures],
    image_rgb: np.ndarray,
    *,
    mirror: bool = True,
    zooms: Sequence[float] = DEFAULT_ZOOMS,
) -> tuple[FrameFeatures, list[tuple[FrameFeatures, bool]]]:
    """Run a frame analyser on the frame and its views, for :func:`extract_features`.

    Args:
        analyze: e.g. ``FrameAnalyzer(settings, static=True).analyze`` (use a *static* analyser: the
            views are unrelated images for a tracker).
        image_rgb: (H, W, 3) uint8 RGB frame (memory only).
        mirror: also run each view (and the frame) flipped left-right.
        zooms: zoom scales of the extra views (:func:`zoom_views`).

    Returns:
        ``(features of the frame, [(view features, is_mirrored), ...])``: pass them as
        ``extract_features(ff, views=views)``. Costs ``(1 + len(zooms)) * (2 if mirror else 1)`` analyser
        calls (6 by default, about 6 x 15 ms with Face Mesh on one core).
    """
    ff = analyze(image_rgb)
    views: list[tuple[FrameFeatures, bool]] = []
    if mirror:
        views.append((analyze(np.ascontiguousarray(image_rgb[:, ::-1])), True))
    for zoomed in zoom_views(image_rgb, zooms):
        views.append((analyze(zoomed), False))
        if mirror:
            views.append((analyze(np.ascontiguousarray(zoomed[:, ::-1])), True))
    return ff, views


def eye_patches(image_rgb: np.ndarray, face: FaceLandmarks) -> np.ndarray:
    """Both eyes as normalised grey patches (2, 36, 60) float32 in 0..1 (subject's right eye first).

    Each patch is an affine crop whose x axis runs along the eye corners (roll removed), 1.5 eye widths
    wide and 0.9 tall, centred on the corners' midpoint, resized to 60x36, histogram-equalised
    (OpenCV ``equalizeHist``), as in the MPIIGaze normalisation (Zhang et al. 2015) without 3D warping.
    Frames and patches stay in memory.

    Raises:
        ValidationError: the image is not (H, W, 3) uint8.
    """
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValidationError("image_rgb must be a (H, W, 3) uint8 RGB array")
    grey = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2GRAY)
    pts = face.points_px.astype(np.float64)
    out = np.zeros((2, PATCH_H, PATCH_W), dtype=np.float32)
    for k, (idx, side) in enumerate(((face.scheme.right_eye, "right"), (face.scheme.left_eye, "left"))):
        outer, inner = pts[idx.outer], pts[idx.inner]
        a, b = (outer, inner) if side == "right" else (inner, outer)
        u = b - a
        width = float(np.hypot(*u))
        if width <= 1e-6:
            continue
        ex = u / width
        ey = np.array([-ex[1], ex[0]])
        mid = (a + b) / 2.0
        half_w, half_h = 0.75 * width, 0.45 * width
        src = np.array(
            [
                mid - half_w * ex - half_h * ey,
                mid + half_w * ex - half_h * ey,
                mid - half_w * ex + half_h * ey,
            ],
            dtype=np.float32,
        )
        dst = np.array([[0, 0], [PATCH_W, 0], [0, PATCH_H]], dtype=np.float32)
        m = cv2.getAffineTransform(src, dst)
        patch = cv2.warpAffine(
            grey, m, (PATCH_W, PATCH_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        out[k] = cv2.equalizeHist(patch).astype(np.float32) / 255.0
    return out


def aggregate(features: Sequence[GazeFeatures]) -> GazeFeatures:
    """Median of several frames' features for one target (robust to a stray frame); patches averaged.

    Raises:
        ValidationError: no features given.
    """
    if not features:
        raise ValidationError("aggregate() needs at least one GazeFeatures")
    vecs = np.stack([f.vector() for f in features])
    med = np.median(vecs, axis=0)
    pats = [f.patches for f in features if f.patches is not None]
    patches = np.mean(np.stack(pats), axis=0).astype(np.float32) if pats else None
    return GazeFeatures(**{n: float(v) for n, v in zip(FEATURE_NAMES, med, strict=True)}, patches=patches)


def feature_index(names: Sequence[str]) -> list[int]:
    """Column indices of feature names in :data:`FEATURE_NAMES`.

    Raises:
        ValidationError: an unknown name (the message lists the known ones).
    """
    out = []
    for n in names:
        if n not in FEATURE_NAMES:
            raise ValidationError(f"unknown feature {n!r}; known: {', '.join(FEATURE_NAMES)}")
        out.append(FEATURE_NAMES.index(n))
    return out
