"""Stored samples as arrays: what every eye-movement detector and figure reads.

Input: sample dicts as produced by :meth:`gazescope.domain.GazeSample.to_dict` (keys used: ``t_ms``,
``frame_index``, ``face_detected``, ``is_blinking``, ``screen_x_px``, ``screen_y_px``, ``on_screen``,
``ear_left``, ``ear_right``), or client-side gaze points ``{t_ms, x_px, y_px}`` converted by
:func:`gaze_points_to_samples`. Screen points are in screen pixels (x right, y down, origin top-left).

A sample is *valid* gaze when a face was found, the eyes are not in a blink, the screen point is present
and finite, and ``on_screen`` is not False. Invalid samples and time gaps longer than ``max_gap_ms``
between valid samples split the stream into *segments* (Salvucci & Goldberg 2000 detect within
uninterrupted data; see :mod:`gazescope.analytics.events`).

Reports read one session's samples once, into :class:`SessionArrays` (:func:`session_arrays`), and work on
those arrays only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gazescope.domain import AttentionState
from gazescope.errors import ValidationError

DEFAULT_MAX_GAP_MS = 200.0
"""Longest pause between valid samples inside one segment (see :mod:`gazescope.analytics.events`)."""


MAX_FRAME_MS = 1000.0
"""Longest time one sample may stand for in time shares (a pause in the stream is not credited to the
frame before it)."""


def as_number(v: Any, *, strings: bool = True) -> float:
    """``v`` as a float, NaN for None, booleans and anything not numeric (and for strings when
    ``strings`` is False)."""
    if v is None or isinstance(v, bool) or (not strings and isinstance(v, str)):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def is_finite_number(v: Any) -> bool:
    """True for an int or float (not a bool) that is finite."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def check_timestamps(t_ms: np.ndarray) -> None:
    """Raise :class:`gazescope.errors.ValidationError` when ``t_ms`` (N,) is not finite or decreases."""
    if not np.all(np.isfinite(t_ms)):
        i = int(np.argmax(~np.isfinite(t_ms)))
        raise ValidationError(f"sample {i} has no numeric t_ms")
    if len(t_ms) > 1 and np.any(np.diff(t_ms) < 0):
        k = int(np.argmax(np.diff(t_ms) < 0))
        raise ValidationError(f"timestamps must not decrease (sample {k + 1}: {t_ms[k + 1]} after {t_ms[k]})")


def segment_ids(valid: np.ndarray, t_ms: np.ndarray, max_gap_ms: float) -> np.ndarray:
    """Segment id (N,) int of each sample: -1 for invalid ones, else ids from 0 increasing along time;
    a new segment starts after an invalid sample or a gap over ``max_gap_ms`` (> 0) between valid ones.

    Raises :class:`gazescope.errors.ValidationError` when ``max_gap_ms`` is not positive.
    """
    if not max_gap_ms > 0:
        raise ValidationError(f"max_gap_ms must be > 0, got {max_gap_ms!r}")
    n = len(valid)
    segment = np.full(n, -1, dtype=int)
    seg = -1
    prev_valid_t: float | None = None
    prev_valid_i = -2
    for i in range(n):
        if not valid[i]:
            continue
        if prev_valid_i != i - 1 or prev_valid_t is None or t_ms[i] - prev_valid_t > max_gap_ms:
            seg += 1
        segment[i] = seg
        prev_valid_t = t_ms[i]
        prev_valid_i = i
    return segment


def segments(segment: np.ndarray) -> list[np.ndarray]:
    """Indices of each segment's samples, in time order, from :func:`segment_ids` output (N,)."""
    idx = np.flatnonzero(segment >= 0)
    if not len(idx):
        return []
    splits = np.flatnonzero(np.diff(segment[idx]) != 0) + 1
    return np.split(idx, splits)


