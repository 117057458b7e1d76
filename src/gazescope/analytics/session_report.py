"""The report of one session (:func:`build_session_report`) and the refresh of its AOI table
(:func:`refresh_report_aois`). The values are :mod:`gazescope.analytics.report_values`; the samples are read
once into arrays (:func:`gazescope.analytics.samples.session_arrays`) and everything below reads those.

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
from dataclasses import fields
from typing import Any

import numpy as np

from gazescope.analytics.activity import label_arrays
from gazescope.analytics.aoi import AOI, aoi_metrics, parse_aois
from gazescope.analytics.events import (
    EventParams,
    FixationMethod,
    ScreenGeometry,
    events_of_arrays,
    fixation_detector,
)
from gazescope.analytics.events.blinks import blink_events
from gazescope.analytics.events.results import Fixation
from gazescope.analytics.quality import assess_data_quality
from gazescope.analytics.report_values import (
    ACTIVITIES,
    ATTENTION_STATES,
    ActivitySummary,
    EventMethods,
    GazeCoverage,
    GazeReport,
    ReportSession,
    SessionReport,
    TimelinePoint,
    jsonable,
    utc_now_iso,
)
from gazescope.analytics.samples import SessionArrays, as_number, frame_durations_ms, session_arrays
from gazescope.config import ActivitySettings, DataQualitySettings
from gazescope.errors import ValidationError

__all__ = ["build_session_report", "refresh_report_aois", "session_sizes"]


def _f(v: Any) -> float:
    return as_number(v, strings=False)


def _weighted_mean(values: np.ndarray, w: np.ndarray) -> float | None:
    ok = np.isfinite(values) & (w > 0)
    if not ok.any():
        ok = np.isfinite(values)
        if not ok.any():
            return None
        return float(values[ok].mean())
    return float(np.average(values[ok], weights=w[ok]))


def _blink_count(cumulative: np.ndarray, n_events: int) -> int:
    counts = cumulative[np.isfinite(cumulative)]
    if len(
        counts
    ):  # the tracker's cumulative count: the blinks completed within these samples (0 is a count)
        return int(max(counts) - min(counts))
    return n_events  # sources without a blink count (client-side gaze points): closed-eye runs


def _majority(labels: Sequence[str], sel: np.ndarray, dur: np.ndarray) -> str:
    acc: dict[str, float] = {}
    for i in sel:
        acc[labels[i]] = acc.get(labels[i], 0.0) + max(dur[i], 1e-6)
    return max(acc, key=acc.__getitem__)


def _timeline(
    t: np.ndarray, dur: np.ndarray, scores: np.ndarray, states: Sequence[str], activities: Sequence[str]
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
    parsed_aois = parse_aois(aois) if aois else []
    screen, geometry = session_sizes(session)
    ref, generated_at = ReportSession.from_mapping(session), utc_now_iso()
    screen_w, screen_h = screen if screen else (None, None)
    session_dropped = _f(session.get("dropped_frames"))
    if not samples:
        dropped = int(np.nan_to_num(session_dropped))
        return SessionReport(
            session=ref, generated_at=generated_at, screen_w_px=screen_w, screen_h_px=screen_h,
            calibration_accuracy_px=calibration_accuracy_px, fps=fps_hint, frames=0, frames_with_face=0,
            duration_s=0.0, tracked_s=0.0, blink_count=0, blink_rate_per_min=0.0, eye_contact_pct=0.0, attention_mean=None,
            attention_state_s=dict.fromkeys(ATTENTION_STATES, 0.0), focus_pct=0.0, perclos_mean=None,
            dropped_frames=dropped, ms_per_frame_p50=None,
            ms_per_frame_p95=None, attention_timeline=(), blinks=(),
            data_quality=assess_data_quality(
                frames=0, frames_with_face=0, duration_s=0.0, dropped_frames=dropped,
                calibrated=calibration_accuracy_px is not None, calibration_error_px=calibration_accuracy_px,
                screen_w_px=_width(session), thresholds=quality,
            ),
            activity=ActivitySummary(dict.fromkeys(ACTIVITIES, 0.0), None),
        )  # fmt: skip
    a = session_arrays(samples, fps_hint=fps_hint)
    n, t = len(a), a.t_ms
    dur = frame_durations_ms(t, fps_hint)
    fps = fps_hint
    if fps_hint is None and n > 1 and np.median(np.diff(t)) > 0:
        fps = 1000.0 / float(np.median(np.diff(t)))
    duration_s = float((t[-1] - t[0] + dur[-1]) / 1000.0)
    state_s = dict.fromkeys(ATTENTION_STATES, 0.0)
    for st, d in zip(a.attention_state, dur, strict=True):
        state_s[st] = state_s.get(st, 0.0) + float(d) / 1000.0
    tracked_s = float(dur.sum() / 1000.0)
    blinks = blink_events(a.blinks)
    blink_count = _blink_count(a.blink_count, len(blinks))
    eye = a.eye_contact.astype(float)
    proc = a.processing_ms[np.isfinite(a.processing_ms)]
    dropped_all = np.append(a.dropped_frames, session_dropped)
    dropped_all = dropped_all[np.isfinite(dropped_all)]
    activities, act = label_arrays(a, geometry=geometry, settings=activity)
    activity_s = dict.fromkeys(ACTIVITIES, 0.0)
    for label, d in zip(activities, dur, strict=True):
        activity_s[label] = activity_s.get(label, 0.0) + float(d) / 1000.0
    dropped_frames = int(dropped_all.max()) if len(dropped_all) else 0
    calibrated = calibration_accuracy_px is not None or bool(a.calibrated.any())
    gaze = None
    if a.gaze.valid.any():
        gaze = _gaze_report(
            a, duration_s, method=method, geometry=geometry, calibration_accuracy_px=calibration_accuracy_px,
            aois=parsed_aois, start_ms=start_ms, screen=screen if stimulus_size_px else None,
            stimulus_size_px=stimulus_size_px,
        )  # fmt: skip
    face, perclos = a.face, a.perclos
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
        attention_mean=_weighted_mean(a.attention_score, dur),
        attention_state_s=state_s,
        focus_pct=100.0 * state_s["focused"] / tracked_s if tracked_s > 0 else 0.0,
        perclos_mean=float(np.nanmean(perclos[face])) if np.isfinite(perclos[face]).any() else None,
        dropped_frames=dropped_frames,
        ms_per_frame_p50=float(np.percentile(proc, 50)) if len(proc) else None,
        ms_per_frame_p95=float(np.percentile(proc, 95)) if len(proc) else None,
        attention_timeline=_timeline(t, dur, a.attention_score, a.attention_state, activities),
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
    a: SessionArrays,
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
    ev = events_of_arrays(a.gaze, a.blinks, method=method, params=EventParams(geometry=geometry))
    fix = list(ev.fixations)
    with_point = np.isfinite(a.gaze.x_px) & np.isfinite(a.gaze.y_px)
    on = a.on_screen & with_point
    metrics = None
    if aois:
        metrics = tuple(
            aoi_metrics(
                aois, fix, gaze=a.gaze, start_ms=start_ms, screen_size_px=screen,
                stimulus_size_px=stimulus_size_px,
            )
        )  # fmt: skip
    return GazeReport(
        coverage=GazeCoverage(
            samples_with_screen_point=int(with_point.sum()),
            on_screen_pct=100.0 * float(on.sum()) / max(int(with_point.sum()), 1),
            valid_gaze_pct=100.0 * float(a.gaze.valid.sum()) / len(a),
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
    gaze = session_arrays(samples, fps_hint=fps if fps > 0 else None).gaze if samples else None
    metrics = aoi_metrics(
        parsed, fixations, gaze=gaze, start_ms=None, screen_size_px=screen,
        stimulus_size_px=stimulus_size_px if screen else None,
    )  # fmt: skip
    out["aois"] = jsonable([m.to_dict() for m in metrics])
    return out
