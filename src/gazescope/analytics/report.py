"""Session and aggregate reports as typed values (frozen dataclasses); ``to_dict()`` gives the stored and
served JSON. The HTML page is :mod:`gazescope.analytics.report_html`, the figures
:mod:`gazescope.analytics.plots`.

Input: a session dict (``SessionInfo.to_dict()`` or any dict; keys used when present: ``id``,
``label``, ``user_id``, ``created_at_ms``, ``ended_at_ms``, ``screen_w_px``, ``screen_h_px``,
``screen_w_cm``, ``distance_cm``, ``stimulus_id``, ``calibration_id``, ``dropped_frames``) and its samples
(``GazeSample.to_dict()`` dicts, or client gaze points converted with
:func:`gazescope.analytics.events.gaze_points_to_samples`).

Time accounting: each sample stands for the interval to the next sample, capped at
:data:`gazescope.analytics.samples.MAX_FRAME_MS` (a pause in the stream is not credited to the frame before it); the last sample gets
the median interval (or ``1000 / fps_hint``). Time shares (eye contact, focus, attention states) are
weighted by these durations, so dropped or slow frames do not bias them.

Samples without screen points (video analysed by ``gazescope analyze`` without calibration) give a
report without the fixation section (``has_gaze`` False).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np

from gazescope.analytics.activity import ACTIVITY_SOURCE, Activity, label_samples
from gazescope.analytics.aoi import (
    AOI,
    NO_GAZE_REASON,
    AOIAggregate,
    AOIMetrics,
    aggregate_aoi_metrics,
    aoi_metrics,
    parse_aois,
)
from gazescope.analytics.events import (
    EventParams,
    FixationMethod,
    ScreenGeometry,
    detect_blinks,
    detect_events,
    fixation_detector,
)
from gazescope.analytics.events.results import Fixation, Saccade
from gazescope.analytics.quality import DataQuality, assess_data_quality
from gazescope.analytics.samples import (
    DEFAULT_MAX_GAP_MS,
    MAX_FRAME_MS,
    as_number,
    frame_durations_ms,
    gaze_arrays,
    is_finite_number,
    timed_samples,
)
from gazescope.config import ActivitySettings, DataQualitySettings
from gazescope.domain import AttentionState, BlinkEvent
from gazescope.errors import ValidationError

__all__ = [
    "ACTIVITIES",
    "ATTENTION_STATES",
    "MAX_FRAME_MS",
    "AggregateReport",
    "AggregateSessionRow",
    "EventMethods",
    "GazeCoverage",
    "GazeReport",
    "ReportSession",
    "SessionReport",
    "SessionsLeftOut",
    "TimelinePoint",
    "build_aggregate_report",
    "build_session_report",
    "refresh_report_aois",
    "session_sizes",
]

ATTENTION_STATES: tuple[str, ...] = tuple(s.value for s in AttentionState)
#: The keys of ``activity_s``: the activities, then the attention states (``focused`` where no window was
#: classified).
ACTIVITIES: tuple[str, ...] = tuple(a.value for a in Activity) + ATTENTION_STATES

FIXATION_SOURCE = "Salvucci & Goldberg 2000 (ETRA)"


def _f(v: Any) -> float:
    return as_number(v, strings=False)


def _jsonable(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays and tuples into JSON types; NaN and inf become None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return None if not math.isfinite(f) else round(f, 4)
    return obj


# --------------------------------------------------------------------------------------------------
# typed report values
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportSession:
    """The identifying fields of the reported session, as given (None where the session dict lacks them;
    absent from the JSON then)."""

    id: str | None = None
    label: str | None = None
    user_id: str | None = None
    created_at_ms: float | None = None
    ended_at_ms: float | None = None
    screen_w_px: float | None = None
    screen_h_px: float | None = None
    screen_w_cm: float | None = None
    distance_cm: float | None = None
    stimulus_id: str | None = None
    calibration_id: str | None = None

    @classmethod
    def from_mapping(cls, session: Mapping[str, Any]) -> ReportSession:
        return cls(**{f.name: session.get(f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """One bin of the attention timeline: ``t_s`` from the first sample, the time-weighted
    ``attention_score`` (0-1, None without scores), the state holding most time in the bin and the
    activity holding most time in it (see :mod:`gazescope.analytics.activity`)."""

    t_s: float
    attention_score: float | None
    attention_state: str
    activity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "t_s": self.t_s,
            "attention_score": self.attention_score,
            "attention_state": self.attention_state,
            "activity": self.activity,
        }


@dataclass(frozen=True, slots=True)
class ActivitySummary:
    """Time per activity (s; ``reading``, ``scanning``, ``idle``, ``focused`` where no window was
    classified, and the attention states other than focused), the gaze it was read from (``screen`` or
    ``gaze_yaw``; None without samples) and the method's source."""

    seconds: Mapping[str, float]
    input: str | None
    method: str = ACTIVITY_SOURCE

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": dict(self.seconds), "input": self.input, "method": self.method}


