"""Eye-movement events from gaze samples: fixations (I-DT, I-VT), saccades and blinks.

Input: a list of sample dicts as produced by :meth:`gazescope.domain.GazeSample.to_dict` (keys used:
``t_ms``, ``frame_index``, ``face_detected``, ``is_blinking``, ``screen_x_px``, ``screen_y_px``,
``on_screen``, ``ear_left``, ``ear_right``), or client-side gaze points ``{t_ms, x_px, y_px}`` converted by
:func:`gaze_points_to_samples`. Screen points are in screen pixels (x right, y down, origin top-left).

A sample is *valid* for fixation detection when a face was found, the eyes are not in a blink, the
screen point is present and finite, and ``on_screen`` is not False. Invalid samples (no face, blink,
off-screen, uncalibrated) and time gaps longer than ``max_gap_ms`` between valid samples split the stream
into *segments*; no fixation or saccade spans a segment boundary.

Methods (Salvucci & Goldberg, "Identifying Fixations and Saccades in Eye-Tracking Protocols", ETRA 2000):

* I-DT (dispersion threshold, the default): a window covering ``min_duration_ms`` whose dispersion
  ``D = (max x - min x) + (max y - min y)`` is at most the threshold is grown while D stays within it;
  the window is one fixation at its centroid. Otherwise the window start moves one sample on.
* I-VT (velocity threshold): point-to-point velocities between consecutive samples; consecutive samples
  joined by a velocity under the threshold form one fixation group (a sample whose neighbouring velocities
  are all over the threshold is a saccade sample). Groups shorter than ``min_duration_ms`` are dropped.

Timing convention: a fixation starts at the timestamp of its first sample and ends at the timestamp of its
last sample, ``duration_ms = end_ms - start_ms`` (as pymovements and PyGaze do). At 30 Hz a 100 ms
fixation therefore needs 4 samples, at 15 Hz 3 samples.

Defaults for 15-30 Hz webcam gaze:

* ``min_duration_ms = 100``: Salvucci & Goldberg 2000 (100-200 ms); Blignaut 2009 ("Fixation
  identification: the optimum threshold for a dispersion algorithm", Attention, Perception &
  Psychophysics 71(4)) used 100 ms.
* dispersion 2.5 degrees, or 100 px without screen geometry: Blignaut 2009 found about 1 degree best for
  lab trackers (accuracy about 0.5 degree, precision well under 0.1 degree). Webcam gaze after smoothing still
  jitters by tens of pixels (a webcam tracker's accuracy is about 100-170 px, 2.5-4.5 degrees at 60 cm:
  RealEye, WebGazer; see the data README), so a 1 degree (about 40 px) window would break every fixation
  into pieces. 100 px is about 2.6 degrees on a 53 cm wide 1920 px screen at 60 cm.
* I-VT threshold 50 deg/s, or 2000 px/s without geometry: 30 deg/s is the Tobii I-VT default for
  60-300 Hz trackers (Olsen 2012, "The Tobii I-VT Fixation Filter"); Salvucci & Goldberg quote about
  20-100 deg/s. Frame-to-frame webcam noise of 20-40 px at 30 Hz already reads as 600-1200 px/s, so the
  default is raised to 50 deg/s (about 1900 px/s at the geometry above).
* ``max_gap_ms = 200``: longer pauses between valid samples split a fixation. Olsen 2012 interpolates
  gaps up to 75 ms at lab rates; one dropped frame at 15 Hz already leaves 133 ms, so webcam data needs
  about two frame intervals more.
* Merging adjacent fixations (Olsen 2012: merge when at most 75 ms and 0.5 degree apart): with webcam noise
  the dispersion of a long fixation keeps growing with its length, so I-DT cuts it into neighbours at the
  same place, and one noisy frame cuts an I-VT group. Consecutive fixations of one segment whose gap is at
  most ``merge_gap_ms`` (default 150 ms: one or two frame intervals at 10-30 Hz instead of Olsen's 75 ms)
  and whose centroids are at most ``merge_distance_px`` apart (default half the I-DT dispersion threshold
  in use, and for I-VT half the default one, 50 px or 1.25 degrees: points closer than that could not be
  told apart by the threshold) become one
  fixation over all samples from the first one's start to the second one's end. ``merge_distance_px=0``
  turns merging off.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from gazescope.domain import AttentionState, BlinkEvent
from gazescope.errors import ValidationError

DEFAULT_MIN_DURATION_MS = 100.0
DEFAULT_DISPERSION_PX = 100.0
DEFAULT_DISPERSION_DEG = 2.5
DEFAULT_VELOCITY_PX_S = 2000.0
DEFAULT_VELOCITY_DEG_S = 50.0
DEFAULT_MAX_GAP_MS = 200.0
DEFAULT_MERGE_GAP_MS = 150.0

FixationMethod = Literal["idt", "ivt"]


# --------------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScreenGeometry:
    """Physical screen size and viewing distance, to express pixels as degrees of visual angle.

    ``screen_w_px``: screen width in pixels (> 0). ``screen_w_cm``: visible width in centimetres (> 0).
    ``distance_cm``: eye-to-screen distance (> 0), typically 50-70 cm at a desk. Square pixels are
    assumed. Conversions hold for distances measured from the screen centre (a size ``s`` centred on the
    line of sight subtends ``2 atan(s / 2d)``); off-centre they overestimate the angle by at most a few
    percent for ordinary monitors.

    Raises :class:`gazescope.errors.ValidationError` when a value is not a positive finite number.
    """

    screen_w_px: float
    screen_w_cm: float
    distance_cm: float

    def __post_init__(self) -> None:
        for name in ("screen_w_px", "screen_w_cm", "distance_cm"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
                raise ValidationError(f"ScreenGeometry.{name} must be a positive number, got {v!r}")

    @property
    def px_per_cm(self) -> float:
        return self.screen_w_px / self.screen_w_cm

    def px_from_deg(self, deg: float) -> float:
        """Pixels subtended by ``deg`` degrees of visual angle centred on the line of sight."""
        return self.px_per_cm * 2.0 * self.distance_cm * math.tan(math.radians(deg) / 2.0)

    def deg_from_px(self, px: float | np.ndarray) -> float | np.ndarray:
        """Degrees of visual angle subtended by ``px`` pixels (scalar or array) centred on the gaze line."""
        return np.degrees(
            2.0 * np.arctan(np.asarray(px, dtype=float) / self.px_per_cm / (2.0 * self.distance_cm))
        )

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> ScreenGeometry | None:
        """Geometry from a dict holding ``screen_w_px``, ``screen_w_cm`` and ``distance_cm``; None if any
        is missing or None (e.g. a session dict without physical sizes)."""
        if not d:
            return None
        vals = [d.get(k) for k in ("screen_w_px", "screen_w_cm", "distance_cm")]
        if any(v is None for v in vals):
            return None
        return cls(float(vals[0]), float(vals[1]), float(vals[2]))


# --------------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fixation:
    """One fixation.

    ``start_ms``/``end_ms``: timestamps of its first and last sample (same clock as ``t_ms``);
    ``duration_ms = end_ms - start_ms`` (>= ``min_duration_ms``). ``x_px``/``y_px``: centroid (mean of its
    samples) in screen pixels. ``n_samples``: samples in it (>= 1). ``dispersion_px``: Salvucci & Goldberg's
    ``(max x - min x) + (max y - min y)`` over its samples. ``start_index``/``end_index``: positions of its
    first and last sample in the input sample list (inclusive).
    """

    start_ms: float
    end_ms: float
    duration_ms: float
    x_px: float
    y_px: float
    n_samples: int
    dispersion_px: float
    start_index: int
    end_index: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Saccade:
    """The movement between two consecutive fixations of one segment (no gap in between).

    ``start_ms``: end of the previous fixation; ``end_ms``: start of the next; ``duration_ms``: their
    difference (at webcam rates this is a bound, one or two frame intervals). ``from_*``/``to_*``: the two
    fixation centroids in screen pixels. ``amplitude_px``: distance between them; ``amplitude_deg``: the
    same in degrees of visual angle when a :class:`ScreenGeometry` was given, else None.
    ``peak_velocity_px_s``: largest point-to-point velocity of the samples from the last sample of the
    previous fixation to the first of the next (px/s); ``peak_velocity_deg_s`` likewise in deg/s or None.
    Webcam frame rates undersample saccades (which last 20-80 ms), so peak velocities are lower bounds.
    """

    start_ms: float
    end_ms: float
    duration_ms: float
    from_x_px: float
    from_y_px: float
    to_x_px: float
    to_y_px: float
    amplitude_px: float
    amplitude_deg: float | None
    peak_velocity_px_s: float
    peak_velocity_deg_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class GazeEvents:
    """Everything :func:`detect_events` finds, with the thresholds actually used.

    ``method``: "idt" or "ivt". ``threshold_px``: dispersion (px, I-DT) or velocity (px/s, I-VT) threshold
    applied. ``threshold_deg``: the same in degrees (deg or deg/s) when geometry was known, else None.
    """

    fixations: tuple[Fixation, ...]
    saccades: tuple[Saccade, ...]
    blinks: tuple[BlinkEvent, ...]
    method: str
    threshold_px: float
    threshold_deg: float | None
    min_duration_ms: float
    max_gap_ms: float


# --------------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------------


def _num(v: Any) -> float:
    if v is None or isinstance(v, bool):
        return math.nan
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


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
        ti = _num(s.get("t_ms"))
        if not math.isfinite(ti):
            raise ValidationError(f"sample {i} has no numeric t_ms")
        t[i] = ti
        x[i] = _num(s.get("screen_x_px"))
        y[i] = _num(s.get("screen_y_px"))
        valid[i] = (
            s.get("face_detected", True) is not False
            and not s.get("is_blinking", False)
            and s.get("on_screen") is not False
            and math.isfinite(x[i])
            and math.isfinite(y[i])
        )
    if n > 1 and np.any(np.diff(t) < 0):
        k = int(np.argmax(np.diff(t) < 0))
        raise ValidationError(f"timestamps must not decrease (sample {k + 1}: {t[k + 1]} after {t[k]})")
    segment = np.full(n, -1, dtype=int)
    seg = -1
    prev_valid_t: float | None = None
    prev_valid_i = -2
    for i in range(n):
        if not valid[i]:
            continue
        if prev_valid_i != i - 1 or prev_valid_t is None or t[i] - prev_valid_t > max_gap_ms:
            seg += 1
        segment[i] = seg
        prev_valid_t = t[i]
        prev_valid_i = i
    return GazeArrays(t, x, y, valid, segment)


def _segments(ga: GazeArrays) -> list[np.ndarray]:
    if not np.any(ga.valid):
        return []
    idx = np.flatnonzero(ga.segment >= 0)
    splits = np.flatnonzero(np.diff(ga.segment[idx]) != 0) + 1
    return np.split(idx, splits)


def is_finite_number(v: Any) -> bool:
    """True for an int or float (not a bool) that is finite."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


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
        t = _num(p.get("t_ms"))
        if not math.isfinite(t):
            raise ValidationError(f"gaze point {i} has no numeric t_ms")
        xy = []
        for k in ("x_px", "y_px"):
            v = p.get(k)
            if v is not None and not math.isfinite(_num(v)):
                raise ValidationError(f"gaze point {i} has a non-numeric {k}: {v!r}")
            xy.append(_num(v))
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


