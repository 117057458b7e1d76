"""Reports of stored sessions: what a session report needs from the store (:func:`report_context`), one
session's report with its figures (:func:`session_report_and_images`, :func:`session_report_html`), and the
aggregate report of several sessions, per AOI % viewers, dwell and time to first fixation
(:func:`aggregate_report`, :func:`stimulus_report_html`). The reports themselves are
:mod:`gazescope.analytics.report`'s."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gazescope.analytics.aoi import AOI
from gazescope.analytics.events import FixationMethod
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.errors import NotFoundError, ValidationError
from gazescope.services.figures import aggregate_heatmap_png
from gazescope.services.sessions import SessionData, calibration_accuracy_px
from gazescope.services.stimuli import StimulusData, load_stimulus
from gazescope.storage import Store

_STIMULUS_KEYS = ("id", "name", "width_px", "height_px")


def report_context(store: Store, info: SessionInfo, *, profiles_dir: Any = None) -> dict[str, Any]:
    """Keyword arguments for :func:`gazescope.analytics.report.build_session_report` from what is stored
    about a session: ``aois`` and ``stimulus_size_px`` of its stimulus (when it has one with AOIs) and
    ``calibration_accuracy_px`` (:func:`~gazescope.services.sessions.calibration_accuracy_px`). A missing
    stimulus adds nothing."""
    out: dict[str, Any] = {}
    acc = calibration_accuracy_px(store, info, None, profiles_dir)
    if acc is not None:
        out["calibration_accuracy_px"] = acc
    if info.stimulus_id:
        try:
            stim = load_stimulus(store, info.stimulus_id, image=False)
        except (NotFoundError, ValidationError):
            return out
        if stim.aois:
            out["aois"] = list(stim.aois)
            out["stimulus_size_px"] = stim.size_px
    return out


@dataclass(frozen=True, slots=True)
class StimulusAOIs:
    """The current AOIs (stimulus px) of a session's stimulus and the stimulus size (width, height) px."""

    aois: tuple[AOI, ...]
    size_px: tuple[float, float]


def stimulus_aois(store: Store, info: SessionInfo) -> StimulusAOIs | None:
    """The current AOIs of the session's stimulus; None when the session has no stimulus or it is gone
    (its stored report is kept as it is then)."""
    if not info.stimulus_id:
        return None
    try:
        stim = load_stimulus(store, info.stimulus_id, image=False)
    except (NotFoundError, ValidationError):
        return None
    return StimulusAOIs(stim.aois, stim.size_px)


def with_current_aois(
    report: dict[str, Any], samples: Sequence[dict[str, Any]], current: StimulusAOIs | None
) -> dict[str, Any]:
    """A stored session report whose AOI table follows the stimulus' current AOIs
    (:func:`gazescope.analytics.report.refresh_report_aois`): AOIs added, changed or removed after the
    session ended are reflected. Unchanged without a stimulus (``current`` None) or screen gaze."""
    from gazescope.analytics.report import refresh_report_aois

    if current is None or not report.get("has_gaze"):
        return report
    size = current.size_px if current.aois else None
    return refresh_report_aois(report, samples, list(current.aois), stimulus_size_px=size)


def with_data_quality(report: dict[str, Any], settings: Settings | None = None) -> dict[str, Any]:
    """``report`` (a session report's JSON) with a ``data_quality`` card: its own, or for a report stored
    before reports carried one, the card of its stored figures
    (:func:`gazescope.analytics.quality.quality_of_report`)."""
    from gazescope.analytics.quality import quality_of_report

    if report.get("kind", "session") != "session" or isinstance(report.get("data_quality"), dict):
        return report
    thresholds = (settings or Settings()).data_quality
    return {**report, "data_quality": quality_of_report(report, thresholds).to_dict()}


def session_report_and_images(
    data: SessionData,
    stim: StimulusData | None,
    method: FixationMethod = "idt",
    *,
    rebuild: bool = False,
    settings: Settings | None = None,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """One session's report (the stored one unless ``rebuild`` or there is none: then built now) and its
    figures as PNG bytes by name (attention, timeline, heatmap, scanpath, trail; on the stimulus when the
    session has one). ``settings``: data-quality and activity thresholds (default: the defaults)."""
    from gazescope.analytics.report import build_session_report
    from gazescope.analytics.report_html import session_images

    aois = list(stim.aois) if stim is not None else None
    common: dict[str, Any] = {
        "calibration_accuracy_px": data.calibration_accuracy_px,
        "stimulus_size_px": stim.size_px if stim is not None else None,
        "fps_hint": (data.report or {}).get("fps"),
        "method": method,
        "aois": aois,
    }
    settings = settings or Settings()
    report = data.report
    if report is None or rebuild:
        report = build_session_report(
            data.info.to_dict(), data.samples, quality=settings.data_quality, activity=settings.activity,
            **common,
        ).to_dict()  # fmt: skip
    elif stim is not None:
        report = with_current_aois(report, data.samples, StimulusAOIs(stim.aois, stim.size_px))
    report = with_data_quality(report, settings)
    images = session_images(
        data.info.to_dict(),
        data.samples,
        stimulus_image=stim.image if stim is not None else None,
        activity=settings.activity,
        looking_away_deg=settings.looking_away_deg,
        **common,
    )
    return report, images


def session_report_html(
    data: SessionData,
    stim: StimulusData | None,
    method: FixationMethod = "idt",
    settings: Settings | None = None,
) -> str:
    """A self-contained HTML page of one session (see :func:`session_report_and_images`)."""
    from gazescope.analytics.report_html import render_report_html

    return render_report_html(*session_report_and_images(data, stim, method, settings=settings))


def aggregate_report(
    stim: StimulusData | None, sessions: Sequence[SessionData], method: FixationMethod = "idt"
) -> dict[str, Any]:
    """Aggregate report of several sessions (:func:`gazescope.analytics.report.build_aggregate_report`):
    % viewers, mean dwell, TTFF ... per AOI of ``stim`` (no AOIs without one), and per-session summaries.
    Without a stimulus the report is named ``"<n> sessions"``."""
    from gazescope.analytics.report import build_aggregate_report

    if stim is not None:
        doc = {k: stim.doc[k] for k in _STIMULUS_KEYS if k in stim.doc}
        aois = list(stim.aois)
    else:
        doc, aois = {"name": f"{len(sessions)} sessions"}, None
    return build_aggregate_report(
        doc, [(d.info.to_dict(), d.samples) for d in sessions], aois, method=method
    ).to_dict()


def stimulus_report_html(
    stim: StimulusData, sessions: Sequence[SessionData], method: FixationMethod = "idt"
) -> str:
    """The aggregate report of the sessions on ``stim`` as a self-contained HTML page, with their
    heatmap on the stimulus (left out when no session has gaze to draw: the page says so)."""
    from gazescope.analytics.report_html import render_report_html

    report = aggregate_report(stim, sessions, method)
    images = {}
    with contextlib.suppress(ValidationError):
        images["heatmap"], _ = aggregate_heatmap_png(
            sessions, stim=stim, overlay=True, method=method, what=f"stimulus {stim.id!r}"
        )
    return render_report_html(report, images)
