"""A study's results for the researcher: progress with each participant's data quality, and per stimulus
the aggregate over included participants (heatmap, AOI table), optionally per group of a participant field.

Data quality reuses :func:`gazescope.analytics.quality.assess_data_quality` over a participant's stimulus
sessions (frames, frames with a face, duration and dropped frames summed from their reports) and their
best calibration attempt; aggregates reuse :func:`gazescope.services.figures.aggregate_heatmap_png` and
:func:`gazescope.services.reports.aggregate_report`. An excluded participant is left out of every
aggregate and export (but listed in the progress).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gazescope.analytics.events import FixationMethod
from gazescope.analytics.quality import assess_data_quality
from gazescope.config import Settings
from gazescope.errors import NotFoundError, SessionNotFoundError, ValidationError
from gazescope.services.figures import aggregate_heatmap_png
from gazescope.services.reports import aggregate_report
from gazescope.services.sessions import SessionData, load_session
from gazescope.services.stimuli import StimulusData, load_stimulus
from gazescope.storage import Store


@dataclass(frozen=True, eq=False)
class GroupSessions:
    """The sessions of one group of participants on one stimulus (``group`` None: everyone included)."""

    group: str | None
    participant_ids: tuple[str, ...]
    sessions: tuple[SessionData, ...]


def _num(report: Mapping[str, Any] | None, key: str) -> float:
    v = (report or {}).get(key)
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def _best_calibration(participant: Mapping[str, Any]) -> Mapping[str, Any] | None:
    tries = participant.get("calibrations") or []
    passed = [c for c in tries if c.get("passed")]
    return passed[-1] if passed else (tries[-1] if tries else None)


def participant_quality(store: Store, settings: Settings, participant: Mapping[str, Any]) -> dict[str, Any]:
    """One participant's row: calibration error (px and % of width), effective FPS, face share, dropped
    frames (summed over their stimulus sessions' stored reports; sessions still running are counted in
    ``sessions_running``), the data-quality card and the ``excluded`` flag."""
    frames = face = dropped = 0
    duration = 0.0
    running = 0
    screen_w: float | None = None
    for sid in participant["sessions"].values():
        try:
            info = store.get_session(sid)
        except SessionNotFoundError:
            continue
        screen_w = screen_w or info.screen_w_px
        report = store.get_report(sid)
        if report is None:
            running += 1
            continue
        frames += int(_num(report, "frames"))
        face += int(_num(report, "frames_with_face"))
        duration += _num(report, "duration_s")
        dropped += int(_num(report, "dropped_frames"))
    cal = _best_calibration(participant)
    error_px = float(cal["error_px"]) if cal else None
    if cal and error_px:
        screen_w = 100.0 * error_px / float(cal["error_pct"]) if cal.get("error_pct") else screen_w
    card = assess_data_quality(
        frames=frames,
        frames_with_face=face,
        duration_s=duration,
        dropped_frames=dropped,
        calibrated=cal is not None,
        calibration_error_px=error_px,
        screen_w_px=screen_w,
        thresholds=settings.data_quality,
    )
    return {
        "participant_id": participant["id"],
        "created_at_ms": participant["created_at_ms"],
        "answers": participant["answers"],
        "completed": len(participant["completed"]),
        "total": len(participant["order"]),
        "finished": participant.get("finished_at_ms") is not None,
        "excluded": bool(participant.get("excluded")),
        "exclusion_reason": participant.get("exclusion_reason"),
        "calibration_error_px": error_px,
        "calibration_error_pct": float(cal["error_pct"]) if cal else None,
        "calibration_passed": bool(cal and cal.get("passed")),
        "effective_fps": round(frames / duration, 2) if duration > 0 else None,
        "face_share": round(face / frames, 4) if frames else None,
        "frames": frames,
        "dropped_frames": dropped,
        "sessions_running": running,
        "quality": card.to_dict(),
    }


def study_progress(store: Store, settings: Settings, study_id: str) -> dict[str, Any]:
    """Counts (started, completed, excluded, in progress) and one :func:`participant_quality` row per
    participant, oldest first. ``NotFoundError`` for an unknown study."""
    study = store.get_study(study_id)
    rows = [participant_quality(store, settings, p) for p in store.list_participants(study_id)]
    return {
        "study_id": study_id,
        "status": study["status"],
        "target_participants": study.get("target_participants"),
        "started": len(rows),
        "completed": sum(r["finished"] for r in rows),
        "excluded": sum(r["excluded"] for r in rows),
        "completed_included": sum(r["finished"] and not r["excluded"] for r in rows),
        "in_progress": sum(not r["finished"] for r in rows),
        "participants": rows,
    }


def _field(study: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    for f in study.get("fields") or []:
        if f["name"] == name:
            return f
    names = ", ".join(f["name"] for f in study.get("fields") or []) or "none"
    raise ValidationError(
        f"group_by {name!r} is not a field of this study (its fields: {names})", code="unknown_field"
    )


def stimulus_groups(
    store: Store,
    settings: Settings,
    study_id: str,
    stimulus_id: str,
    *,
    group_by: str | None = None,
    image: bool = False,
) -> tuple[StimulusData, list[GroupSessions]]:
    """The stimulus and the completed sessions on it of the included participants: one group, or one per
    answer to field ``group_by`` (choices in their order, then other answers; no answer is group ``""``).

    Raises ``NotFoundError`` for an unknown study or a stimulus not in it (code ``not_in_study``),
    ``ValidationError`` for an unknown field."""
    study = store.get_study(study_id)
    if stimulus_id not in [s["stimulus_id"] for s in study["stimuli"]]:
        raise NotFoundError(
            f"stimulus {stimulus_id!r} is not part of study {study_id!r}", code="not_in_study"
        )
    field = _field(study, group_by) if group_by else None
    stim = load_stimulus(store, stimulus_id, image=image)
    groups: dict[str | None, list[tuple[str, SessionData]]] = {}
    if field is not None:
        for c in field.get("choices") or []:
            groups[c] = []
    for p in store.list_participants(study_id):
        sid = p["sessions"].get(stimulus_id)
        if p.get("excluded") or sid is None or stimulus_id not in p["completed"]:
            continue
        try:
            data = load_session(store, sid, profiles_dir=settings.profiles_dir)
        except SessionNotFoundError:
            continue
        key = (p["answers"].get(field["name"]) or "") if field is not None else None
        groups.setdefault(key, []).append((p["id"], data))
    out = [
        GroupSessions(key, tuple(pid for pid, _ in items), tuple(d for _, d in items))
        for key, items in groups.items()
    ]
    return stim, out or [GroupSessions(None, (), ())]


def aoi_table(
    store: Store,
    settings: Settings,
    study_id: str,
    stimulus_id: str,
    *,
    group_by: str | None = None,
    method: FixationMethod = "idt",
) -> dict[str, Any]:
    """The AOI table of a stimulus over the included participants (per group with ``group_by``): per AOI
    % of viewers, mean TTFF, mean dwell, mean revisits ... (:func:`aggregate_report`'s ``aois``), with the
    participants counted and their session ids (for the per-session figures and the time-windowed video
    heatmap of ``/api/stimuli/{id}/heatmap.png?sessions=...&t_s=...``). Errors as :func:`stimulus_groups`."""
    stim, groups = stimulus_groups(store, settings, study_id, stimulus_id, group_by=group_by)
    rows = []
    for g in groups:
        report = aggregate_report(stim, list(g.sessions), method) if g.sessions else None
        rows.append(
            {
                "group": g.group,
                "n_participants": len(g.participant_ids),
                "participant_ids": list(g.participant_ids),
                "session_ids": [d.info.id for d in g.sessions],
                "aois": report["aois"] if report else [],
                "sessions_without_gaze": report["sessions_without_gaze"] if report else None,
            }
        )
    return {"study_id": study_id, "stimulus_id": stimulus_id, "group_by": group_by, "groups": rows}


def heatmap_png(
    store: Store,
    settings: Settings,
    study_id: str,
    stimulus_id: str,
    *,
    group_by: str | None = None,
    group: str | None = None,
    method: FixationMethod = "idt",
) -> tuple[bytes, int]:
    """The aggregate heatmap (PNG, on the stimulus) of the included participants, or of group ``group`` of
    field ``group_by``; returns (PNG, sessions drawn). ``ValidationError`` (``no_gaze``) when nobody has
    gaze to draw, ``unknown_group`` for a group nobody answered; errors as :func:`stimulus_groups`."""
    if group is not None and not group_by:
        raise ValidationError("group needs group_by (the field whose answer it is)")
    stim, groups = stimulus_groups(store, settings, study_id, stimulus_id, group_by=group_by, image=True)
    if group_by:
        chosen = [g for g in groups if g.group == group]
        if not chosen:
            known = ", ".join(repr(g.group) for g in groups)
            raise ValidationError(
                f"no group {group!r} of {group_by!r} (groups: {known})", code="unknown_group"
            )
        sessions: Sequence[SessionData] = chosen[0].sessions
    else:
        sessions = groups[0].sessions
    if not sessions:
        raise ValidationError("no included participant has completed this stimulus yet", code="no_gaze")
    what = f"stimulus {stimulus_id!r} of study {study_id!r}"
    return aggregate_heatmap_png(list(sessions), stim=stim, overlay=True, method=method, what=what)


def group_session_ids(
    store: Store,
    settings: Settings,
    study_id: str,
    stimulus_id: str,
    *,
    group_by: str | None = None,
    group: str | None = None,
) -> list[str]:
    """The session ids :func:`heatmap_png` would draw (included participants who completed the stimulus,
    of group ``group`` of ``group_by``), for the time-windowed heatmap of a video. ``ValidationError``
    (``no_gaze``) when there are none; errors as :func:`heatmap_png`."""
    if group is not None and not group_by:
        raise ValidationError("group needs group_by (the field whose answer it is)")
    _, groups = stimulus_groups(store, settings, study_id, stimulus_id, group_by=group_by)
    chosen = [g for g in groups if g.group == group] if group_by else groups[:1]
    if group_by and not chosen:
        known = ", ".join(repr(g.group) for g in groups)
        raise ValidationError(f"no group {group!r} of {group_by!r} (groups: {known})", code="unknown_group")
    ids = [d.info.id for d in chosen[0].sessions]
    if not ids:
        raise ValidationError("no included participant has completed this stimulus yet", code="no_gaze")
    return ids