# --------------------------------------------------------------------------------------------------
# fixations
# --------------------------------------------------------------------------------------------------


def _resolve_threshold(
    px: float | None,
    deg: float | None,
    geometry: ScreenGeometry | None,
    default_px: float,
    default_deg: float,
) -> tuple[float, float | None]:
    """(threshold_px, threshold_deg) from the caller's choices: px wins, then deg (needs geometry)."""
    if px is not None:
        if not px > 0:
            raise ValidationError(f"threshold in px must be > 0, got {px!r}")
        return float(px), (float(geometry.deg_from_px(px)) if geometry else None)
    if deg is not None:
        if geometry is None:
            raise ValidationError(
                "a threshold in degrees needs screen geometry (screen_w_px, screen_w_cm, distance_cm)"
            )
        if not deg > 0:
            raise ValidationError(f"threshold in degrees must be > 0, got {deg!r}")
        return geometry.px_from_deg(deg), float(deg)
    if geometry is not None:
        return geometry.px_from_deg(default_deg), default_deg
    return default_px, None


def _check_min_duration(min_duration_ms: float) -> None:
    if not (min_duration_ms >= 0 and math.isfinite(min_duration_ms)):
        raise ValidationError(f"min_duration_ms must be >= 0, got {min_duration_ms!r}")


