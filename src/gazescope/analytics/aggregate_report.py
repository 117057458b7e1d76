"""The report over several sessions (viewers) of one stimulus (:func:`build_aggregate_report`): each
session's report (:mod:`gazescope.analytics.session_report`) summed up in rows, and the AOI figures across
viewers (:func:`gazescope.analytics.aoi.aggregate_aoi_metrics`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gazescope.analytics.aoi import AOI, aggregate_aoi_metrics, parse_aois
from gazescope.analytics.events import FixationMethod
from gazescope.analytics.report_values import (
    AggregateReport,
    AggregateSessionRow,
    SessionsLeftOut,
    utc_now_iso,
)
from gazescope.analytics.samples import as_number
from gazescope.analytics.session_report import build_session_report, session_sizes

__all__ = ["build_aggregate_report"]


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
    sw, sh = (
        as_number(stimulus.get("width_px"), strings=False),
        as_number(stimulus.get("height_px"), strings=False),
    )
    stim_size = (sw, sh) if sw > 0 and sh > 0 else None
    rows, per_session_aoi, all_fix = [], [], []
    for session, samples in sessions:
        screen, _ = session_sizes(session)
        report = build_session_report(
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
        generated_at=utc_now_iso(),
        sessions=tuple(rows),
        mean_fixation_ms=float(np.mean(all_fix)) if all_fix else None,
        mean_fixation_count=float(np.mean([r.fixation_count for r in rows])) if rows else None,
        focus_pct_mean=float(np.mean([r.focus_pct for r in rows])) if rows else None,
        attention_mean=float(np.mean(att)) if att else None,
        aois=tuple(aggregate_aoi_metrics(per_session_aoi, [a.name for a in parsed])) if parsed else (),
        sessions_without_gaze=SessionsLeftOut(tuple(r.id for r in rows if not r.has_gaze)),
    )