@dataclass(frozen=True, slots=True)
class GazeCoverage:
    """How much screen gaze there was: samples with a screen point, % of those on the screen (0-100),
    % of all samples that are valid gaze (0-100; see :mod:`gazescope.analytics.samples`)."""

    samples_with_screen_point: int
    on_screen_pct: float
    valid_gaze_pct: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples_with_screen_point": self.samples_with_screen_point,
            "on_screen_pct": self.on_screen_pct,
            "valid_gaze_pct": self.valid_gaze_pct,
        }


@dataclass(frozen=True, slots=True)
class EventMethods:
    """The fixation method and thresholds a report used, and its source (Salvucci & Goldberg 2000)."""

    fixation_method: str
    threshold_px: float
    threshold_deg: float | None
    threshold_unit: str
    min_duration_ms: float
    max_gap_ms: float
    calibration_accuracy_px: float | None
    fixation_source: str = FIXATION_SOURCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "fixation_method": self.fixation_method,
            "fixation_source": self.fixation_source,
            "threshold_px": self.threshold_px,
            "threshold_deg": self.threshold_deg,
            "threshold_unit": self.threshold_unit,
            "min_duration_ms": self.min_duration_ms,
            "max_gap_ms": self.max_gap_ms,
            "calibration_accuracy_px": self.calibration_accuracy_px,
        }


@dataclass(frozen=True, slots=True)
class GazeReport:
    """The screen-gaze part of a session report (only when the samples hold valid screen points).

    ``fixations``/``saccades`` in screen px and ms; ``mean_fixation_ms`` (None without fixations),
    ``fixation_time_pct`` (0-100 of the session's duration), ``mean_saccade_amplitude_px`` (None without
    saccades), ``aois`` (None when no AOIs were given).
    """

    coverage: GazeCoverage
    fixations: tuple[Fixation, ...]
    mean_fixation_ms: float | None
    fixation_time_pct: float
    saccades: tuple[Saccade, ...]
    mean_saccade_amplitude_px: float | None
    methods: EventMethods
    aois: tuple[AOIMetrics, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "gaze": self.coverage.to_dict(),
            "fixations": [f.to_dict() for f in self.fixations],
            "fixation_count": len(self.fixations),
            "mean_fixation_ms": self.mean_fixation_ms,
            "fixation_time_pct": self.fixation_time_pct,
            "saccades": [s.to_dict() for s in self.saccades],
            "saccade_count": len(self.saccades),
            "mean_saccade_amplitude_px": self.mean_saccade_amplitude_px,
            "methods": self.methods.to_dict(),
        }
        if self.aois is not None:
            d["aois"] = [m.to_dict() for m in self.aois]
        return d


def _blink_dict(b: BlinkEvent) -> dict[str, Any]:
    return {
        "start_ms": b.start_ms,
        "end_ms": b.end_ms,
        "duration_ms": b.duration_ms,
        "start_frame": b.start_frame,
        "end_frame": b.end_frame,
        "min_ear": b.min_ear,
    }