def _make_fixation(ga: GazeArrays, idx: np.ndarray) -> Fixation:
    xs, ys = ga.x_px[idx], ga.y_px[idx]
    t0, t1 = float(ga.t_ms[idx[0]]), float(ga.t_ms[idx[-1]])
    return Fixation(
        start_ms=t0,
        end_ms=t1,
        duration_ms=t1 - t0,
        x_px=float(xs.mean()),
        y_px=float(ys.mean()),
        n_samples=len(idx),
        dispersion_px=float(np.ptp(xs) + np.ptp(ys)),
        start_index=int(idx[0]),
        end_index=int(idx[-1]),
    )


_EPS_MS = 1e-6


def _merge_distance(merge_distance_px: float | None, geometry: ScreenGeometry | None) -> float:
    if merge_distance_px is not None:
        if not merge_distance_px >= 0:
            raise ValidationError(f"merge_distance_px must be >= 0, got {merge_distance_px!r}")
        return float(merge_distance_px)
    thr, _ = _resolve_threshold(None, None, geometry, DEFAULT_DISPERSION_PX, DEFAULT_DISPERSION_DEG)
    return thr / 2.0


def _merge_adjacent(
    ga: GazeArrays, fixations: list[Fixation], distance_px: float, gap_ms: float
) -> list[Fixation]:
    """Merge consecutive fixations of one segment that are close in time and space (Olsen 2012)."""
    if distance_px <= 0 or not fixations:
        return fixations
    out = [fixations[0]]
    for f in fixations[1:]:
        prev = out[-1]
        if (
            ga.segment[prev.end_index] == ga.segment[f.start_index]
            and f.start_ms - prev.end_ms <= gap_ms + _EPS_MS
            and math.hypot(f.x_px - prev.x_px, f.y_px - prev.y_px) <= distance_px + 1e-9
        ):
            out[-1] = _make_fixation(ga, np.arange(prev.start_index, f.end_index + 1))
        else:
            out.append(f)
    return out


