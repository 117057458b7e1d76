"""Activity recognition from gaze: ``reading``, ``scanning`` or ``idle`` in windows of a few seconds.

Method (after Campbell & Maglio, "A robust algorithm for reading detection", PUI 2001, and Bulling, Ward,
Gellersen & Tröster, "Eye movement analysis for activity recognition using electrooculography", IEEE
TPAMI 2011): gaze (degrees of visual angle, x to the viewer's right, y down) is cut into fixations by
I-DT (Salvucci & Goldberg 2000); each step between consecutive fixations is classed by its direction and
size (thresholds and sources in :class:`gazescope.config.ActivitySettings`):

* ``forward``: a rightward step of ``activity_forward_min_deg`` .. ``activity_forward_max_deg`` staying
  on the line (a reading saccade, about 2 deg; Rayner 1998);
* ``regression``: a leftward step shorter than ``activity_return_min_deg`` on the line;
* ``return``: a leftward step of at least ``activity_return_min_deg`` that does not go up (a return
  sweep to the start of the next line);
* ``other``: anything else (large rightward or vertical jumps).

A window is ``idle`` when it holds at most ``activity_idle_max_saccade_rate_hz`` steps a second of valid
gaze (long fixations), ``reading`` when it holds ``activity_reading_min_forward`` forward steps and they
are at least ``activity_reading_min_forward_share`` of its steps, it holds ``activity_reading_min_returns`` return sweeps and ``other`` steps are at most
``activity_reading_max_other_share``, and ``scanning`` otherwise (frequent saccades without the reading
pattern). A window with gaze for less than ``activity_min_valid_share`` of its time has no activity
(None): the first seconds of a stream, or spans without a face. Campbell & Maglio accumulate evidence
over the same step classes; window shares are used here so that the decision is a function of the
window alone (the same live and in the report).

Input: from calibrated screen gaze where a window's samples mostly have it (px converted with the
session's geometry or ``activity_px_per_deg``), else from the horizontal gaze angle ``gaze_yaw_deg``
alone (negated: ``gaze_yaw_deg > 0`` turns toward the subject's left, which is the screen's left as the
subject sees it), with no vertical constraint then (:func:`activity_inputs`).

Attention states other than ``focused`` (``looking_away``, ``eyes_closed``, ``drowsy``, ``absent``) are
kept as the activity of their samples (:func:`sample_activities`); ``focused`` samples take their
window's activity, or stay ``focused`` where the window has none.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from gazescope.analytics.events.geometry import ScreenGeometry
from gazescope.analytics.events.idt import idt
from gazescope.analytics.events.params import EventParams
from gazescope.analytics.events.results import Fixation
from gazescope.analytics.samples import SessionArrays, as_number
from gazescope.config import ActivitySettings
from gazescope.domain import AttentionState
from gazescope.errors import ValidationError

__all__ = [
    "ACTIVITY_SOURCE",
    "Activity",
    "ActivityInput",
    "ActivityResult",
    "ActivityWindow",
    "LiveActivity",
    "StepCounts",
    "activity_input_of",
    "activity_inputs",
    "classify_activity",
    "classify_latest",
    "label_arrays",
    "label_samples",
    "sample_activities",
]

ACTIVITY_SOURCE = (
    "fixation steps after Campbell & Maglio 2001 (PUI) and Bulling et al. 2011 (IEEE TPAMI); "
    "I-DT fixations (Salvucci & Goldberg 2000)"
)
FOCUSED = AttentionState.FOCUSED.value


class Activity(StrEnum):
    """What the gaze does in a window while the person is focused on the device."""

    READING = "reading"
    SCANNING = "scanning"
    IDLE = "idle"


@dataclass(frozen=True, slots=True)
class StepCounts:
    """A window's fixation steps by class, with ``valid_share`` (0-1, share of the window's time with
    gaze: a window reaching past the recording's ends has less), ``fixations``,
    ``saccade_rate_hz`` (steps per second of valid gaze) and ``mean_fixation_ms`` (None without
    fixations)."""

    valid_share: float
    fixations: int
    forward: int
    regression: int
    returns: int
    other: int
    saccade_rate_hz: float
    mean_fixation_ms: float | None

    @property
    def steps(self) -> int:
        return self.forward + self.regression + self.returns + self.other

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid_share": self.valid_share,
            "fixations": self.fixations,
            "forward": self.forward,
            "regression": self.regression,
            "returns": self.returns,
            "other": self.other,
            "saccade_rate_hz": self.saccade_rate_hz,
            "mean_fixation_ms": self.mean_fixation_ms,
        }


@dataclass(frozen=True, slots=True)
class ActivityWindow:
    """One classified window: ``start_ms``..``end_ms`` is the span it labels (for the report's sliding
    windows one step; the window read reaches ``activity_window_s`` around it), ``activity`` (None when
    the window has too little valid gaze) and the counts it was decided on."""

    start_ms: float
    end_ms: float
    activity: Activity | None
    counts: StepCounts

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "activity": self.activity.value if self.activity else None,
            **self.counts.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class ActivityInput:
    """Gaze for activity recognition, all (N,): ``t_ms``, ``x_deg`` (to the viewer's right), ``y_deg``
    (down; None when only the horizontal angle is known), NaN where there is no gaze; ``source``:
    ``screen`` (calibrated screen gaze) or ``gaze_yaw`` (horizontal gaze angle)."""

    t_ms: np.ndarray
    x_deg: np.ndarray
    y_deg: np.ndarray | None
    source: Literal["screen", "gaze_yaw"]


@dataclass(frozen=True, slots=True)
class ActivityResult:
    """Windows in time order (each labelling its step), the input ``source`` and the method's source."""

    windows: tuple[ActivityWindow, ...]
    source: Literal["screen", "gaze_yaw"] | None
    method: str = ACTIVITY_SOURCE

    def at(self, t_ms: np.ndarray) -> list[Activity | None]:
        """The activity of the window labelling each time of ``t_ms`` (N,) (None outside them)."""
        if not self.windows:
            return [None] * len(t_ms)
        starts = np.array([w.start_ms for w in self.windows])
        k = np.searchsorted(starts, np.asarray(t_ms, dtype=float), side="right") - 1
        out: list[Activity | None] = []
        for i, t in zip(k, t_ms, strict=True):
            w = self.windows[i] if i >= 0 else None
            out.append(w.activity if w is not None and t < w.end_ms else None)
        return out


def _settings(settings: ActivitySettings | None) -> ActivitySettings:
    return settings if settings is not None else ActivitySettings()


def _check(t_ms: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    t = np.asarray(t_ms, dtype=float)
    xs = np.asarray(x, dtype=float)
    ys = None if y is None else np.asarray(y, dtype=float)
    if t.ndim != 1 or xs.shape != t.shape or (ys is not None and ys.shape != t.shape):
        raise ValidationError("t_ms, x and y must be 1-D arrays of one length")
    if not np.all(np.isfinite(t)) or (len(t) > 1 and np.any(np.diff(t) < 0)):
        raise ValidationError("t_ms must be finite and non-decreasing")
    return t, xs, ys


def _fixations(t: np.ndarray, x: np.ndarray, y: np.ndarray | None, s: ActivitySettings) -> list[Fixation]:
    yy = np.zeros_like(x) if y is None else y
    pos = np.column_stack([x, np.where(np.isfinite(x), yy, np.nan)])
    return idt(pos, t, activity_event_params(s))


def activity_event_params(s: ActivitySettings) -> EventParams:
    """The I-DT parameters of activity recognition, from its settings (the one place they are read): gaze in
    degrees, so the detector's "px" are degrees (``activity_fixation_dispersion_deg``), fixations of at
    least ``activity_min_fixation_ms``, split by pauses over ``activity_max_transition_gap_ms``, merged
    within half the dispersion."""
    return EventParams(
        threshold_px=s.activity_fixation_dispersion_deg,  # the detector's unit is the input's: degrees
        min_duration_ms=s.activity_min_fixation_ms,
        max_gap_ms=s.activity_max_transition_gap_ms,
        merge_distance_px=s.activity_fixation_dispersion_deg / 2.0,
    )


def _step_class(dx: float, dy: float, s: ActivitySettings) -> str:
    tol = s.activity_vertical_tolerance_deg
    on_line = not math.isfinite(dy) or abs(dy) <= tol
    if s.activity_forward_min_deg <= dx <= s.activity_forward_max_deg and on_line:
        return "forward"
    if -s.activity_return_min_deg < dx < 0 and on_line:
        return "regression"
    if dx <= -s.activity_return_min_deg and (not math.isfinite(dy) or -tol <= dy <= 2.0 * tol):
        return "returns"
    if abs(dx) < s.activity_forward_min_deg and on_line:
        return "regression"  # a small rightward correction: on the line, neither a step nor a jump
    return "other"


def _counts(fix: Sequence[Fixation], valid_share: float, valid_s: float, s: ActivitySettings) -> StepCounts:
    c = {"forward": 0, "regression": 0, "returns": 0, "other": 0}
    for a, b in itertools.pairwise(fix):
        if b.start_ms - a.end_ms > s.activity_max_transition_gap_ms:
            continue
        c[_step_class(b.x_px - a.x_px, b.y_px - a.y_px, s)] += 1
    steps = sum(c.values())
    return StepCounts(
        valid_share=valid_share,
        fixations=len(fix),
        forward=c["forward"],
        regression=c["regression"],
        returns=c["returns"],
        other=c["other"],
        saccade_rate_hz=steps / valid_s if valid_s > 0 else 0.0,
        mean_fixation_ms=float(np.mean([f.duration_ms for f in fix])) if fix else None,
    )


def _decide(c: StepCounts, s: ActivitySettings) -> Activity | None:
    if c.valid_share < s.activity_min_valid_share:
        return None
    if c.saccade_rate_hz <= s.activity_idle_max_saccade_rate_hz:
        return Activity.IDLE
    n = c.steps
    if (
        c.forward >= max(s.activity_reading_min_forward, s.activity_reading_min_forward_share * n)
        and c.returns >= s.activity_reading_min_returns
        and c.other <= s.activity_reading_max_other_share * n
    ):
        return Activity.READING
    return Activity.SCANNING


def _window(
    t: np.ndarray,
    valid: np.ndarray,
    fix: Sequence[Fixation],
    fix_mid: np.ndarray,
    lo: float,
    hi: float,
    s: ActivitySettings,
) -> tuple[Activity | None, StepCounts]:
    i0, i1 = np.searchsorted(t, lo, side="left"), np.searchsorted(t, hi, side="left")
    n = int(i1 - i0)
    span_s = (float(t[i1 - 1] - t[i0]) / 1000.0) if n > 1 else 0.0
    if n > 1:
        span_s += span_s / (n - 1)  # the last sample's interval
    valid_s = span_s * float(valid[i0:i1].mean()) if n else 0.0
    share = min(1.0, valid_s / ((hi - lo) / 1000.0))  # of the window's time, not of its samples
    f0, f1 = int(np.searchsorted(fix_mid, lo, side="left")), int(np.searchsorted(fix_mid, hi, side="left"))
    counts = _counts(fix[f0:f1], share, valid_s, s)
    return _decide(counts, s), counts


def classify_activity(
    t_ms: Any, x: Any, y: Any = None, *, settings: ActivitySettings | None = None, source: Any = None
) -> ActivityResult:
    """Sliding-window activity of a whole recording.

    Args:
        t_ms: (N,) float sample times (ms, non-decreasing).
        x: (N,) float horizontal gaze in degrees (to the viewer's right); NaN where there is no gaze.
        y: (N,) float vertical gaze in degrees (down), NaN where there is no gaze; None: only the
            horizontal angle is known (no vertical constraints).
        settings: Optional :class:`ActivitySettings`: window, step and thresholds (default: the settings'
            defaults).
        source: Optional, ``"screen"`` or ``"gaze_yaw"``; recorded in the result.

    Returns:
        :class:`ActivityResult`: one window a step (``activity_step_s``) from the first sample to the
        last, each classified on the ``activity_window_s`` centred on its step (clipped to the recording).

    Raises:
        gazescope.errors.ValidationError: Arrays of different lengths, or timestamps that are not finite
            or decrease.
    """
    s = _settings(settings)
    t, xs, ys = _check(t_ms, x, y)
    if not len(t):
        return ActivityResult((), source)
    valid = np.isfinite(xs) if ys is None else np.isfinite(xs) & np.isfinite(ys)
    fix = _fixations(t, xs, ys, s)
    mid = np.array([(f.start_ms + f.end_ms) / 2.0 for f in fix])
    step, half = 1000.0 * s.activity_step_s, 500.0 * s.activity_window_s
    out = []
    start = float(t[0])
    while start <= t[-1]:
        c = start + step / 2.0
        act, counts = _window(t, valid, fix, mid, c - half, c + half, s)
        out.append(ActivityWindow(start, start + step, act, counts))
        start += step
    return ActivityResult(tuple(out), source)


def classify_latest(
    t_ms: Any, x: Any, y: Any = None, *, settings: ActivitySettings | None = None
) -> ActivityWindow:
    """The activity of the trailing window (``activity_window_s`` up to the last sample), for live use:
    causal, it reads nothing after ``t_ms[-1]``. Arguments and errors as :func:`classify_activity`; an
    empty input gives a window with no activity."""
    s = _settings(settings)
    t, xs, ys = _check(t_ms, x, y)
    empty = StepCounts(0.0, 0, 0, 0, 0, 0, 0.0, None)
    if not len(t):
        return ActivityWindow(0.0, 0.0, None, empty)
    hi = float(t[-1]) + 1e-6
    lo = hi - 1000.0 * s.activity_window_s
    keep = t >= lo
    t, xs = t[keep], xs[keep]
    ys = None if ys is None else ys[keep]
    fix = _fixations(t, xs, ys, s)
    mid = np.array([(f.start_ms + f.end_ms) / 2.0 for f in fix])
    valid = np.isfinite(xs) if ys is None else np.isfinite(xs) & np.isfinite(ys)
    act, counts = _window(t, valid, fix, mid, lo, hi, s)
    return ActivityWindow(float(t[0]), hi, act, counts)


def activity_inputs(
    samples: Sequence[Mapping[str, Any]],
    *,
    geometry: ScreenGeometry | None = None,
    settings: ActivitySettings | None = None,
) -> ActivityInput:
    """Gaze in degrees from sample dicts (``GazeSample.to_dict()``; keys read: ``t_ms``, ``face_detected``,
    ``is_blinking``, ``screen_x_px``, ``screen_y_px``, ``on_screen``, ``gaze_yaw_deg``).

    Calibrated screen points are used when at least half of the samples with a face have one on the
    screen: px / px-per-degree (from ``geometry``, else ``activity_px_per_deg``). Otherwise ``x_deg`` is
    ``-gaze_yaw_deg`` (to the viewer's right) and ``y_deg`` None. Samples without a face, in a blink or
    off the screen have NaN.

    Raises :class:`gazescope.errors.ValidationError` when a sample has no numeric ``t_ms``.
    """
    st = _settings(settings)
    n = len(samples)
    t = np.array([as_number(s.get("t_ms")) for s in samples], dtype=float)
    if n and not np.all(np.isfinite(t)):
        raise ValidationError("every sample needs a numeric t_ms for activity recognition")
    face = np.array([s.get("face_detected", True) is not False for s in samples], dtype=bool)
    ok = face & np.array([not s.get("is_blinking", False) for s in samples], dtype=bool)
    on = np.array([s.get("on_screen") is not False for s in samples], dtype=bool)

    def col(k: str) -> np.ndarray:
        return np.array([as_number(s.get(k)) for s in samples], dtype=float)

    return _input(t, face, ok, on, col("screen_x_px"), col("screen_y_px"), col("gaze_yaw_deg"), geometry, st)


def _input(
    t: np.ndarray, face: np.ndarray, ok: np.ndarray, on: np.ndarray, sx: np.ndarray, sy: np.ndarray,
    yaw: np.ndarray, geometry: ScreenGeometry | None, st: ActivitySettings,
) -> ActivityInput:  # fmt: skip
    screen = ok & on & np.isfinite(sx) & np.isfinite(sy)
    faces = int(face.sum())
    if faces and screen.sum() >= 0.5 * faces:
        ppd = geometry.px_from_deg(1.0) if geometry is not None else st.activity_px_per_deg
        x = np.where(screen, sx / ppd, np.nan)
        y = np.where(screen, sy / ppd, np.nan)
        return ActivityInput(t, x, y, "screen")
    return ActivityInput(t, np.where(ok, -yaw, np.nan), None, "gaze_yaw")


def activity_input_of(
    a: SessionArrays, *, geometry: ScreenGeometry | None = None, settings: ActivitySettings | None = None
) -> ActivityInput:
    """:func:`activity_inputs` of a session's arrays (:func:`gazescope.analytics.samples.session_arrays`,
    already timed and checked)."""
    ok = a.face & ~a.blinks.blinking
    g = a.gaze
    return _input(
        a.t_ms, a.face, ok, a.on_screen, g.x_px, g.y_px, a.gaze_yaw_deg, geometry, _settings(settings)
    )


def label_samples(
    samples: Sequence[Mapping[str, Any]],
    *,
    geometry: ScreenGeometry | None = None,
    settings: ActivitySettings | None = None,
) -> tuple[list[str], ActivityResult]:
    """Each sample's activity label (:func:`sample_activities`) and the windows behind them, from sample
    dicts in time order (:func:`activity_inputs`, :func:`classify_activity`). Raises
    :class:`gazescope.errors.ValidationError` for untimed or decreasing samples."""
    inp = activity_inputs(samples, geometry=geometry, settings=settings)
    states = [str(s.get("attention_state") or AttentionState.ABSENT.value) for s in samples]
    return _labels(inp, states, settings)


def label_arrays(
    a: SessionArrays, *, geometry: ScreenGeometry | None = None, settings: ActivitySettings | None = None
) -> tuple[list[str], ActivityResult]:
    """:func:`label_samples` of a session's arrays (:func:`gazescope.analytics.samples.session_arrays`):
    the (N,) labels and the windows behind them. Raises :class:`gazescope.errors.ValidationError` for
    decreasing samples."""
    return _labels(activity_input_of(a, geometry=geometry, settings=settings), a.attention_state, settings)


def _labels(
    inp: ActivityInput, states: Sequence[str], settings: ActivitySettings | None
) -> tuple[list[str], ActivityResult]:
    result = classify_activity(inp.t_ms, inp.x_deg, inp.y_deg, settings=settings, source=inp.source)
    return sample_activities(states, result.at(inp.t_ms)), result


def sample_activities(states: Sequence[str], activities: Sequence[Activity | None]) -> list[str]:
    """Each sample's activity label: its attention state unless that is ``focused``; a focused sample
    takes its window's activity (``reading``/``scanning``/``idle``), or stays ``focused`` without one.
    ``states`` and ``activities`` (N,) of one length (``ValidationError`` otherwise)."""
    if len(states) != len(activities):
        raise ValidationError("states and activities must have one length")
    return [
        (a.value if a is not None else FOCUSED) if st == FOCUSED else st
        for st, a in zip(states, activities, strict=True)
    ]


_KEPT = ("t_ms", "face_detected", "is_blinking", "screen_x_px", "screen_y_px", "on_screen", "gaze_yaw_deg")


class LiveActivity:
    """The activity of a stream's samples as they come (causal): :meth:`update` takes each sample dict in
    time order and returns its label (:func:`sample_activities`), the activity of the trailing
    ``activity_window_s`` (:func:`classify_latest` on :func:`activity_inputs`), recomputed at most once
    every ``activity_step_s`` of sample time (a few ms of CPU each time at 30 FPS) and held in between.

    Holds at most one window of samples (only the keys activity recognition reads).
    """

    def __init__(self, settings: ActivitySettings | None = None) -> None:
        self.settings = _settings(settings)
        self._buf: deque[dict[str, Any]] = deque()
        self._activity: Activity | None = None
        self._next_ms = -math.inf

    @property
    def activity(self) -> Activity | None:
        """The trailing window's activity (None before a window could be classified)."""
        return self._activity

    def _add(self, sample: Mapping[str, Any]) -> float:
        t = as_number(sample.get("t_ms"), strings=False)
        if math.isfinite(t):
            if self._buf and t < self._buf[-1]["t_ms"]:
                self._buf.clear()  # time went back (a new clock): start again
                self._next_ms = -math.inf
            self._buf.append({k: sample.get(k) for k in _KEPT} | {"t_ms": t})
            lo = t - 1000.0 * self.settings.activity_window_s
            while self._buf and self._buf[0]["t_ms"] < lo:
                self._buf.popleft()
        return t

    def _classify(self, t: float) -> None:
        inp = activity_inputs(list(self._buf), settings=self.settings)
        self._activity = classify_latest(inp.t_ms, inp.x_deg, inp.y_deg, settings=self.settings).activity
        self._next_ms = t + 1000.0 * self.settings.activity_step_s

    def label(self, sample: Mapping[str, Any]) -> str:
        """The label of ``sample`` with the current window's activity, without adding it."""
        state = str(sample.get("attention_state") or AttentionState.ABSENT.value)
        return sample_activities([state], [self._activity])[0]

    def update(self, sample: Mapping[str, Any]) -> str:
        """Add ``sample`` (a ``GazeSample.to_dict()`` dict) and return its activity label. A sample
        without a numeric ``t_ms`` is labelled but not kept."""
        t = self._add(sample)
        if math.isfinite(t) and t >= self._next_ms:
            self._classify(t)
        return self.label(sample)

    def label_last(self, samples: Sequence[Mapping[str, Any]]) -> str | None:
        """Add ``samples`` (time order) and return the last one's label, classifying once at the end
        (None without samples)."""
        t = math.nan
        for s in samples:
            t = self._add(s)
        if not samples:
            return None
        if math.isfinite(t):
            self._classify(t)
        return self.label(samples[-1])