@dataclass(frozen=True, slots=True)
class SessionReport:
    """The report of one session (see :func:`build_session_report` for every field's meaning and unit).

    :meth:`to_dict` gives the JSON that is stored and served: floats rounded to 4 decimals, NaN and
    infinity as null.
    """

    kind: ClassVar[str] = "session"

    session: ReportSession
    generated_at: str
    screen_w_px: float | None
    screen_h_px: float | None
    calibration_accuracy_px: float | None
    fps: float | None
    frames: int
    frames_with_face: int
    duration_s: float
    tracked_s: float
    blink_count: int
    blink_rate_per_min: float
    eye_contact_pct: float
    attention_mean: float | None
    attention_state_s: Mapping[str, float]
    focus_pct: float
    perclos_mean: float | None
    dropped_frames: int
    ms_per_frame_p50: float | None
    ms_per_frame_p95: float | None
    attention_timeline: tuple[TimelinePoint, ...]
    blinks: tuple[BlinkEvent, ...]
    data_quality: DataQuality
    activity: ActivitySummary
    gaze: GazeReport | None = None

    @property
    def has_gaze(self) -> bool:
        return self.gaze is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.kind,
            "session": self.session.to_dict(),
            "generated_at": self.generated_at,
            "screen_w_px": self.screen_w_px,
            "screen_h_px": self.screen_h_px,
            "calibration_accuracy_px": self.calibration_accuracy_px,
            "fps": self.fps,
            "frames": self.frames,
            "frames_with_face": self.frames_with_face,
            "duration_s": self.duration_s,
            "tracked_s": self.tracked_s,
            "blink_count": self.blink_count,
            "blink_rate_per_min": self.blink_rate_per_min,
            "eye_contact_pct": self.eye_contact_pct,
            "attention_mean": self.attention_mean,
            "attention_state_s": dict(self.attention_state_s),
            "focus_pct": self.focus_pct,
            "perclos_mean": self.perclos_mean,
            "dropped_frames": self.dropped_frames,
            "ms_per_frame_p50": self.ms_per_frame_p50,
            "ms_per_frame_p95": self.ms_per_frame_p95,
            "attention_timeline": [p.to_dict() for p in self.attention_timeline],
            "blinks": [_blink_dict(b) for b in self.blinks],
            "data_quality": self.data_quality.to_dict(),
            "activity_s": dict(self.activity.seconds),
            "activity": self.activity.to_dict(),
            "has_gaze": self.has_gaze,
        }
        if self.gaze is not None:
            d.update(self.gaze.to_dict())
        return _jsonable(d)


@dataclass(frozen=True, slots=True)
class AggregateSessionRow:
    """One session's summary line in an aggregate report (values as in its :class:`SessionReport` JSON)."""

    id: str | None
    label: str | None
    duration_s: float
    frames: int
    focus_pct: float
    attention_mean: float | None
    blink_rate_per_min: float
    eye_contact_pct: float
    has_gaze: bool
    fixation_count: int
    mean_fixation_ms: float | None
    user_id: str | None = None

    @classmethod
    def from_report(cls, rep: Mapping[str, Any]) -> AggregateSessionRow:
        """The row of a session report's JSON (:meth:`SessionReport.to_dict`)."""
        return cls(
            id=rep["session"].get("id"),
            label=rep["session"].get("label"),
            user_id=rep["session"].get("user_id"),
            duration_s=rep["duration_s"],
            frames=rep["frames"],
            focus_pct=rep["focus_pct"],
            attention_mean=rep["attention_mean"],
            blink_rate_per_min=rep["blink_rate_per_min"],
            eye_contact_pct=rep["eye_contact_pct"],
            has_gaze=rep["has_gaze"],
            fixation_count=rep.get("fixation_count", 0),
            mean_fixation_ms=rep.get("mean_fixation_ms"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class SessionsLeftOut:
    """Sessions an aggregate's AOI figures leave out: how many, their ids (None where a session dict has
    no id) and why."""

    session_ids: tuple[str | None, ...] = ()
    reason: str = NO_GAZE_REASON

    @property
    def count(self) -> int:
        return len(self.session_ids)

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "session_ids": list(self.session_ids), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class AggregateReport:
    """The report over several sessions of one stimulus (see :func:`build_aggregate_report`);
    :meth:`to_dict` gives its JSON."""

    kind: ClassVar[str] = "aggregate"

    stimulus: Mapping[str, Any]
    generated_at: str
    sessions: tuple[AggregateSessionRow, ...]
    mean_fixation_ms: float | None
    mean_fixation_count: float | None
    focus_pct_mean: float | None
    attention_mean: float | None
    aois: tuple[AOIAggregate, ...]
    sessions_without_gaze: SessionsLeftOut = SessionsLeftOut()

    @property
    def n_sessions(self) -> int:
        return len(self.sessions)

    @property
    def n_sessions_with_gaze(self) -> int:
        return sum(1 for r in self.sessions if r.has_gaze)

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "kind": self.kind,
                "stimulus": dict(self.stimulus),
                "generated_at": self.generated_at,
                "n_sessions": self.n_sessions,
                "n_sessions_with_gaze": self.n_sessions_with_gaze,
                "sessions": [r.to_dict() for r in self.sessions],
                "mean_fixation_ms": self.mean_fixation_ms,
                "mean_fixation_count": self.mean_fixation_count,
                "focus_pct_mean": self.focus_pct_mean,
                "attention_mean": self.attention_mean,
                "aois": [a.to_dict() for a in self.aois],
                "sessions_without_gaze": self.sessions_without_gaze.to_dict(),
            }
        )


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _weighted_mean(values: np.ndarray, w: np.ndarray) -> float | None:
    ok = np.isfinite(values) & (w > 0)
    if not ok.any():
        ok = np.isfinite(values)
        if not ok.any():
            return None
        return float(values[ok].mean())
    return float(np.average(values[ok], weights=w[ok]))