def detect_fixations_idt(
    samples: Sequence[Mapping[str, Any]],
    *,
    dispersion_px: float | None = None,
    dispersion_deg: float | None = None,
    min_duration_ms: float = DEFAULT_MIN_DURATION_MS,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
    merge_distance_px: float | None = None,
    merge_gap_ms: float = DEFAULT_MERGE_GAP_MS,
) -> list[Fixation]:
    """Fixations by dispersion threshold (I-DT, Salvucci & Goldberg 2000), in time order.

    ``samples``: sample dicts (see module docstring). Threshold: ``dispersion_px`` if given, else
    ``dispersion_deg`` converted with ``geometry`` (required then), else 2.5 deg with geometry or 100 px
    without (sources in the module docstring). Dispersion is ``(max x - min x) + (max y - min y)`` (px);
    a window qualifies when it is ``<= threshold``. ``min_duration_ms`` >= 0 (default 100). Samples whose
    timestamps are within 1e-6 ms of the minimum duration count as reaching it. Adjacent fixations are
    then merged (``merge_distance_px``, default half the dispersion threshold; ``merge_gap_ms``;
    see the module docstring).

    Returns a list of :class:`Fixation` (possibly empty). Raises
    :class:`gazescope.errors.ValidationError` for bad thresholds or timestamps.
    """
    _check_min_duration(min_duration_ms)
    thr, _ = _resolve_threshold(
        dispersion_px, dispersion_deg, geometry, DEFAULT_DISPERSION_PX, DEFAULT_DISPERSION_DEG
    )
    ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)
    out: list[Fixation] = []
    for seg in _segments(ga):
        ts, xs, ys = ga.t_ms[seg], ga.x_px[seg], ga.y_px[seg]
        n = len(seg)
        i = 0
        while i < n:
            j = int(np.searchsorted(ts, ts[i] + min_duration_ms - _EPS_MS, side="left"))
            if j >= n:
                break
            wx, wy = xs[i : j + 1], ys[i : j + 1]
            xmin, xmax, ymin, ymax = wx.min(), wx.max(), wy.min(), wy.max()
            if (xmax - xmin) + (ymax - ymin) <= thr:
                while j + 1 < n:
                    nx, ny = xs[j + 1], ys[j + 1]
                    d = (max(xmax, nx) - min(xmin, nx)) + (max(ymax, ny) - min(ymin, ny))
                    if d > thr:
                        break
                    xmin, xmax, ymin, ymax = min(xmin, nx), max(xmax, nx), min(ymin, ny), max(ymax, ny)
                    j += 1
                out.append(_make_fixation(ga, seg[i : j + 1]))
                i = j + 1
            else:
                i += 1
    merge_px = thr / 2.0 if merge_distance_px is None else _merge_distance(merge_distance_px, geometry)
    return _merge_adjacent(ga, out, merge_px, merge_gap_ms)


