"""Session and aggregate reports (JSON-able dicts), timeline figures and a self-contained HTML page.

Input: a session dict (``SessionInfo.to_dict()`` or any dict; keys used when present: ``id``,
``label``, ``user_id``, ``created_at_ms``, ``ended_at_ms``, ``screen_w_px``, ``screen_h_px``,
``screen_w_cm``, ``distance_cm``, ``stimulus_id``, ``calibration_id``, ``dropped_frames``) and its samples
(``GazeSample.to_dict()`` dicts, or client gaze points converted with
:func:`gazescope.analytics.events.gaze_points_to_samples`).

Time accounting: each sample stands for the interval to the next sample, capped at
:data:`MAX_FRAME_MS` (a pause in the stream is not credited to the frame before it); the last sample gets
the median interval (or ``1000 / fps_hint``). Time shares (eye contact, focus, attention states) are
weighted by these durations, so dropped or slow frames do not bias them.

Samples without screen points (video analysed by ``gazescope analyze`` without calibration) give a
report without the fixation section (``has_gaze`` False).
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from gazescope.analytics.aoi import AOI, AOIMetrics, aggregate_aoi_metrics, aoi_metrics, parse_aois
from gazescope.analytics.events import (
    DEFAULT_MAX_GAP_MS,
    FixationMethod,
    ScreenGeometry,
    detect_blinks,
    detect_events,
    gaze_arrays,
    sample_durations_ms,
)
from gazescope.analytics.heatmap import (
    render_gaze_trail_png,
    render_heatmap_png,
    render_scanpath_png,
    session_heatmap,
)
from gazescope.domain import AttentionState
from gazescope.errors import ValidationError

MAX_FRAME_MS = 1000.0
"""Longest time one sample may stand for in time shares (see module docstring)."""

ATTENTION_STATES: tuple[str, ...] = tuple(s.value for s in AttentionState)

STATE_COLOURS = {
    "focused": "#2e9d57",
    "looking_away": "#f0a020",
    "eyes_closed": "#7a5cc4",
    "drowsy": "#d0443e",
    "absent": "#9a9a9a",
}


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def _f(v: Any) -> float:
    if v is None or isinstance(v, bool | str):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


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


def _timed_samples(
    samples: Sequence[Mapping[str, Any]], fps_hint: float | None
) -> tuple[list[Mapping[str, Any]], np.ndarray]:
    """Samples with usable ``t_ms`` and their times; derives times from ``frame_index`` and ``fps_hint``
    when timestamps are missing or do not advance. Raises ValidationError when neither works."""
    if fps_hint is not None and not (fps_hint > 0 and math.isfinite(fps_hint)):
        raise ValidationError(f"fps_hint must be > 0, got {fps_hint!r}")
    t = np.array([_f(s.get("t_ms")) for s in samples], dtype=float)
    ok = bool(len(t)) and bool(np.all(np.isfinite(t))) and (len(t) < 2 or t[-1] > t[0])
    if ok and np.all(np.diff(t) >= 0):
        return list(samples), t
    if fps_hint is None:
        raise ValidationError(
            "samples need increasing numeric t_ms (or pass fps_hint to time them by frame_index)"
        )
    fi = np.array([_f(s.get("frame_index")) for s in samples], dtype=float)
    if not np.all(np.isfinite(fi)) or np.any(np.diff(fi) < 0):
        fi = np.arange(len(samples), dtype=float)
    t = fi * 1000.0 / fps_hint
    return [{**s, "t_ms": float(tt)} for s, tt in zip(samples, t, strict=True)], t


def _durations(t: np.ndarray, fps_hint: float | None) -> np.ndarray:
    d = sample_durations_ms(t, max_ms=MAX_FRAME_MS)
    if len(d) and fps_hint:
        d[-1] = 1000.0 / fps_hint
    elif len(d) == 1:
        d[-1] = 0.0
    return d


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


def _timeline(t: np.ndarray, dur: np.ndarray, scores: np.ndarray, states: list[str]) -> list[dict[str, Any]]:
    if not len(t):
        return []
    span_s = (t[-1] - t[0]) / 1000.0
    bin_s = max(1, math.ceil(span_s / 3600.0))  # ~1 Hz, at most ~3600 points
    k = ((t - t[0]) // (1000.0 * bin_s)).astype(int)
    out = []
    for b in np.unique(k):
        sel = np.flatnonzero(k == b)
        acc: dict[str, float] = {}
        for i in sel:
            acc[states[i]] = acc.get(states[i], 0.0) + max(dur[i], 1e-6)
        out.append(
            {
                "t_s": float(b * bin_s),
                "attention_score": _weighted_mean(scores[sel], dur[sel]),
                "attention_state": max(acc, key=acc.__getitem__),
            }
        )
    return out


def _session_sizes(
    session: Mapping[str, Any],
) -> tuple[tuple[float, float] | None, ScreenGeometry | None]:
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
) -> tuple[dict[str, Any], list[AOIMetrics] | None]:
    parsed_aois = parse_aois(aois) if aois else []
    screen, geometry = _session_sizes(session)
    report: dict[str, Any] = {
        "kind": "session",
        "session": {
            k: session.get(k)
            for k in (
                "id", "label", "user_id", "created_at_ms", "ended_at_ms", "screen_w_px", "screen_h_px",
                "screen_w_cm", "distance_cm", "stimulus_id", "calibration_id",
            )
            if session.get(k) is not None
        },
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "screen_w_px": screen[0] if screen else None,
        "screen_h_px": screen[1] if screen else None,
        "calibration_accuracy_px": calibration_accuracy_px,
        "fps": fps_hint,
    }  # fmt: skip
    n = len(samples)
    if n == 0:
        report.update(
            frames=0, frames_with_face=0, duration_s=0.0, tracked_s=0.0, blink_count=0, blink_rate_per_min=0.0,
            eye_contact_pct=0.0, attention_mean=None, attention_state_s=dict.fromkeys(ATTENTION_STATES, 0.0),
            focus_pct=0.0, perclos_mean=None, dropped_frames=int(np.nan_to_num(_f(session.get("dropped_frames")))),
            ms_per_frame_p50=None, ms_per_frame_p95=None, attention_timeline=[], blinks=[], has_gaze=False,
        )  # fmt: skip
        return _jsonable(report), None
    samples, t = _timed_samples(samples, fps_hint)
    dur = _durations(t, fps_hint)
    if fps_hint is None and n > 1 and np.median(np.diff(t)) > 0:
        report["fps"] = 1000.0 / float(np.median(np.diff(t)))
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
    report.update(
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
        dropped_frames=int(max(dropped)) if dropped else 0,
        ms_per_frame_p50=float(np.percentile(proc, 50)) if len(proc) else None,
        ms_per_frame_p95=float(np.percentile(proc, 95)) if len(proc) else None,
        attention_timeline=_timeline(t, dur, scores, states),
        blinks=[{"start_ms": b.start_ms, "end_ms": b.end_ms, "duration_ms": b.duration_ms,
                 "start_frame": b.start_frame, "end_frame": b.end_frame, "min_ear": b.min_ear} for b in blinks],
    )  # fmt: skip

    ga = gaze_arrays(samples, max_gap_ms=DEFAULT_MAX_GAP_MS)
    has_gaze = bool(ga.valid.any())
    report["has_gaze"] = has_gaze
    metrics = None
    if has_gaze:
        ev = detect_events(samples, method=method, geometry=geometry)
        fix = list(ev.fixations)
        with_point = np.isfinite(ga.x_px) & np.isfinite(ga.y_px)
        on = np.array([s.get("on_screen") is not False for s in samples]) & with_point
        report.update(
            gaze={
                "samples_with_screen_point": int(with_point.sum()),
                "on_screen_pct": 100.0 * float(on.sum()) / max(int(with_point.sum()), 1),
                "valid_gaze_pct": 100.0 * float(ga.valid.sum()) / n,
            },
            fixations=[f.to_dict() for f in fix],
            fixation_count=len(fix),
            mean_fixation_ms=float(np.mean([f.duration_ms for f in fix])) if fix else None,
            fixation_time_pct=100.0 * sum(f.duration_ms for f in fix) / (duration_s * 1000.0)
            if duration_s > 0
            else 0.0,
            saccades=[s.to_dict() for s in ev.saccades],
            saccade_count=len(ev.saccades),
            mean_saccade_amplitude_px=float(np.mean([s.amplitude_px for s in ev.saccades]))
            if ev.saccades
            else None,
            methods={
                "fixation_method": ev.method,
                "fixation_source": "Salvucci & Goldberg 2000 (ETRA)",
                "threshold_px": ev.threshold_px,
                "threshold_deg": ev.threshold_deg,
                "threshold_unit": "px dispersion" if ev.method == "idt" else "px/s velocity",
                "min_duration_ms": ev.min_duration_ms,
                "max_gap_ms": ev.max_gap_ms,
                "calibration_accuracy_px": calibration_accuracy_px,
            },
        )
        if parsed_aois:
            metrics = aoi_metrics(
                parsed_aois,
                fix,
                samples=samples,
                start_ms=start_ms,
                screen_size_px=screen if stimulus_size_px else None,
                stimulus_size_px=stimulus_size_px,
            )
            report["aois"] = [m.to_dict() for m in metrics]
    return _jsonable(report), metrics


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
) -> dict[str, Any]:
    """The report of one session as a JSON-able dict.

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
    most time in the bin), ``has_gaze``.

    When screen points exist (``has_gaze``): ``gaze`` (coverage figures), ``fixations`` (list of
    :class:`~gazescope.analytics.events.Fixation` dicts), ``fixation_count``, ``mean_fixation_ms``,
    ``fixation_time_pct``, ``saccades``, ``saccade_count``, ``mean_saccade_amplitude_px``, ``methods``
    (thresholds and sources), and with ``aois`` an ``aois`` table (:class:`~gazescope.analytics.aoi.AOIMetrics`
    dicts; AOIs in stimulus px, ``stimulus_size_px`` scales screen gaze to it, TTFF counts from
    ``start_ms``, default the first sample).

    ``calibration_accuracy_px`` is recorded for the heatmap's kernel. ``fps_hint``: frame rate used for the
    last frame's duration and, when ``t_ms`` is missing or does not advance, to time samples by
    ``frame_index``. ``method``: "idt" (default) or "ivt"; with ``screen_w_cm`` and ``distance_cm`` in the
    session the thresholds are in degrees (see :mod:`gazescope.analytics.events`).

    Raises :class:`gazescope.errors.ValidationError` for untimed samples without ``fps_hint``, decreasing
    timestamps, or invalid AOIs.
    """
    report, _ = _session_report(
        session,
        samples,
        aois=aois,
        calibration_accuracy_px=calibration_accuracy_px,
        fps_hint=fps_hint,
        method=method,
        stimulus_size_px=stimulus_size_px,
        start_ms=start_ms,
    )
    return report


def build_aggregate_report(
    stimulus: Mapping[str, Any],
    sessions: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]],
    aois: Sequence[AOI | Mapping[str, Any]] | None = None,
    *,
    method: FixationMethod = "idt",
    fps_hint: float | None = None,
) -> dict[str, Any]:
    """Report over several sessions (viewers) of one stimulus, JSON-able.

    ``stimulus``: dict with at least ``id`` or ``name``; ``width_px``/``height_px`` when the stimulus size
    differs from the screens (gaze is then scaled to it per session, see
    :func:`gazescope.analytics.aoi.screen_to_stimulus`). ``sessions``: (session dict, samples) pairs.
    ``aois``: in stimulus px.

    Returns ``kind`` ("aggregate"), ``stimulus``, ``n_sessions``, ``n_sessions_with_gaze``,
    ``sessions`` (one summary row each: id, label, duration_s, frames, focus_pct, attention_mean,
    blink_rate_per_min, eye_contact_pct, fixation_count, mean_fixation_ms), ``mean_fixation_ms`` (over all
    fixations of all sessions), ``mean_fixation_count``, ``focus_pct_mean``, ``attention_mean`` (mean of
    the sessions'), and ``aois`` (:class:`~gazescope.analytics.aoi.AOIAggregate` dicts: % viewers, mean
    dwell, mean TTFF...; sessions without gaze count as not having looked).

    Raises :class:`gazescope.errors.ValidationError` as :func:`build_session_report`.
    """
    parsed = parse_aois(aois) if aois else []
    sw, sh = _f(stimulus.get("width_px")), _f(stimulus.get("height_px"))
    stim_size = (sw, sh) if sw > 0 and sh > 0 else None
    rows, per_session_aoi, all_fix = [], [], []
    for session, samples in sessions:
        screen, _ = _session_sizes(session)
        rep, metrics = _session_report(
            session,
            samples,
            aois=parsed,
            calibration_accuracy_px=None,
            fps_hint=fps_hint,
            method=method,
            stimulus_size_px=stim_size if screen else None,
            start_ms=None,
        )
        if parsed:
            per_session_aoi.append(metrics or [])
        all_fix += [f["duration_ms"] for f in rep.get("fixations", [])]
        rows.append(
            {
                "id": rep["session"].get("id"),
                "label": rep["session"].get("label"),
                "duration_s": rep["duration_s"],
                "frames": rep["frames"],
                "focus_pct": rep["focus_pct"],
                "attention_mean": rep["attention_mean"],
                "blink_rate_per_min": rep["blink_rate_per_min"],
                "eye_contact_pct": rep["eye_contact_pct"],
                "has_gaze": rep["has_gaze"],
                "fixation_count": rep.get("fixation_count", 0),
                "mean_fixation_ms": rep.get("mean_fixation_ms"),
            }
        )
    att = [r["attention_mean"] for r in rows if r["attention_mean"] is not None]
    out = {
        "kind": "aggregate",
        "stimulus": dict(stimulus),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_sessions": len(rows),
        "n_sessions_with_gaze": sum(1 for r in rows if r["has_gaze"]),
        "sessions": rows,
        "mean_fixation_ms": float(np.mean(all_fix)) if all_fix else None,
        "mean_fixation_count": float(np.mean([r["fixation_count"] for r in rows])) if rows else None,
        "focus_pct_mean": float(np.mean([r["focus_pct"] for r in rows])) if rows else None,
        "attention_mean": float(np.mean(att)) if att else None,
        "aois": [a.to_dict() for a in aggregate_aoi_metrics(per_session_aoi)] if parsed else [],
    }
    return _jsonable(out)


# --------------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------------


# legends sit above each panel, right of its title, so they never hide data
_LEGEND: dict[str, Any] = {
    "loc": "lower right", "bbox_to_anchor": (1.0, 1.0), "fontsize": 8, "ncols": 6, "frameon": False,
    "borderaxespad": 0.1, "handlelength": 1.5, "columnspacing": 1.2,
}  # fmt: skip


def _fig_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def render_timeline_png(
    samples: Sequence[Mapping[str, Any]], *, fps_hint: float | None = None, width_px: int = 1200
) -> bytes:
    """Four stacked time plots of a session as PNG bytes (``width_px`` wide, 900 px high at 1200):
    eye aspect ratio (left/right eye, blinks shaded), gaze ratios (horizontal 0 = subject's right ... 1 =
    left, vertical 0 = top ... 1 = bottom), head pose (yaw/pitch/roll, deg) and attention score (0-1) over a
    band coloured by attention state. x: seconds from the first sample. Missing values leave gaps.

    Raises :class:`gazescope.errors.ValidationError` for untimed samples without ``fps_hint`` and for
    ``width_px`` under 400.
    """
    if width_px < 400:
        raise ValidationError(f"width_px must be >= 400, got {width_px}")
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, width_px * 0.75 / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(4, 1, sharex=True, height_ratios=[1.0, 1.0, 1.0, 1.1])
    if not samples:
        axes[0].set_title("No samples")
        for ax in axes:
            ax.set_yticks([])
        return _fig_png(fig)
    samples, t = _timed_samples(samples, fps_hint)
    x = (t - t[0]) / 1000.0
    dur = _durations(t, fps_hint)

    def col(key: str) -> np.ndarray:
        return np.array([_f(s.get(key)) for s in samples])

    ax = axes[0]
    for b in detect_blinks(samples):
        ax.axvspan(
            (b.start_ms - t[0]) / 1000.0, (b.end_ms - t[0]) / 1000.0 + 0.02, color="#d0443e", alpha=0.25, lw=0
        )
    ax.plot(x, col("ear_left"), lw=1.0, color="#1f77b4", label="left eye")
    ax.plot(x, col("ear_right"), lw=1.0, color="#ff7f0e", label="right eye")
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Patch(color="#d0443e", alpha=0.25))
    labels.append("blink")
    ax.legend(handles, labels, **_LEGEND)
    ax.set_ylabel("EAR")
    ax.set_title("Eye aspect ratio (Soukupová & Čech 2016)", loc="left", fontsize=10)

    ax = axes[1]
    ax.plot(x, col("horizontal_ratio"), lw=1.0, color="#2ca02c", label="horizontal (0 right … 1 left)")
    ax.plot(x, col("vertical_ratio"), lw=1.0, color="#9467bd", label="vertical (0 top … 1 bottom)")
    ax.set_ylim(-0.02, 1.02)
    ax.axhline(0.5, color="0.7", lw=0.8, ls="--")
    ax.set_ylabel("ratio")
    ax.legend(**_LEGEND)
    ax.set_title("Gaze ratios (pupil position within the eye)", loc="left", fontsize=10)

    ax = axes[2]
    for key, c in (("yaw_deg", "#d62728"), ("pitch_deg", "#17becf"), ("roll_deg", "#8c564b")):
        ax.plot(x, col(key), lw=1.0, color=c, label=key.removesuffix("_deg"))
    ax.axhline(0.0, color="0.7", lw=0.8, ls="--")
    ax.set_ylabel("degrees")
    ax.legend(**_LEGEND)
    ax.set_title("Head pose", loc="left", fontsize=10)

    ax = axes[3]
    states = [str(s.get("attention_state") or "absent") for s in samples]
    seen = []
    for st in dict.fromkeys(states):
        spans = [(x[i], dur[i] / 1000.0) for i in range(len(states)) if states[i] == st]
        ax.broken_barh(spans, (0, 1.0), color=STATE_COLOURS.get(st, "#cccccc"), alpha=0.28, lw=0)
        seen.append(st)
    ax.plot(x, col("attention_score"), lw=1.4, color="black", label="attention score")
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("score")
    ax.set_xlabel("time (s)")
    handles = [ax.get_lines()[0]] + [Patch(color=STATE_COLOURS.get(s, "#cccccc"), alpha=0.5) for s in seen]
    ax.legend(handles, ["attention score"] + [s.replace("_", " ") for s in seen], **_LEGEND)
    ax.set_title("Attention (band: state)", loc="left", fontsize=10)
    ax.set_xlim(0, max(float(x[-1] + dur[-1] / 1000.0), 1e-3))
    for a in axes:
        a.grid(True, color="0.92", lw=0.8)
    return _fig_png(fig)


def session_images(
    session: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]],
    *,
    stimulus_image: bytes | None = None,
    stimulus_size_px: tuple[float, float] | None = None,
    calibration_accuracy_px: float | None = None,
    fps_hint: float | None = None,
    method: FixationMethod = "idt",
    aois: Sequence[AOI | Mapping[str, Any]] | None = None,
) -> dict[str, bytes]:
    """PNG figures of one session for :func:`render_report_html`: ``timeline`` always; ``heatmap``,
    ``scanpath`` and ``trail`` when the samples hold screen points and the screen size is known (from
    the session's ``screen_w_px``/``screen_h_px``). With ``stimulus_image`` the gaze figures are drawn on
    it (its size is the stimulus size unless ``stimulus_size_px`` says otherwise). ``aois`` (stimulus px)
    are outlined on the heatmap and the scanpath.

    Raises as :func:`render_timeline_png` and :func:`gazescope.analytics.heatmap.render_heatmap_png`.
    """
    images = {"timeline": render_timeline_png(samples, fps_hint=fps_hint)}
    screen, geometry = _session_sizes(session)
    if not samples or screen is None:
        return images
    timed, _ = _timed_samples(samples, fps_hint)
    if not gaze_arrays(timed).valid.any():
        return images
    if stimulus_image is not None and stimulus_size_px is None:
        from gazescope.analytics.heatmap import decode_stimulus

        arr = decode_stimulus(stimulus_image)
        stimulus_size_px = (float(arr.shape[1]), float(arr.shape[0]))
    space = stimulus_size_px or screen
    ev = detect_events(timed, method=method, geometry=geometry)
    grid = session_heatmap(
        timed,
        screen_size_px=screen,
        stimulus_size_px=stimulus_size_px,
        calibration_accuracy_px=calibration_accuracy_px,
        geometry=geometry,
        fixations=list(ev.fixations),
    )
    title = f"Heatmap: {len(ev.fixations)} fixations, duration-weighted; σ = {grid.sigma_px:.0f} px"
    parsed = parse_aois(aois) if aois else None
    images["heatmap"] = render_heatmap_png(grid, stimulus_image=stimulus_image, title=title, aois=parsed)
    scale_from = screen if stimulus_size_px else None
    images["scanpath"] = render_scanpath_png(
        list(ev.fixations),
        size_px=space,
        stimulus_image=stimulus_image,
        screen_size_px=scale_from,
        aois=parsed,
    )
    images["trail"] = render_gaze_trail_png(
        timed, size_px=space, stimulus_image=stimulus_image, screen_size_px=scale_from
    )
    return images


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------

_CAPTIONS = {
    "timeline": "Eye aspect ratio, gaze ratios, head pose and attention over the session",
    "heatmap": "Where the gaze rested (fixation duration, Gaussian kernel from calibration accuracy)",
    "scanpath": "Scanpath: fixations in order, circle area proportional to duration",
    "trail": "Raw gaze trail, early to late",
}

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f5f6f8;color:#1d232b}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px} h2{font-size:1.2em;margin:28px 0 10px;border-bottom:2px solid #dde1e6;
padding-bottom:4px} .muted{color:#66707c;font-size:.9em}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:#fff;border-radius:8px;padding:10px 14px;box-shadow:0 1px 2px #0001}
.card .v{font-size:1.5em;font-weight:600} .card .k{color:#66707c;font-size:.85em}
table{border-collapse:collapse;background:#fff;width:100%;font-size:.9em;box-shadow:0 1px 2px #0001}
th,td{padding:5px 9px;border-bottom:1px solid #eceef1;text-align:right} th{background:#eef1f4}
td:first-child,th:first-child{text-align:left}
figure{margin:12px 0;background:#fff;padding:10px;border-radius:8px;box-shadow:0 1px 2px #0001}
figure img{max-width:100%;height:auto;display:block;margin:0 auto} figcaption{color:#66707c;font-size:.9em;
margin-top:6px} .bar{display:inline-block;height:10px;border-radius:3px;vertical-align:middle}
details{margin-top:10px}
"""


def _fmt(v: Any, unit: str = "", nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    if isinstance(v, float):
        return f"{v:,.{nd}f}{unit}"
    return html.escape(str(v)) + unit


def _cards(items: list[tuple[str, str]]) -> str:
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{v}</div><div class="k">{html.escape(k)}</div></div>'
            for k, v in items
        )
        + "</div>"
    )


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(name: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    cap = html.escape(_CAPTIONS.get(name, name.replace("_", " ").capitalize()))
    return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{b64}"><figcaption>{cap}</figcaption></figure>'


def _aoi_session_table(aois: list[dict[str, Any]]) -> str:
    rows = [
        [
            html.escape(str(a["name"])),
            _fmt(a.get("ttff_ms"), " ms", 0),
            _fmt(a.get("first_fixation_ms"), " ms", 0),
            _fmt(a.get("dwell_ms"), " ms", 0),
            _fmt(a.get("dwell_pct"), " %"),
            _fmt(a.get("sample_dwell_ms"), " ms", 0),
            _fmt(a.get("fixation_count")),
            _fmt(a.get("revisits")),
        ]
        for a in aois
    ]
    return _table(
        ["AOI", "time to first fixation", "first fixation", "dwell (fixations)", "dwell share",
         "dwell (samples)", "fixations", "revisits"],
        rows,
    )  # fmt: skip


def _aoi_aggregate_table(aois: list[dict[str, Any]]) -> str:
    rows = [
        [
            html.escape(str(a["name"])),
            f"{_fmt(a.get('viewers_pct'), ' %')} ({a.get('n_viewers')}/{a.get('n_sessions')})",
            _fmt(a.get("mean_ttff_ms"), " ms", 0),
            _fmt(a.get("mean_dwell_ms"), " ms", 0),
            _fmt(a.get("mean_dwell_viewers_ms"), " ms", 0),
            _fmt(a.get("mean_first_fixation_ms"), " ms", 0),
            _fmt(a.get("mean_fixation_count"), "", 2),
            _fmt(a.get("mean_revisits"), "", 2),
        ]
        for a in aois
    ]
    return _table(
        ["AOI", "viewers", "mean TTFF (viewers)", "mean dwell (all)", "mean dwell (viewers)",
         "mean first fixation", "mean fixations", "mean revisits"],
        rows,
    )  # fmt: skip


def _session_body(r: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    s = r.get("session", {})
    parts = [
        f"<h1>Session report {html.escape(str(s.get('label') or s.get('id') or ''))}</h1>",
        f'<div class="muted">session {html.escape(str(s.get("id", "–")))} · generated '
        f"{html.escape(str(r.get('generated_at', '')))}</div>",
        "<h2>Summary</h2>",
        _cards(
            [
                ("duration", _fmt(r.get("duration_s"), " s")),
                ("frames (with face)", f"{_fmt(r.get('frames'))} ({_fmt(r.get('frames_with_face'))})"),
                ("focused", _fmt(r.get("focus_pct"), " %")),
                ("mean attention (0–1)", _fmt(r.get("attention_mean"), "", 2)),
                ("eye contact", _fmt(r.get("eye_contact_pct"), " %")),
                ("blinks", f"{_fmt(r.get('blink_count'))} ({_fmt(r.get('blink_rate_per_min'))}/min)"),
                ("mean PERCLOS", _fmt(r.get("perclos_mean"), "", 3)),
                ("dropped frames", _fmt(r.get("dropped_frames"))),
                (
                    "ms/frame p50 / p95",
                    f"{_fmt(r.get('ms_per_frame_p50'))} / {_fmt(r.get('ms_per_frame_p95'))}",
                ),
            ]
        ),
    ]
    states = r.get("attention_state_s") or {}
    total = sum(v for v in states.values() if v) or 1.0
    rows = [
        [
            html.escape(k.replace("_", " ")),
            _fmt(v, " s"),
            f'{_fmt(100 * v / total, " %")} <span class="bar" style="width:{int(2 * 100 * v / total)}px;'
            f'background:{STATE_COLOURS.get(k, "#ccc")}"></span>',
        ]
        for k, v in states.items()
    ]
    parts += ["<h2>Attention states</h2>", _table(["state", "time", "share"], rows)]
    if "timeline" in images:
        parts += ["<h2>Timelines</h2>", _img("timeline", images["timeline"])]
    if r.get("has_gaze"):
        g = r.get("gaze", {})
        m = r.get("methods", {})
        parts += [
            "<h2>Gaze on screen</h2>",
            _cards(
                [
                    ("fixations", _fmt(r.get("fixation_count"))),
                    ("mean fixation", _fmt(r.get("mean_fixation_ms"), " ms", 0)),
                    ("time in fixations", _fmt(r.get("fixation_time_pct"), " %")),
                    ("saccades", _fmt(r.get("saccade_count"))),
                    ("mean saccade amplitude", _fmt(r.get("mean_saccade_amplitude_px"), " px", 0)),
                    ("samples with valid gaze", _fmt(g.get("valid_gaze_pct"), " %")),
                ]
            ),
            f'<p class="muted">Fixations by {html.escape(str(m.get("fixation_method", "")).upper())} '
            f"({html.escape(str(m.get('fixation_source', '')))}), threshold {_fmt(m.get('threshold_px'), '', 0)} "
            f"{html.escape(str(m.get('threshold_unit', '')))}"
            + (f" ({_fmt(m.get('threshold_deg'), '°', 2)})" if m.get("threshold_deg") else "")
            + f", minimum duration {_fmt(m.get('min_duration_ms'), ' ms', 0)}.</p>",
        ]
        for name in ("heatmap", "scanpath", "trail"):
            if name in images:
                parts.append(_img(name, images[name]))
        if r.get("aois"):
            parts += ["<h2>Areas of interest</h2>", _aoi_session_table(r["aois"])]
        fixes = r.get("fixations") or []
        if fixes:
            rows = [
                [str(i + 1), _fmt(f["start_ms"], "", 0), _fmt(f["duration_ms"], "", 0), _fmt(f["x_px"], "", 0),
                 _fmt(f["y_px"], "", 0), _fmt(f["n_samples"]), _fmt(f["dispersion_px"], "", 0)]
                for i, f in enumerate(fixes[:500])
            ]  # fmt: skip
            parts.append(
                f"<details><summary>Fixation list ({len(fixes)}{', first 500' if len(fixes) > 500 else ''})"
                "</summary>"
                + _table(
                    ["#", "start (ms)", "duration (ms)", "x (px)", "y (px)", "samples", "dispersion (px)"],
                    rows,
                )
                + "</details>"
            )
    else:
        parts.append(
            '<p class="muted">No calibrated screen gaze in this session: fixations, heatmaps and areas of '
            "interest need a calibration.</p>"
        )
    return parts


def _aggregate_body(r: Mapping[str, Any], images: Mapping[str, bytes]) -> list[str]:
    st = r.get("stimulus", {})
    parts = [
        f"<h1>Stimulus report {html.escape(str(st.get('name') or st.get('id') or ''))}</h1>",
        f'<div class="muted">{r.get("n_sessions", 0)} sessions · generated {html.escape(str(r.get("generated_at", "")))}</div>',
        "<h2>Summary</h2>",
        _cards(
            [
                ("sessions", _fmt(r.get("n_sessions"))),
                ("with screen gaze", _fmt(r.get("n_sessions_with_gaze"))),
                ("mean fixation", _fmt(r.get("mean_fixation_ms"), " ms", 0)),
                ("mean fixations / session", _fmt(r.get("mean_fixation_count"))),
                ("mean focused", _fmt(r.get("focus_pct_mean"), " %")),
                ("mean attention (0–1)", _fmt(r.get("attention_mean"), "", 2)),
            ]
        ),
    ]
    for name in ("heatmap", "scanpath", "trail", "timeline"):
        if name in images:
            parts.append(_img(name, images[name]))
    if r.get("aois"):
        parts += ["<h2>Areas of interest</h2>", _aoi_aggregate_table(r["aois"])]
    rows = [
        [html.escape(str(s.get("label") or s.get("id"))), _fmt(s.get("duration_s"), " s"), _fmt(s.get("focus_pct"), " %"),
         _fmt(s.get("attention_mean"), "", 2), _fmt(s.get("eye_contact_pct"), " %"),
         _fmt(s.get("blink_rate_per_min")), _fmt(s.get("fixation_count")), _fmt(s.get("mean_fixation_ms"), "", 0)]
        for s in r.get("sessions", [])
    ]  # fmt: skip
    parts += [
        "<h2>Sessions</h2>",
        _table(["session", "duration", "focused", "attention", "eye contact", "blinks/min", "fixations",
                "mean fixation (ms)"], rows),
    ]  # fmt: skip
    return parts


def render_report_html(report: Mapping[str, Any], images: Mapping[str, bytes] | None = None) -> str:
    """A self-contained HTML page (no external requests; PNGs inlined as ``data:`` URLs) for a report from
    :func:`build_session_report` or :func:`build_aggregate_report`.

    ``images``: name -> PNG bytes, e.g. from :func:`session_images`. Known names (``timeline``,
    ``heatmap``, ``scanpath``, ``trail``) go to their sections; any other name is appended under
    "More figures". Every text from the report is HTML-escaped. A report without gaze (no calibration)
    gets no fixation section. Raises :class:`gazescope.errors.ValidationError` for a dict that is not a
    report (no ``kind``).
    """
    images = dict(images or {})
    kind = report.get("kind")
    if kind == "session":
        parts = _session_body(report, images)
    elif kind == "aggregate":
        parts = _aggregate_body(report, images)
    else:
        raise ValidationError(
            "render_report_html needs a report from build_session_report/build_aggregate_report"
        )
    extra = [k for k in images if k not in _CAPTIONS]
    if extra:
        parts.append("<h2>More figures</h2>")
        parts += [_img(k, images[k]) for k in extra]
    title = "gazescope report"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>'
        f"<body><main>{''.join(parts)}"
        '<p class="muted" style="margin-top:30px">Made by gazescope. Fixations: Salvucci &amp; Goldberg 2000; '
        "AOI measures: Holmqvist et al. 2011; heatmap: Wooding 2002; PERCLOS: Wierwille et al. 1994.</p>"
        "</main></body></html>"
    )