def _blink_count(samples: Sequence[Mapping[str, Any]], n_events: int) -> int:
    counts = [_f(s.get("blink_count")) for s in samples]
    counts = [c for c in counts if math.isfinite(c)]
    if counts:  # the tracker's cumulative count: the blinks completed within these samples (0 is a count)
        return int(max(counts) - min(counts))
    return n_events  # sources without a blink count (client-side gaze points): closed-eye runs


def _majority(labels: list[str], sel: np.ndarray, dur: np.ndarray) -> str:
    acc: dict[str, float] = {}
    for i in sel:
        acc[labels[i]] = acc.get(labels[i], 0.0) + max(dur[i], 1e-6)
    return max(acc, key=acc.__getitem__)


def _timeline(
    t: np.ndarray, dur: np.ndarray, scores: np.ndarray, states: list[str], activities: list[str]
) -> tuple[TimelinePoint, ...]:
    if not len(t):
        return ()
    span_s = (t[-1] - t[0]) / 1000.0
    bin_s = max(1, math.ceil(span_s / 3600.0))  # ~1 Hz, at most ~3600 points
    k = ((t - t[0]) // (1000.0 * bin_s)).astype(int)
    out = []
    for b in np.unique(k):
        sel = np.flatnonzero(k == b)
        out.append(
            TimelinePoint(
                t_s=float(b * bin_s),
                attention_score=_weighted_mean(scores[sel], dur[sel]),
                attention_state=_majority(states, sel, dur),
                activity=_majority(activities, sel, dur),
            )
        )
    return tuple(out)


def _width(session: Mapping[str, Any]) -> float | None:
    w = _f(session.get("screen_w_px"))
    return w if w > 0 else None


def session_sizes(
    session: Mapping[str, Any],
) -> tuple[tuple[float, float] | None, ScreenGeometry | None]:
    """(screen (w, h) px or None, screen geometry or None) of a session dict."""
    w, h = _f(session.get("screen_w_px")), _f(session.get("screen_h_px"))
    screen = (w, h) if w > 0 and h > 0 else None
    try:
        geometry = ScreenGeometry.from_mapping(session)
    except ValidationError:
        geometry = None
    return screen, geometry


# --------------------------------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _session_report(
    session: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]],
    *,
    aois: Sequence[AOI | Mapping[str, Any]] | None,
    calibration_accuracy_px: float | None,
    fps_hint: float | None,
    method: FixationMethod,
    stimulus_size_px: tuple[float, float] | None,
    start_ms: float | None,
    quality: DataQualitySettings | None,
    activity: ActivitySettings | None,
) -> SessionReport:
    parsed_aois = parse_aois(aois) if aois else []
    screen, geometry = session_sizes(session)
    ref, generated_at = ReportSession.from_mapping(session), _now()
    screen_w, screen_h = screen if screen else (None, None)
    n = len(samples)
    session_dropped = int(np.nan_to_num(_f(session.get("dropped_frames"))))
    if n == 0:
        return SessionReport(
            session=ref, generated_at=generated_at, screen_w_px=screen_w, screen_h_px=screen_h,
            calibration_accuracy_px=calibration_accuracy_px, fps=fps_hint, frames=0, frames_with_face=0,
            duration_s=0.0, tracked_s=0.0, blink_count=0, blink_rate_per_min=0.0, eye_contact_pct=0.0, attention_mean=None,
            attention_state_s=dict.fromkeys(ATTENTION_STATES, 0.0), focus_pct=0.0, perclos_mean=None,
            dropped_frames=session_dropped, ms_per_frame_p50=None,
            ms_per_frame_p95=None, attention_timeline=(), blinks=(),
            data_quality=assess_data_quality(
                frames=0, frames_with_face=0, duration_s=0.0, dropped_frames=session_dropped,
                calibrated=calibration_accuracy_px is not None, calibration_error_px=calibration_accuracy_px,
                screen_w_px=_width(session), thresholds=quality,
            ),
            activity=ActivitySummary(dict.fromkeys(ACTIVITIES, 0.0), None),
        )  # fmt: skip
    samples, t = timed_samples(samples, fps_hint)
    dur = frame_durations_ms(t, fps_hint)
    fps = fps_hint
    if fps_hint is None and n > 1 and np.median(np.diff(t)) > 0:
        fps = 1000.0 / float(np.median(np.diff(t)))
    face = np.array([s.get("face_detected", True) is not False for s in samples])
    states = [str(s.get("attention_state") or AttentionState.ABSENT.value) for s in samples]
    scores = np.array([_f(s.get("attention_score")) for s in samples])
    duration_s = float((t[-1] - t[0] + dur[-1]) / 1000.0)
    state_s = dict.fromkeys(ATTENTION_STATES, 0.0)
    for st, d in zip(states, dur, strict=True):
        state_s[st] = state_s.get(st, 0.0) + float(d) / 1000.0
    tracked_s = float(dur.sum() / 1000.0)
    blinks = detect_blinks(samples)
    blink_count = _blink_count(samples, len(blinks))
    eye = np.array([bool(s.get("eye_contact")) for s in samples], dtype=float)
    perclos = np.array([_f(s.get("perclos")) for s in samples])
    proc = np.array([_f(s.get("processing_ms")) for s in samples])
    proc = proc[np.isfinite(proc)]
    dropped = [_f(s.get("dropped_frames")) for s in samples] + [_f(session.get("dropped_frames"))]
    dropped = [d for d in dropped if math.isfinite(d)]
    ga = gaze_arrays(samples, max_gap_ms=DEFAULT_MAX_GAP_MS)
    activities, act = label_samples(samples, geometry=geometry, settings=activity)
    activity_s = dict.fromkeys(ACTIVITIES, 0.0)
    for a, d in zip(activities, dur, strict=True):
        activity_s[a] = activity_s.get(a, 0.0) + float(d) / 1000.0
    dropped_frames = int(max(dropped)) if dropped else 0
    calibrated = calibration_accuracy_px is not None or any(
        s.get("calibration_fit") or is_finite_number(s.get("screen_x_px")) for s in samples
    )
    gaze = None
    if ga.valid.any():
        gaze = _gaze_report(
            samples, ga.x_px, ga.y_px, ga.valid, duration_s, method=method, geometry=geometry,
            calibration_accuracy_px=calibration_accuracy_px, aois=parsed_aois, start_ms=start_ms,
            screen=screen if stimulus_size_px else None, stimulus_size_px=stimulus_size_px,
        )  # fmt: skip
    return SessionReport(
        session=ref,
        generated_at=generated_at,
        screen_w_px=screen_w,
        screen_h_px=screen_h,
        calibration_accuracy_px=calibration_accuracy_px,
        fps=fps,
        frames=n,
        frames_with_face=int(face.sum()),
        duration_s=duration_s,
        tracked_s=tracked_s,
        blink_count=blink_count,
        blink_rate_per_min=(blink_count / (duration_s / 60.0)) if duration_s > 0 else 0.0,
        eye_contact_pct=100.0 * float(np.average(eye, weights=dur)) if dur.sum() > 0 else 100.0 * eye.mean(),
        attention_mean=_weighted_mean(scores, dur),
        attention_state_s=state_s,
        focus_pct=100.0 * state_s["focused"] / tracked_s if tracked_s > 0 else 0.0,
        perclos_mean=float(np.nanmean(perclos[face])) if np.isfinite(perclos[face]).any() else None,
        dropped_frames=dropped_frames,
        ms_per_frame_p50=float(np.percentile(proc, 50)) if len(proc) else None,
        ms_per_frame_p95=float(np.percentile(proc, 95)) if len(proc) else None,
        attention_timeline=_timeline(t, dur, scores, states, activities),
        blinks=tuple(blinks),
        data_quality=assess_data_quality(
            frames=n,
            frames_with_face=int(face.sum()),
            duration_s=duration_s,
            dropped_frames=dropped_frames,
            calibrated=calibrated,
            calibration_error_px=calibration_accuracy_px,
            screen_w_px=_width(session),
            thresholds=quality,
        ),
        activity=ActivitySummary(activity_s, act.source),
        gaze=gaze,
    )