def _velocities_px_s(ga: GazeArrays, a: np.ndarray) -> np.ndarray:
    """Point-to-point velocity (px/s) of each interval between consecutive indices ``a``: (len-1,)."""
    dx = np.diff(ga.x_px[a])
    dy = np.diff(ga.y_px[a])
    dt = np.diff(ga.t_ms[a]) / 1000.0
    dist = np.hypot(dx, dy)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(dt > 0, dist / np.where(dt > 0, dt, 1.0), np.where(dist > 0, np.inf, 0.0))
    return v


def detect_fixations_ivt(
    samples: Sequence[Mapping[str, Any]],
    *,
    velocity_px_s: float | None = None,
    velocity_deg_s: float | None = None,
    min_duration_ms: float = DEFAULT_MIN_DURATION_MS,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
    merge_distance_px: float | None = None,
    merge_gap_ms: float = DEFAULT_MERGE_GAP_MS,
) -> list[Fixation]:
    """Fixations by velocity threshold (I-VT, Salvucci & Goldberg 2000), in time order.

    Point-to-point velocity between consecutive valid samples is ``distance / dt`` (px/s). Consecutive
    samples joined by a velocity ``< threshold`` belong to the same fixation group; a group ends at the
    first interval at or over the threshold, at an invalid sample or at a gap. Groups lasting less than
    ``min_duration_ms`` (default 100) are dropped. Threshold: ``velocity_px_s`` if given, else
    ``velocity_deg_s`` with ``geometry`` (required then), else 50 deg/s with geometry or 2000 px/s without.
    Adjacent groups are merged before the duration filter (``merge_distance_px``, ``merge_gap_ms``; see the
    module docstring).

    Returns a list of :class:`Fixation`. Raises :class:`gazescope.errors.ValidationError` for bad
    thresholds or timestamps.
    """
    _check_min_duration(min_duration_ms)
    thr, _ = _resolve_threshold(
        velocity_px_s, velocity_deg_s, geometry, DEFAULT_VELOCITY_PX_S, DEFAULT_VELOCITY_DEG_S
    )
    ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)
    out: list[Fixation] = []
    for seg in _segments(ga):
        if len(seg) == 1:
            groups = [seg]
        else:
            slow = _velocities_px_s(ga, seg) < thr
            # break the segment at every fast interval
            groups = np.split(seg, np.flatnonzero(~slow) + 1)
        out += [_make_fixation(ga, g) for g in groups if len(g)]
    # merge first, then drop short ones (Olsen 2012's order)
    out = _merge_adjacent(ga, out, _merge_distance(merge_distance_px, geometry), merge_gap_ms)
    return [f for f in out if f.duration_ms >= min_duration_ms - _EPS_MS]


