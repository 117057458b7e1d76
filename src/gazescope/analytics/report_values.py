"""The typed values of session and aggregate reports (frozen dataclasses); ``to_dict()`` gives the stored and
served JSON: floats rounded to 4 decimals, NaN and infinity as null. Built by
:mod:`gazescope.analytics.session_report` and :mod:`gazescope.analytics.aggregate_report`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

import numpy as np

from gazescope.analytics.activity import ACTIVITY_SOURCE, Activity
from gazescope.analytics.aoi import NO_GAZE_REASON, AOIAggregate, AOIMetrics
from gazescope.analytics.events.results import Fixation, Saccade
from gazescope.analytics.quality import DataQuality
from gazescope.domain import AttentionState, BlinkEvent

__all__ = [
    "ACTIVITIES",
    "ATTENTION_STATES",
    "ActivitySummary",
    "AggregateReport",
    "AggregateSessionRow",
    "EventMethods",
    "GazeCoverage",
    "GazeReport",
    "ReportSession",
    "SessionReport",
    "SessionsLeftOut",
    "TimelinePoint",
    "jsonable",
    "utc_now_iso",
]

ATTENTION_STATES: tuple[str, ...] = tuple(s.value for s in AttentionState)
#: The keys of ``activity_s``: the activities, then the attention states (``focused`` where no window was
#: classified).
ACTIVITIES: tuple[str, ...] = tuple(a.value for a in Activity) + ATTENTION_STATES

FIXATION_SOURCE = "Salvucci & Goldberg 2000 (ETRA)"


def jsonable(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays and tuples into JSON types; NaN and inf become None."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return None if not math.isfinite(f) else round(f, 4)
    return obj


def utc_now_iso() -> str:
    """The current UTC time as ISO 8601 to the second (a report's ``generated_at``)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


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
        return jsonable(d)


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
        return jsonable(
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