def _gaze_report(
    samples: Sequence[Mapping[str, Any]],
    x_px: np.ndarray,
    y_px: np.ndarray,
    valid: np.ndarray,
    duration_s: float,
    *,
    method: FixationMethod,
    geometry: ScreenGeometry | None,
    calibration_accuracy_px: float | None,
    aois: list[AOI],
    start_ms: float | None,
    screen: tuple[float, float] | None,
    stimulus_size_px: tuple[float, float] | None,
) -> GazeReport:
    n = len(samples)
    ev = detect_events(samples, method=method, params=EventParams(geometry=geometry))
    fix = list(ev.fixations)
    with_point = np.isfinite(x_px) & np.isfinite(y_px)
    on = np.array([s.get("on_screen") is not False for s in samples]) & with_point
    metrics = None
    if aois:
        metrics = tuple(
            aoi_metrics(
                aois, fix, samples=samples, start_ms=start_ms, screen_size_px=screen,
                stimulus_size_px=stimulus_size_px,
            )
        )  # fmt: skip
    return GazeReport(
        coverage=GazeCoverage(
            samples_with_screen_point=int(with_point.sum()),
            on_screen_pct=100.0 * float(on.sum()) / max(int(with_point.sum()), 1),
            valid_gaze_pct=100.0 * float(valid.sum()) / n,
        ),
        fixations=tuple(fix),
        mean_fixation_ms=float(np.mean([f.duration_ms for f in fix])) if fix else None,
        fixation_time_pct=100.0 * sum(f.duration_ms for f in fix) / (duration_s * 1000.0)
        if duration_s > 0
        else 0.0,
        saccades=ev.saccades,
        mean_saccade_amplitude_px=float(np.mean([s.amplitude_px for s in ev.saccades]))
        if ev.saccades
        else None,
        methods=EventMethods(
            fixation_method=ev.method,
            threshold_px=ev.threshold_px,
            threshold_deg=ev.threshold_deg,
            threshold_unit=fixation_detector(ev.method).threshold_unit,
            min_duration_ms=ev.min_duration_ms,
            max_gap_ms=ev.max_gap_ms,
            calibration_accuracy_px=calibration_accuracy_px,
        ),
        aois=metrics,
    )