def detect_fixations(
    samples: Sequence[Mapping[str, Any]],
    *,
    method: FixationMethod = "idt",
    threshold_px: float | None = None,
    threshold_deg: float | None = None,
    min_duration_ms: float = DEFAULT_MIN_DURATION_MS,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
    merge_distance_px: float | None = None,
    merge_gap_ms: float = DEFAULT_MERGE_GAP_MS,
) -> list[Fixation]:
    """Fixations by ``method`` "idt" (default; threshold = dispersion in px or deg) or "ivt" (threshold =
    velocity in px/s or deg/s). See :func:`detect_fixations_idt` and :func:`detect_fixations_ivt`.

    Raises :class:`gazescope.errors.ValidationError` for an unknown method (listing the known ones).
    """
    if method == "idt":
        return detect_fixations_idt(
            samples,
            dispersion_px=threshold_px,
            dispersion_deg=threshold_deg,
            min_duration_ms=min_duration_ms,
            geometry=geometry,
            max_gap_ms=max_gap_ms,
            merge_distance_px=merge_distance_px,
            merge_gap_ms=merge_gap_ms,
        )
    if method == "ivt":
        return detect_fixations_ivt(
            samples,
            velocity_px_s=threshold_px,
            velocity_deg_s=threshold_deg,
            min_duration_ms=min_duration_ms,
            geometry=geometry,
            max_gap_ms=max_gap_ms,
            merge_distance_px=merge_distance_px,
            merge_gap_ms=merge_gap_ms,
        )
    raise ValidationError(f"unknown fixation method {method!r}; available: 'idt', 'ivt'")


# --------------------------------------------------------------------------------------------------
# saccades and blinks
# --------------------------------------------------------------------------------------------------


def detect_saccades(
    samples: Sequence[Mapping[str, Any]],
    fixations: Sequence[Fixation],
    *,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
) -> list[Saccade]:
    """Saccades between consecutive fixations that lie in the same valid segment.

    ``fixations`` must come from the same ``samples`` (their ``start_index``/``end_index`` point into it)
    and the same ``max_gap_ms``. Two fixations separated by a blink, lost face, off-screen gaze or a gap
    get no saccade between them (the movement was not observed). Amplitude in degrees and peak velocity in
    deg/s are filled when ``geometry`` is given (see :class:`Saccade`).

    Raises :class:`gazescope.errors.ValidationError` when a fixation's indices fall outside ``samples``.
    """
    ga = gaze_arrays(samples, max_gap_ms=max_gap_ms)
    n = len(samples)
    out: list[Saccade] = []
    for f1, f2 in itertools.pairwise(fixations):
        if not (0 <= f1.end_index < n and 0 <= f2.start_index < n):
            raise ValidationError(
                "fixation indices fall outside the samples; detect them on the same samples"
            )
        s1, s2 = ga.segment[f1.end_index], ga.segment[f2.start_index]
        if s1 < 0 or s1 != s2 or f2.start_index <= f1.end_index:
            continue
        a = np.arange(f1.end_index, f2.start_index + 1)
        v = _velocities_px_s(ga, a)
        peak = float(v.max()) if len(v) else 0.0
        amp = math.hypot(f2.x_px - f1.x_px, f2.y_px - f1.y_px)
        amp_deg = peak_deg = None
        if geometry is not None:
            amp_deg = float(geometry.deg_from_px(amp))
            dist = np.hypot(np.diff(ga.x_px[a]), np.diff(ga.y_px[a]))
            dt = np.diff(ga.t_ms[a]) / 1000.0
            with np.errstate(divide="ignore", invalid="ignore"):
                vd = np.where(dt > 0, geometry.deg_from_px(dist) / np.where(dt > 0, dt, 1.0), 0.0)
            peak_deg = float(vd.max()) if len(vd) else 0.0
        out.append(
            Saccade(
                start_ms=f1.end_ms,
                end_ms=f2.start_ms,
                duration_ms=f2.start_ms - f1.end_ms,
                from_x_px=f1.x_px,
                from_y_px=f1.y_px,
                to_x_px=f2.x_px,
                to_y_px=f2.y_px,
                amplitude_px=amp,
                amplitude_deg=amp_deg,
                peak_velocity_px_s=peak,
                peak_velocity_deg_s=peak_deg,
            )
        )
    return out