@dataclass(frozen=True, slots=True)
class GazeArrays:
    """Column arrays of a sample list, all of shape (N,).

    ``t_ms`` float timestamps (non-decreasing), ``x_px``/``y_px`` screen point (NaN where absent),
    ``valid`` bool (see module docstring), ``segment`` int id of the valid segment each sample belongs to
    (-1 for invalid samples; ids increase along time from 0).
    """

    t_ms: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    valid: np.ndarray
    segment: np.ndarray

    @property
    def positions_px(self) -> np.ndarray:
        """(N, 2) float screen points of valid samples, NaN rows for invalid ones (detector input)."""
        pos = np.column_stack([self.x_px, self.y_px]).astype(float)
        pos[~self.valid] = np.nan
        return pos


def gaze_arrays(
    samples: Sequence[Mapping[str, Any]], *, max_gap_ms: float = DEFAULT_MAX_GAP_MS
) -> GazeArrays:
    """Turn sample dicts into :class:`GazeArrays` and mark valid samples and segments.

    Raises :class:`gazescope.errors.ValidationError` when a sample has no numeric ``t_ms`` or timestamps
    decrease, or when ``max_gap_ms`` is not positive.
    """
    if not max_gap_ms > 0:
        raise ValidationError(f"max_gap_ms must be > 0, got {max_gap_ms!r}")
    n = len(samples)
    t = np.empty(n)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    valid = np.zeros(n, dtype=bool)
    for i, s in enumerate(samples):
        ti = as_number(s.get("t_ms"))
        if not math.isfinite(ti):
            raise ValidationError(f"sample {i} has no numeric t_ms")
        t[i] = ti
        x[i] = as_number(s.get("screen_x_px"))
        y[i] = as_number(s.get("screen_y_px"))
        valid[i] = (
            s.get("face_detected", True) is not False
            and not s.get("is_blinking", False)
            and s.get("on_screen") is not False
            and math.isfinite(x[i])
            and math.isfinite(y[i])
        )
    check_timestamps(t)
    return GazeArrays(t, x, y, valid, segment_ids(valid, t, max_gap_ms))


@dataclass(frozen=True, slots=True)
class BlinkArrays:
    """What blink grouping reads, all (N,): ``blinking`` bool, ``t_ms``, ``frame_index`` int (the list
    position where a sample has none), ``ear`` mean of the finite ``ear_left``/``ear_right`` (NaN when
    neither was measured)."""

    blinking: np.ndarray
    t_ms: np.ndarray
    frame_index: np.ndarray
    ear: np.ndarray


def blink_arrays(samples: Sequence[Mapping[str, Any]]) -> BlinkArrays:
    """:class:`BlinkArrays` of sample dicts (no timestamp checks: blinks are runs in list order)."""
    n = len(samples)
    blinking = np.array([bool(s.get("is_blinking")) for s in samples], dtype=bool)
    t = np.array([as_number(s.get("t_ms")) for s in samples], dtype=float)
    fi = [as_number(s.get("frame_index", i)) for i, s in enumerate(samples)]
    frames = np.array([int(f) if math.isfinite(f) else i for i, f in enumerate(fi)], dtype=int)
    ear = np.full(n, np.nan)
    for i, s in enumerate(samples):
        e = [v for v in (as_number(s.get(k)) for k in ("ear_left", "ear_right")) if math.isfinite(v)]
        if e:
            ear[i] = sum(e) / len(e)
    return BlinkArrays(blinking, t, frames, ear)


def sample_durations_ms(t_ms: np.ndarray | Sequence[float], *, max_ms: float | None = None) -> np.ndarray:
    """Time each sample stands for: the interval to the next sample; the last sample gets the median
    interval (0 for a single sample). With ``max_ms`` each duration is capped (so a pause in the stream
    is not credited to the sample before it). Input (N,) ms non-decreasing; output (N,) ms >= 0."""
    t = np.asarray(t_ms, dtype=float)
    if len(t) == 0:
        return np.zeros(0)
    if len(t) == 1:
        return np.zeros(1)
    d = np.diff(t)
    out = np.append(d, np.median(d))
    if max_ms is not None:
        out = np.minimum(out, max_ms)
    return out