def build_session_report(
    session: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]],
    *,
    aois: Sequence[AOI | Mapping[str, Any]] | None = None,
    calibration_accuracy_px: float | None = None,
    fps_hint: float | None = None,
    method: FixationMethod = "idt",
    stimulus_size_px: tuple[float, float] | None = None,
    start_ms: float | None = None,
    quality: DataQualitySettings | None = None,
    activity: ActivitySettings | None = None,
) -> SessionReport:
    """The report of one session as a :class:`SessionReport`; the fields below are the keys of its JSON
    (:meth:`SessionReport.to_dict`).

    Always: ``kind`` ("session"), ``session`` (identifying fields), ``generated_at`` (UTC ISO 8601),
    ``screen_w_px``/``screen_h_px`` (from the session, or None), ``calibration_accuracy_px`` (as given),
    ``fps`` (``fps_hint``, else measured from the median frame interval; None for < 2 samples),
    ``frames``, ``frames_with_face``, ``duration_s`` (first to last sample plus the last one's interval),
    ``tracked_s`` (sum of per-sample durations, see module docstring), ``blink_count`` (the tracker's
    cumulative ``blink_count``, else the number of ``is_blinking`` runs), ``blink_rate_per_min``,
    ``blinks`` (events), ``eye_contact_pct`` (0-100, time share with ``eye_contact``), ``attention_mean``
    (0-1, time-weighted, None without scores), ``attention_state_s`` (seconds per state: focused,
    looking_away, eyes_closed, drowsy, absent, plus any other state seen), ``focus_pct`` (0-100, focused
    share of ``tracked_s``), ``perclos_mean`` (0-1, over frames with a face), ``dropped_frames`` (largest
    of the samples' cumulative ``dropped_frames`` and the session's), ``ms_per_frame_p50``/``_p95`` (of
    ``processing_ms``), ``attention_timeline`` ([{t_s, attention_score, attention_state}] in 1 s bins from
    the first sample, wider bins past an hour so at most about 3600 points; the state is the one holding
    most time in the bin, and ``activity`` the activity holding most time), ``has_gaze``,
    ``data_quality`` (:class:`~gazescope.analytics.quality.DataQuality`: ``status`` pass/fail/unknown,
    ``failed`` check names, ``checks`` with value, unit, threshold, status and detail: effective FPS =
    ``frames`` / ``duration_s``, face share, calibration error in % of ``screen_w_px``, dropped share),
    ``activity_s`` (seconds per activity: ``reading``, ``scanning``, ``idle`` while focused, ``focused``
    where no window was classified, and the other attention states; :mod:`gazescope.analytics.activity`)
    and ``activity`` (``{seconds, input, method}``: the gaze read, ``screen`` or ``gaze_yaw``).

    When screen points exist (``has_gaze``): ``gaze`` (coverage figures), ``fixations`` (list of
    :class:`~gazescope.analytics.events.Fixation` dicts), ``fixation_count``, ``mean_fixation_ms``,
    ``fixation_time_pct``, ``saccades``, ``saccade_count``, ``mean_saccade_amplitude_px``, ``methods``
    (thresholds and sources), and with ``aois`` an ``aois`` table (:class:`~gazescope.analytics.aoi.AOIMetrics`
    dicts; AOIs in stimulus px, ``stimulus_size_px`` scales screen gaze to it, TTFF counts from
    ``start_ms``, default the first sample).

    ``calibration_accuracy_px`` is recorded for the heatmap's kernel and judged by the data-quality card.
    ``quality``: the card's thresholds; ``activity``: activity recognition's (default: the settings'
    defaults). ``fps_hint``: frame rate used for the
    last frame's duration and, when ``t_ms`` is missing or does not advance, to time samples by
    ``frame_index``. ``method``: "idt" (default) or "ivt"; with ``screen_w_cm`` and ``distance_cm`` in the
    session the thresholds are in degrees (see :mod:`gazescope.analytics.events`).

    Raises :class:`gazescope.errors.ValidationError` for untimed samples without ``fps_hint``, decreasing
    timestamps, or invalid AOIs.
    """
    return _session_report(
        session,
        samples,
        aois=aois,
        calibration_accuracy_px=calibration_accuracy_px,
        fps_hint=fps_hint,
        method=method,
        stimulus_size_px=stimulus_size_px,
        start_ms=start_ms,
        quality=quality,
        activity=activity,
    )