def detect_blinks(samples: Sequence[Mapping[str, Any]]) -> list[BlinkEvent]:
    """Blink events as maximal runs of samples with ``is_blinking`` True (the tracker's adaptive-EAR blink
    detector, ``gazescope.tracking.blinks``, decides per frame; this groups its frames into events).

    ``start_ms``/``end_ms``: timestamps of the first and last blinking sample; ``start_frame``/
    ``end_frame``: their ``frame_index`` (the list position when absent); ``min_ear``: the lowest mean of
    ``ear_left``/``ear_right`` in the run (NaN when no EAR was measured). Returns [] for no blinks.
    """
    out: list[BlinkEvent] = []
    run: list[int] = []

    def close() -> None:
        if not run:
            return
        ears = []
        for k in run:
            e = [_num(samples[k].get(key)) for key in ("ear_left", "ear_right")]
            e = [v for v in e if math.isfinite(v)]
            if e:
                ears.append(sum(e) / len(e))
        a, b = samples[run[0]], samples[run[-1]]
        out.append(
            BlinkEvent(
                start_ms=float(a["t_ms"]),
                end_ms=float(b["t_ms"]),
                start_frame=int(a.get("frame_index", run[0])),
                end_frame=int(b.get("frame_index", run[-1])),
                min_ear=min(ears) if ears else math.nan,
            )
        )
        run.clear()

    for i, s in enumerate(samples):
        if s.get("is_blinking"):
            run.append(i)
        else:
            close()
    close()
    return out


def detect_events(
    samples: Sequence[Mapping[str, Any]],
    *,
    method: FixationMethod = "idt",
    threshold_px: float | None = None,
    threshold_deg: float | None = None,
    min_duration_ms: float = DEFAULT_MIN_DURATION_MS,
    geometry: ScreenGeometry | None = None,
    max_gap_ms: float = DEFAULT_MAX_GAP_MS,
    merge_distance_px: float | None = None,
    merge_gap_ms: float = DEFAULT_MERGE_GAP_MS,
) -> GazeEvents:
    """Fixations, saccades and blinks of one sample list in one call (arguments as
    :func:`detect_fixations`). Returns :class:`GazeEvents` with the thresholds used."""
    fix = detect_fixations(
        samples,
        method=method,
        threshold_px=threshold_px,
        threshold_deg=threshold_deg,
        min_duration_ms=min_duration_ms,
        geometry=geometry,
        max_gap_ms=max_gap_ms,
        merge_distance_px=merge_distance_px,
        merge_gap_ms=merge_gap_ms,
    )
    if method == "idt":
        thr_px, thr_deg = _resolve_threshold(
            threshold_px, threshold_deg, geometry, DEFAULT_DISPERSION_PX, DEFAULT_DISPERSION_DEG
        )
    else:
        thr_px, thr_deg = _resolve_threshold(
            threshold_px, threshold_deg, geometry, DEFAULT_VELOCITY_PX_S, DEFAULT_VELOCITY_DEG_S
        )
    return GazeEvents(
        fixations=tuple(fix),
        saccades=tuple(detect_saccades(samples, fix, geometry=geometry, max_gap_ms=max_gap_ms)),
        blinks=tuple(detect_blinks(samples)),
        method=method,
        threshold_px=thr_px,
        threshold_deg=thr_deg,
        min_duration_ms=min_duration_ms,
        max_gap_ms=max_gap_ms,
    )


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