def scale_screen_points(samples: Iterable[Mapping[str, Any]], sx: float, sy: float) -> list[dict[str, Any]]:
    """Copies of ``samples`` with ``screen_x_px`` / ``screen_y_px`` multiplied by ``sx`` / ``sy`` (from one
    pixel space to another, e.g. a viewer's screen to a stimulus or video frame); a point that is missing or
    not a finite number becomes None."""
    return [
        {
            **s,
            "screen_x_px": s["screen_x_px"] * sx if is_finite_number(s.get("screen_x_px")) else None,
            "screen_y_px": s["screen_y_px"] * sy if is_finite_number(s.get("screen_y_px")) else None,
        }
        for s in samples
    ]


def gaze_points_to_samples(
    points: Iterable[Mapping[str, Any]],
    *,
    screen_w_px: float | None = None,
    screen_h_px: float | None = None,
) -> list[dict[str, Any]]:
    """Convert client-side gaze points (seed 003: ``{t_ms, x_px, y_px}`` in screen pixels) to sample-like
    dicts that every analytics function accepts.

    Each output dict has ``t_ms``, ``frame_index`` (position after sorting), ``face_detected`` True,
    ``is_blinking`` False, ``screen_x_px``, ``screen_y_px`` and ``on_screen`` (inside
    ``[0, screen_w_px) x [0, screen_h_px)`` when both sizes are given, else None). A point whose x or y is
    None is kept and marked ``face_detected`` False (a gap). Points are sorted by ``t_ms`` (stable).

    Raises :class:`gazescope.errors.ValidationError` for a point that is not a mapping, lacks ``t_ms``,
    or holds a non-numeric coordinate.
    """
    rows: list[tuple[float, float, float]] = []
    for i, p in enumerate(points):
        if not isinstance(p, Mapping):
            raise ValidationError(f"gaze point {i} is not an object with t_ms, x_px, y_px")
        t = as_number(p.get("t_ms"))
        if not math.isfinite(t):
            raise ValidationError(f"gaze point {i} has no numeric t_ms")
        xy = []
        for k in ("x_px", "y_px"):
            v = p.get(k)
            if v is not None and not math.isfinite(as_number(v)):
                raise ValidationError(f"gaze point {i} has a non-numeric {k}: {v!r}")
            xy.append(as_number(v))
        rows.append((t, xy[0], xy[1]))
    rows.sort(key=lambda r: r[0])
    out = []
    for i, (t, xv, yv) in enumerate(rows):
        has = math.isfinite(xv) and math.isfinite(yv)
        on: bool | None = None
        if has and screen_w_px is not None and screen_h_px is not None:
            on = bool(0 <= xv < screen_w_px and 0 <= yv < screen_h_px)
        out.append(
            {
                "t_ms": t,
                "frame_index": i,
                "face_detected": has,
                "is_blinking": False,
                "screen_x_px": xv if has else None,
                "screen_y_px": yv if has else None,
                "on_screen": on,
            }
        )
    return out


def client_gaze_samples(
    points: Iterable[Mapping[str, Any]], *, screen_w_px: float, screen_h_px: float, first_index: int = 0
) -> list[dict[str, Any]]:
    """Samples to store for client-side gaze points (seed 003; ``POST /api/sessions/{id}/gaze`` and
    ``/upload``): :func:`gaze_points_to_samples`, numbered from ``first_index``, each with ``source:
    "client_gaze"`` and the ``attention_state`` its point implies, with the tracker's meanings
    (:class:`gazescope.domain.AttentionState`): ``focused`` on the screen, ``looking_away`` off it,
    ``absent`` without a point (face not found). Raises what :func:`gaze_points_to_samples` raises."""
    samples = gaze_points_to_samples(points, screen_w_px=screen_w_px, screen_h_px=screen_h_px)
    for s in samples:
        s["frame_index"] += first_index
        s["source"] = "client_gaze"
        if s["screen_x_px"] is None:
            s["attention_state"] = AttentionState.ABSENT.value
        elif s["on_screen"] is False:
            s["attention_state"] = AttentionState.LOOKING_AWAY.value
        else:
            s["attention_state"] = AttentionState.FOCUSED.value
    return samples