def build_aggregate_report(
    stimulus: Mapping[str, Any],
    sessions: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    aois: Sequence[AOI | Mapping[str, Any]] | None = None,
    *,
    method: FixationMethod = "idt",
    fps_hint: float | None = None,
) -> AggregateReport:
    """Report over several sessions (viewers) of one stimulus as an :class:`AggregateReport`; the keys below
    are those of its JSON (:meth:`AggregateReport.to_dict`).

    ``stimulus``: dict with at least ``id`` or ``name``; ``width_px``/``height_px`` when the stimulus size
    differs from the screens (gaze is then scaled to it per session, see
    :func:`gazescope.analytics.aoi.screen_to_stimulus`). ``sessions``: (session dict, samples) pairs.
    ``aois``: in stimulus px.

    Returns ``kind`` ("aggregate"), ``stimulus``, ``n_sessions``, ``n_sessions_with_gaze``,
    ``sessions`` (one summary row each: id, label, user_id, duration_s, frames, focus_pct, attention_mean,
    blink_rate_per_min, eye_contact_pct, fixation_count, mean_fixation_ms), ``mean_fixation_ms`` (over all
    fixations of all sessions), ``mean_fixation_count``, ``focus_pct_mean``, ``attention_mean`` (mean of
    the sessions'), ``aois`` (:class:`~gazescope.analytics.aoi.AOIAggregate` dicts: % viewers, mean
    dwell, mean TTFF... over the sessions with screen gaze only) and ``sessions_without_gaze``
    (``{"count", "session_ids", "reason"}``: the sessions without any screen point, left out of the AOI
    figures since they cannot tell whether their viewer looked).

    Raises :class:`gazescope.errors.ValidationError` as :func:`build_session_report`.
    """
    parsed = parse_aois(aois) if aois else []
    sw, sh = _f(stimulus.get("width_px")), _f(stimulus.get("height_px"))
    stim_size = (sw, sh) if sw > 0 and sh > 0 else None
    rows, per_session_aoi, all_fix = [], [], []
    for session, samples in sessions:
        screen, _ = session_sizes(session)
        report = _session_report(
            session,
            samples,
            aois=parsed,
            calibration_accuracy_px=None,
            fps_hint=fps_hint,
            method=method,
            stimulus_size_px=stim_size if screen else None,
            start_ms=None,
            quality=None,
            activity=None,
        )
        if parsed:
            per_session_aoi.append(list(report.gaze.aois or ()) if report.gaze else None)
        rep = report.to_dict()  # the summary rows hold the rounded values of the session reports
        all_fix += [f["duration_ms"] for f in rep.get("fixations", [])]
        rows.append(AggregateSessionRow.from_report(rep))
    att = [r.attention_mean for r in rows if r.attention_mean is not None]
    return AggregateReport(
        stimulus=dict(stimulus),
        generated_at=_now(),
        sessions=tuple(rows),
        mean_fixation_ms=float(np.mean(all_fix)) if all_fix else None,
        mean_fixation_count=float(np.mean([r.fixation_count for r in rows])) if rows else None,
        focus_pct_mean=float(np.mean([r.focus_pct for r in rows])) if rows else None,
        attention_mean=float(np.mean(att)) if att else None,
        aois=tuple(aggregate_aoi_metrics(per_session_aoi, [a.name for a in parsed])) if parsed else (),
        sessions_without_gaze=SessionsLeftOut(tuple(r.id for r in rows if not r.has_gaze)),
    )


