"""Frozen value types that flow through gazescope.

Conventions (see DESIGN.md): units in names (``_px`` frame or screen pixels, ``_norm`` 0..1 from the
top-left, ``_ms``, ``_s``, ``_deg``); "left"/"right" of an eye or a pupil are the *subject's* own; image
coordinates have x to the right and y down. Angles: ``yaw_deg > 0`` turns toward the subject's left (the
camera image's right), ``pitch_deg > 0`` is up, ``roll_deg > 0`` tilts toward the subject's left shoulder.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from enum import Enum, StrEnum
from typing import Annotated, Any

import numpy as np
from pydantic import StringConstraints

Point = tuple[float, float]

ID_CHARS = r"A-Za-z0-9_.\-"
"""Characters of an id this service keeps as a key (sessions, stimuli, profiles): safe in Redis key names,
file names and URLs."""
MAX_ID_CHARS = 128
"""Longest id of a session, stimulus or profile (a UUID is 32-36 characters)."""
MAX_USER_REF_CHARS = 256
"""Longest reference to something outside the service (a user id, a calibration id)."""
ID_PATTERN = rf"^[{ID_CHARS}]{{1,{MAX_ID_CHARS}}}$"
"""The id rule as a pydantic pattern. pydantic's regex engine (Rust ``regex``) reads ``$`` as the end of the
text; Python's ``re`` also matches ``$`` before a final newline, so Python code uses ``\\Z`` or
``fullmatch`` (:data:`gazescope.storage.base.SESSION_ID_RE`)."""
USER_REF_PATTERN = rf"^[^\x00-\x1f\x7f]{{1,{MAX_USER_REF_CHARS}}}$"

ResourceId = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN),
]
"""Id of a session, stimulus or profile a client names (path, query, body): a string (no number
coerced) of 1-128 characters of ``[A-Za-z0-9_.-]``; anything else is refused (HTTP 422)."""
UserRef = Annotated[
    str,
    StringConstraints(strict=True, min_length=1, max_length=MAX_USER_REF_CHARS, pattern=USER_REF_PATTERN),
]
"""A client's reference to something outside the service (``user_id``, ``calibration_id``): a string of
1-256 characters without control characters (no newline)."""


class AttentionState(StrEnum):
    """Attention states, in order of precedence (see ``tracking.attention``)."""

    FOCUSED = "focused"
    LOOKING_AWAY = "looking_away"
    EYES_CLOSED = "eyes_closed"
    DROWSY = "drowsy"
    ABSENT = "absent"


class Direction(StrEnum):
    """Horizontal gaze direction with GazeTracking's meaning (the subject's own left/right)."""

    LEFT = "left"
    RIGHT = "right"
    CENTER = "center"


@dataclass(frozen=True, slots=True, eq=False)
class FaceLandmarks:
    """Landmarks of one face in one frame.

    ``points_px``: float32 array (N, 2) in frame pixels; which row is which is given by ``scheme``
    (a :class:`gazescope.vision.landmarks.base.LandmarkScheme`). ``depth``: optional (N,) relative depth
    (MediaPipe's z, in the same pixel scale, smaller is nearer the camera). ``pupils_px``: pupil centres
    (subject's right, left) found by the backend itself, or None where the backend has an iris in
    ``points_px`` instead. ``image_size``: (width, height) of the frame.
    """

    points_px: np.ndarray
    scheme: Any
    image_size: tuple[int, int]
    depth: np.ndarray | None = None
    pupils_px: tuple[Point | None, Point | None] | None = None

    def point(self, idx: int) -> np.ndarray:
        """The (2,) point at row ``idx`` of ``points_px``."""
        return self.points_px[idx]

    @property
    def bbox_px(self) -> tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) of the landmarks in pixels."""
        mn = self.points_px.min(axis=0)
        mx = self.points_px.max(axis=0)
        return float(mn[0]), float(mn[1]), float(mx[0]), float(mx[1])


@dataclass(frozen=True, slots=True)
class EyeState:
    """Per-eye measures of one frame.

    ``ear``: eye aspect ratio (Soukupova & Cech 2016), about 0.25-0.35 open, under 0.15 closed.
    ``pupil_px``: iris/pupil centre in frame pixels, None when not found.
    ``horizontal_ratio``: 0.0 pupil at the subject's right extreme ... 1.0 at the left (GazeTracking's
    meaning), measured between the eye corners less the iris radius, so it stays in 0..1.
    ``vertical_ratio``: 0.0 top ... 1.0 bottom, between the upper and lower lid.
    ``offset_x``/``offset_y``: pupil offset from the midpoint of the corners in an eye-corner frame,
    in units of the corner-to-corner width (x toward the subject's left, y down), for calibration.
    ``width_px``: corner-to-corner distance. ``opening``: lid distance / width.
    """

    ear: float
    pupil_px: Point | None
    horizontal_ratio: float | None
    vertical_ratio: float | None
    offset_x: float | None
    offset_y: float | None
    width_px: float
    opening: float


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Head pose from solvePnP against a canonical 3D face.

    Angles in degrees (see module docstring for signs), typically within +-60. ``translation``: (x, y, z)
    of the face model origin (nose tip) in camera coordinates in model units (about millimetres, only as
    good as the assumed focal length). ``reprojection_px``: RMS reprojection error of the fit.
    """

    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    translation: tuple[float, float, float]
    reprojection_px: float


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """Everything ``vision`` measures in one frame, before any per-stream state.

    ``face_detected`` False means every other optional field is None. ``gaze_yaw_deg``/``gaze_pitch_deg``
    combine eye-in-head angles with head pose (0, 0 = looking into the camera). ``confidence`` 0..1.
    """

    face_detected: bool
    face_count: int
    image_size: tuple[int, int]
    confidence: float = 0.0
    landmarks: FaceLandmarks | None = None
    right_eye: EyeState | None = None
    left_eye: EyeState | None = None
    head: HeadPose | None = None
    gaze_yaw_deg: float | None = None
    gaze_pitch_deg: float | None = None
    landmark_ms: float = 0.0
    measure_ms: float = 0.0

    @property
    def ear_mean(self) -> float | None:
        """Mean EAR of both eyes, or the one eye available, or None."""
        ears = [e.ear for e in (self.right_eye, self.left_eye) if e is not None]
        return float(sum(ears) / len(ears)) if ears else None


@dataclass(frozen=True, slots=True)
class BlinkEvent:
    """One blink: closure from ``start_ms`` to ``end_ms`` (frame indices inclusive), EAR minimum."""

    start_ms: float
    end_ms: float
    start_frame: int
    end_frame: int
    min_ear: float

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms


def _clean(v: Any) -> Any:
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else round(v, 6)
    if isinstance(v, np.floating):
        return _clean(float(v))
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, tuple | list):
        return [_clean(x) for x in v]
    return v


@dataclass(frozen=True, slots=True)
class GazeSample:
    """One processed frame: the unit streamed to clients, stored, and analysed.

    Fields follow DESIGN.md. Optional fields are None where they cannot be measured (no face, eyes
    closed, not calibrated). ``eye_contact_pct`` is 0..100 over ``eye_contact_window_s``;
    ``attention_score`` 0..1; ``gaze_vector`` (x, y) in -1..1, x toward the subject's left (camera image
    right), y down, 1.0 = 45 degrees or more off the camera axis. ``gaze_offset_deg`` (0..180): the gaze's
    angle from the person's neutral direction toward the device, by which ``eye_contact`` and
    ``looking_away`` are judged (:mod:`gazescope.tracking.neutral`). ``calibration_fit``: which fit mapped
    ``screen_x_px``/``screen_y_px`` (a profile id, ``+N`` after N click refits; None when not mapped).
    ``direction`` and ``attention_state`` are str-valued enums (their JSON is the value); strings are
    converted on construction (``ValueError`` for one that is not a member).
    """

    t_ms: float
    frame_index: int
    face_detected: bool
    face_count: int = 0
    confidence: float = 0.0
    pupil_left_px: Point | None = None
    pupil_right_px: Point | None = None
    horizontal_ratio: float | None = None
    vertical_ratio: float | None = None
    direction: Direction | None = None
    ear_left: float | None = None
    ear_right: float | None = None
    is_blinking: bool = False
    blink_count: int = 0
    yaw_deg: float | None = None
    pitch_deg: float | None = None
    roll_deg: float | None = None
    gaze_yaw_deg: float | None = None
    gaze_pitch_deg: float | None = None
    gaze_vector: Point | None = None
    gaze_offset_deg: float | None = None
    eye_contact: bool = False
    eye_contact_pct: float = 0.0
    blink_rate_per_min: float = 0.0
    perclos: float = 0.0
    attention_score: float = 0.0
    attention_state: AttentionState = AttentionState.ABSENT
    screen_x_px: float | None = None
    screen_y_px: float | None = None
    on_screen: bool | None = None
    head_in_range: bool | None = None
    processing_ms: float = 0.0
    dropped_frames: int = 0
    calibration_fit: str | None = None
    features: dict[str, float] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.attention_state, AttentionState):
            object.__setattr__(self, "attention_state", AttentionState(self.attention_state))
        if self.direction is not None and not isinstance(self.direction, Direction):
            object.__setattr__(self, "direction", Direction(self.direction))

    def to_dict(self, *, with_features: bool = False) -> dict[str, Any]:
        """JSON-ready dict of the DESIGN.md fields (tuples become lists, NaN becomes None, enums their
        string values)."""
        d = {f.name: _clean(getattr(self, f.name)) for f in fields(self) if f.name != "features"}
        if with_features and self.features is not None:
            d["features"] = {k: _clean(v) for k, v in self.features.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GazeSample:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("pupil_left_px", "pupil_right_px", "gaze_vector"):
            if kw.get(k) is not None:
                kw[k] = tuple(kw[k])
        return cls(**kw)


# Column order of samples.csv and CSV exports: tuple fields are split into _x/_y columns. ``stimulus_id``
# and ``video_t_s`` are set on samples recorded while a video stimulus played, ``source`` on samples not
# measured from a frame (``landmarks``, ``client_gaze``); empty otherwise.
SAMPLE_CSV_COLUMNS: tuple[str, ...] = (
    "t_ms", "frame_index", "face_detected", "face_count", "confidence",
    "pupil_left_x_px", "pupil_left_y_px", "pupil_right_x_px", "pupil_right_y_px",
    "horizontal_ratio", "vertical_ratio", "direction", "ear_left", "ear_right", "is_blinking",
    "blink_count", "yaw_deg", "pitch_deg", "roll_deg", "gaze_yaw_deg", "gaze_pitch_deg",
    "gaze_vector_x", "gaze_vector_y", "gaze_offset_deg", "eye_contact", "eye_contact_pct", "blink_rate_per_min", "perclos",
    "attention_score", "attention_state", "screen_x_px", "screen_y_px", "on_screen", "head_in_range",
    "processing_ms", "dropped_frames", "calibration_fit", "stimulus_id", "video_t_s", "source",
)  # fmt: skip


def sample_to_row(d: dict[str, Any]) -> dict[str, Any]:
    """Flatten a sample dict (from :meth:`GazeSample.to_dict`) into the CSV columns."""
    row = dict(d)
    for name, xk, yk in (
        ("pupil_left_px", "pupil_left_x_px", "pupil_left_y_px"),
        ("pupil_right_px", "pupil_right_x_px", "pupil_right_y_px"),
        ("gaze_vector", "gaze_vector_x", "gaze_vector_y"),
    ):
        v = row.pop(name, None)
        row[xk], row[yk] = (v[0], v[1]) if v is not None else (None, None)
    return {c: row.get(c) for c in SAMPLE_CSV_COLUMNS}


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A tracking session as stored. Times are epoch milliseconds; ``ended_at_ms`` None while running."""

    id: str
    created_at_ms: float
    user_id: str | None = None
    label: str | None = None
    screen_w_px: int | None = None
    screen_h_px: int | None = None
    stimulus_id: str | None = None
    calibration_id: str | None = None
    ended_at_ms: float | None = None
    status: str = "active"
    sample_count: int = 0
    dropped_frames: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionInfo:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