def timed_samples(
    samples: Sequence[Mapping[str, Any]], fps_hint: float | None
) -> tuple[list[Mapping[str, Any]], np.ndarray]:
    """Samples with usable ``t_ms`` and their times (N,) ms; derives times from ``frame_index`` and
    ``fps_hint`` (frames/s, > 0) when timestamps are missing or do not advance (strings do not count as
    numbers here). Raises :class:`gazescope.errors.ValidationError` when neither works."""
    if fps_hint is not None and not (fps_hint > 0 and math.isfinite(fps_hint)):
        raise ValidationError(f"fps_hint must be > 0, got {fps_hint!r}")
    t = np.array([as_number(s.get("t_ms"), strings=False) for s in samples], dtype=float)
    ok = bool(len(t)) and bool(np.all(np.isfinite(t))) and (len(t) < 2 or t[-1] > t[0])
    if ok and np.all(np.diff(t) >= 0):
        return list(samples), t
    if fps_hint is None:
        raise ValidationError(
            "samples need increasing numeric t_ms (or pass fps_hint to time them by frame_index)"
        )
    fi = np.array([as_number(s.get("frame_index"), strings=False) for s in samples], dtype=float)
    if not np.all(np.isfinite(fi)) or np.any(np.diff(fi) < 0):
        fi = np.arange(len(samples), dtype=float)
    t = fi * 1000.0 / fps_hint
    return [{**s, "t_ms": float(tt)} for s, tt in zip(samples, t, strict=True)], t


def frame_durations_ms(t: np.ndarray, fps_hint: float | None) -> np.ndarray:
    """Time (N,) ms each sample of times ``t`` (N,) ms stands for in time shares:
    :func:`sample_durations_ms` capped at :data:`MAX_FRAME_MS`; the last sample gets ``1000 / fps_hint``
    when given, and a single sample 0."""
    d = sample_durations_ms(t, max_ms=MAX_FRAME_MS)
    if len(d) and fps_hint:
        d[-1] = 1000.0 / fps_hint
    elif len(d) == 1:
        d[-1] = 0.0
    return d


@dataclass(frozen=True, slots=True)
class AngleArrays:
    """Head and gaze angles of a sample list, all (N,) degrees, NaN where not measured: ``head_yaw_deg``
    (``yaw_deg``), ``gaze_yaw_deg``, ``gaze_pitch_deg`` (0, 0 = into the camera; signs as
    :mod:`gazescope.domain`), and ``off_axis_deg``, the angle between the gaze direction and the camera
    axis, ``acos(cos(gaze_yaw) cos(gaze_pitch))`` (0..180); ``offset_deg``: the sample's
    ``gaze_offset_deg``, the angle from the person's neutral that looking away is judged by (all NaN for
    samples stored before it existed)."""

    head_yaw_deg: np.ndarray
    gaze_yaw_deg: np.ndarray
    gaze_pitch_deg: np.ndarray
    off_axis_deg: np.ndarray
    offset_deg: np.ndarray


def angle_arrays(samples: Sequence[Mapping[str, Any]]) -> AngleArrays:
    """:class:`AngleArrays` of sample dicts (keys ``yaw_deg``, ``gaze_yaw_deg``, ``gaze_pitch_deg``,
    ``gaze_offset_deg``)."""

    def col(key: str) -> np.ndarray:
        return np.array([as_number(s.get(key), strings=False) for s in samples], dtype=float)

    gy, gp = col("gaze_yaw_deg"), col("gaze_pitch_deg")
    cos = np.clip(np.cos(np.radians(gy)) * np.cos(np.radians(gp)), -1.0, 1.0)
    return AngleArrays(col("yaw_deg"), gy, gp, np.degrees(np.arccos(cos)), col("gaze_offset_deg"))