def refresh_report_aois(
    report: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]],
    aois: Sequence[AOI | Mapping[str, Any]] | None,
    *,
    stimulus_size_px: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """A stored session report (:meth:`SessionReport.to_dict` JSON) with its ``aois`` table recomputed
    for ``aois`` (stimulus px), so that AOIs defined or changed after the session ended have figures.

    The report's own ``fixations`` are measured against the AOIs (the same fixations the report lists) and
    ``samples`` (the session's stored samples) give the sample dwell; TTFF counts from the first sample,
    as in :func:`build_session_report`. With ``stimulus_size_px`` the gaze is scaled from the report's
    screen size. Without AOIs the ``aois`` key is removed; a report without screen gaze (``has_gaze``
    false) is returned unchanged. The report is copied, not changed.

    Raises :class:`gazescope.errors.ValidationError` for invalid AOIs or untimed samples.
    """
    out = dict(report)
    if not out.get("has_gaze"):
        return out
    parsed = parse_aois(aois) if aois else []
    if not parsed:
        out.pop("aois", None)
        return out
    fixations = [
        Fixation(**{f.name: fx[f.name] for f in fields(Fixation)}) for fx in out.get("fixations") or []
    ]
    w, h = _f(out.get("screen_w_px")), _f(out.get("screen_h_px"))
    screen = (w, h) if w > 0 and h > 0 and stimulus_size_px else None
    fps = _f(out.get("fps"))
    timed = timed_samples(samples, fps if fps > 0 else None)[0] if samples else []
    metrics = aoi_metrics(
        parsed, fixations, samples=timed or None, start_ms=None, screen_size_px=screen,
        stimulus_size_px=stimulus_size_px if screen else None,
    )  # fmt: skip
    out["aois"] = _jsonable([m.to_dict() for m in metrics])
    return out