@dataclass(frozen=True, slots=True)
class SessionArrays:
    """Everything a report reads of one session's samples, as arrays in sample order, built once by
    :func:`session_arrays`; every array is (N,).

    ``t_ms`` float sample times (ms, finite, non-decreasing; derived from ``frame_index`` when the samples
    were untimed, see :func:`timed_samples`). ``gaze``: screen points, validity and segments
    (:class:`GazeArrays`); ``blinks``: what blink grouping reads (:class:`BlinkArrays`). ``face`` bool
    (``face_detected`` is not False), ``on_screen`` bool (``on_screen`` is not False), ``gaze_yaw_deg``
    (deg, NaN where absent), ``attention_state`` (str per sample, ``absent`` where missing),
    ``attention_score`` (0-1, NaN where absent), ``eye_contact`` bool, ``perclos`` (0-1),
    ``processing_ms`` (ms), ``dropped_frames`` and ``blink_count`` (the tracker's cumulative counts),
    NaN where absent, and ``calibrated`` bool (the sample has ``calibration_fit`` or a numeric screen x).
    """

    t_ms: np.ndarray
    gaze: GazeArrays
    blinks: BlinkArrays
    face: np.ndarray
    on_screen: np.ndarray
    gaze_yaw_deg: np.ndarray
    attention_state: tuple[str, ...]
    attention_score: np.ndarray
    eye_contact: np.ndarray
    perclos: np.ndarray
    processing_ms: np.ndarray
    dropped_frames: np.ndarray
    blink_count: np.ndarray
    calibrated: np.ndarray

    def __len__(self) -> int:
        return len(self.t_ms)


def session_arrays(
    samples: Sequence[Mapping[str, Any]],
    *,
    fps_hint: float | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
) -> SessionArrays:
    """:class:`SessionArrays` of sample dicts (``GazeSample.to_dict()`` or :func:`gaze_points_to_samples`
    output), timed by :func:`timed_samples` (``fps_hint`` frames/s > 0 or None) and segmented with
    ``max_gap_ms`` (> 0).

    Raises :class:`gazescope.errors.ValidationError` for an empty list, for untimed samples without
    ``fps_hint``, decreasing timestamps or a non-positive ``max_gap_ms``.
    """
    if not samples:
        raise ValidationError("no samples")
    timed, t = timed_samples(samples, fps_hint)
    gaze = gaze_arrays(timed, max_gap_ms=max_gap_ms)
    n = len(timed)

    def col(key: str, *, strings: bool = False) -> np.ndarray:
        return np.fromiter((as_number(s.get(key), strings=strings) for s in timed), dtype=float, count=n)

    def flag(test: Any) -> np.ndarray:
        return np.fromiter((bool(test(s)) for s in timed), dtype=bool, count=n)

    return SessionArrays(
        t_ms=t,
        gaze=gaze,
        blinks=blink_arrays(timed),
        face=flag(lambda s: s.get("face_detected", True) is not False),
        on_screen=flag(lambda s: s.get("on_screen") is not False),
        gaze_yaw_deg=col("gaze_yaw_deg", strings=True),
        attention_state=tuple(str(s.get("attention_state") or AttentionState.ABSENT.value) for s in timed),
        attention_score=col("attention_score"),
        eye_contact=flag(lambda s: s.get("eye_contact")),
        perclos=col("perclos"),
        processing_ms=col("processing_ms"),
        dropped_frames=col("dropped_frames"),
        blink_count=col("blink_count"),
        calibrated=flag(lambda s: s.get("calibration_fit") or is_finite_number(s.get("screen_x_px"))),
    )
