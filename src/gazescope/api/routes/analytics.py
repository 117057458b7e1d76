"""Analytics over stored sessions: events, heatmaps, scanpaths, gaze trails, exports, HTML reports, client
gaze points (seed 003), and the same across the sessions of a stimulus or a user.

Routes (all behind the API token when one is set; errors ``{"detail": ..., "code": ...}``):

* ``GET /api/sessions/{id}/events``: fixations (I-DT default or I-VT, ``?method=``), saccades and blinks
  as JSON; ``?format=csv&kind=fixations|saccades|blinks`` as CSV (one kind per file).
* ``GET /api/sessions/{id}/heatmap.png`` (``?overlay=1`` on the session's stimulus, ``?transparent=1``
  RGBA for laying over a page, ``?source=fixations|samples``), ``/scanpath.png``, ``/trail.png``
  (``?overlay=1``), ``/export/pymovements.csv``, ``/report.html`` (self-contained page).
* ``POST /api/sessions/{id}/gaze``: client-side gaze points ``{"points": [{"t_ms", "x_px", "y_px"}, ...]}``
  (at most :data:`MAX_GAZE_POINTS` per request) stored as samples, so every analysis above works on them.
* ``GET /api/stimuli/{id}/heatmap.png`` (every session on the stimulus, or ``?sessions=a,b``; drawn on
  the stimulus unless ``?overlay=0`` or ``?transparent=1``), ``GET /api/stimuli/{id}/report`` (aggregate
  JSON: % viewers, dwell, TTFF per AOI) and ``/report.html``, ``GET /api/users/{user_id}/heatmap.png``
  (every session of a user; ``?stimulus_id=`` restricts to one stimulus).

Coordinate spaces follow :mod:`gazescope.analytics.aoi`: gaze is stored in screen (viewport) pixels; a
session's stimulus is taken to fill the viewport, so when the two sizes differ the gaze is scaled into
stimulus pixels (AOIs are in stimulus pixels). Aggregates draw every session in one space: the stimulus,
or for a user's sessions without a common stimulus the most common screen size (each session scaled to
it). Every viewer weighs the same in an aggregate heatmap (Wooding 2002, via
:func:`gazescope.analytics.heatmap.aggregate_heatmap`).

Heatmap kernel: sigma from the session's measured calibration accuracy (mean error in px) when one is
recorded, see :func:`calibration_accuracy_px`, else the analytics default (100 px webcam accuracy).

"No gaze to draw" (no calibrated screen points, or no fixation) is a
:class:`~gazescope.errors.ValidationError` with code ``no_gaze`` / ``no_fixations`` (HTTP 422) whose
message says why. The sync functions here (loading from a :class:`~gazescope.storage.Store`, rendering)
are also used by ``gazescope heatmap`` / ``gazescope report`` (:mod:`gazescope.cli_analytics`).
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from gazescope.analytics.aoi import AOI, parse_aois
from gazescope.analytics.events import (
    FixationMethod,
    detect_events,
    detect_fixations,
    gaze_arrays,
    scale_screen_points,
)
from gazescope.api import logs, service
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut
from gazescope.api.security import require_token
from gazescope.api.state import AppState, State
from gazescope.domain import SessionInfo
from gazescope.errors import GazescopeError, NotFoundError, ValidationError
from gazescope.storage import Store
from gazescope.storage.profiles import PROFILES as CALIBRATION_PROFILES
from gazescope.storage.profiles import RESULTS

STIMULI = "stimuli"
"""Document collection of stimulus metadata (id, name, width_px, height_px, format, bytes, created_at_ms)."""
STIMULUS_AOIS = "stimulus_aois"
"""Document collection of each stimulus' AOI list (document id = stimulus id)."""
CALIBRATIONS = RESULTS
"""Document collection of the calibration results linked to a session (``session_id``; ``kind``
``calibration``/``applied``/``drift``; ``accuracy.mean_error_px``), written by the calibration messages
(:data:`gazescope.storage.profiles.RESULTS`, defined there)."""
PROFILES = CALIBRATION_PROFILES
"""Document collection of calibration profiles (``accuracy.mean_error_px``), looked up by a session's
``calibration_id`` (:data:`gazescope.storage.profiles.PROFILES`, defined there)."""

MAX_GAZE_POINTS = 10_000
"""Most gaze points per ``POST /api/sessions/{id}/gaze`` (about 5 minutes at 30 Hz)."""
MAX_AGGREGATE_SESSIONS = 1000
"""Most sessions one aggregate heatmap or report reads (newest first)."""

Source = Literal["fixations", "samples"]


def stimulus_blob_key(stimulus_id: str) -> str:
    """Blob key of a stimulus image."""
    return f"stimuli/{stimulus_id}/image"


# --------------------------------------------------------------------------------------------------
# loading from a store (sync; the API runs these in its I/O threads, the CLI calls them directly)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StimulusData:
    """A stored stimulus: its document, encoded image bytes (None when not loaded) and AOIs."""

    doc: dict[str, Any]
    image: bytes | None
    aois: tuple[AOI, ...]

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    @property
    def size_px(self) -> tuple[float, float]:
        return float(self.doc["width_px"]), float(self.doc["height_px"])


@dataclass(frozen=True, eq=False)
class SessionData:
    """A stored session with its samples, stored report (None while running) and calibration accuracy
    (mean error in px, None when unknown)."""

    info: SessionInfo
    samples: list[dict[str, Any]]
    report: dict[str, Any] | None
    calibration_accuracy_px: float | None

    @property
    def screen_size_px(self) -> tuple[float, float] | None:
        w, h = self.info.screen_w_px, self.info.screen_h_px
        if not (w and h) and self.report:
            w, h = self.report.get("screen_w_px"), self.report.get("screen_h_px")
        return (float(w), float(h)) if w and h else None

    def has_gaze(self) -> bool:
        """True when at least one sample holds a valid screen point (calibrated gaze)."""
        return bool(self.samples) and bool(gaze_arrays(self.samples).valid.any())


def load_stimulus(store: Store, stimulus_id: str, *, image: bool = True) -> StimulusData:
    """The stimulus document, its image (when ``image``) and AOIs. ``NotFoundError`` when unknown."""
    try:
        doc = store.get_document(STIMULI, stimulus_id)
    except NotFoundError:
        raise NotFoundError(f"no stimulus {stimulus_id!r}", code="stimulus_not_found") from None
    data = store.get_blob(stimulus_blob_key(stimulus_id)) if image else None
    try:
        aois = tuple(parse_aois(store.get_document(STIMULUS_AOIS, stimulus_id).get("aois") or []))
    except NotFoundError:
        aois = ()
    return StimulusData(doc, data, aois)


def _positive(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) and v > 0 else None


def _accuracy_of(doc: Mapping[str, Any]) -> float | None:
    acc = doc.get("accuracy")
    if isinstance(acc, Mapping) and _positive(acc.get("mean_error_px")):
        return _positive(acc.get("mean_error_px"))
    return _positive(doc.get("mean_error_px")) or _positive(doc.get("calibration_accuracy_px"))


def calibration_accuracy_px(
    store: Store, info: SessionInfo, report: Mapping[str, Any] | None, profiles_dir: Any = None
) -> float | None:
    """The measured calibration accuracy (mean error, px) of a session, or None when none is recorded.

    Looked up in order: the stored report's ``calibration_accuracy_px``; the newest calibration or
    applied-profile document of the :data:`CALIBRATIONS` collection linked to the session
    (``session_id``), its ``accuracy.mean_error_px`` (the ``calibration_result`` of the wire protocol) or
    ``mean_error_px``; the profile named by the
    session's ``calibration_id`` in the :data:`PROFILES` collection, then in the profile folder
    ``profiles_dir`` (:class:`gazescope.storage.profiles.ProfileStore`, read only: a missing folder
    is not created).
    """
    if report and _positive(report.get("calibration_accuracy_px")):
        return _positive(report.get("calibration_accuracy_px"))
    docs = store.list_documents(CALIBRATIONS, session_id=info.id)
    docs.sort(key=lambda d: _positive(d.get("created_at_ms")) or 0.0, reverse=True)
    for d in docs:
        if d.get("kind", "calibration") not in ("calibration", "applied"):
            continue  # a drift check measures one point, not the mapping's accuracy
        if (acc := _accuracy_of(d)) is not None:
            return acc
    if not info.calibration_id:
        return None
    try:
        acc = _accuracy_of(store.get_document(PROFILES, info.calibration_id))
        if acc is not None:
            return acc
    except (NotFoundError, ValidationError):
        pass
    if profiles_dir is not None:
        from gazescope.storage.profiles import ProfileStore

        try:
            for p in ProfileStore(profiles_dir, create=False).list():  # reads only; makes no folder
                if p.profile_id == info.calibration_id:
                    return _positive(p.mean_error_px)
        except GazescopeError:
            return None
    return None


def load_session(store: Store, session_id: str, *, profiles_dir: Any = None) -> SessionData:
    """A session with all its samples, report and calibration accuracy. ``SessionNotFoundError`` when
    unknown."""
    info = store.get_session(session_id)
    samples = store.get_samples(session_id)
    report = store.get_report(session_id)
    return SessionData(info, samples, report, calibration_accuracy_px(store, info, report, profiles_dir))


def select_sessions(
    store: Store,
    *,
    stimulus_id: str | None = None,
    user_id: str | None = None,
    session_ids: Sequence[str] | None = None,
    limit: int = MAX_AGGREGATE_SESSIONS,
) -> list[SessionInfo]:
    """Sessions for an aggregate: the listed ``session_ids`` (each must exist, and be on ``stimulus_id``
    / of ``user_id`` when those are given: else ``ValidationError`` naming it), or every session matching
    the filters, newest first, at most ``limit``."""
    if session_ids:
        out = []
        for sid in dict.fromkeys(session_ids):
            info = store.get_session(sid)
            if stimulus_id is not None and info.stimulus_id != stimulus_id:
                raise ValidationError(
                    f"session {sid!r} is not on stimulus {stimulus_id!r} (its stimulus_id is "
                    f"{info.stimulus_id!r})",
                    code="session_not_on_stimulus",
                )
            if user_id is not None and info.user_id != user_id:
                raise ValidationError(f"session {sid!r} is not of user {user_id!r}")
            out.append(info)
        return out[:limit]
    out, offset = [], 0
    while len(out) < limit:
        page = store.list_sessions(
            stimulus_id=stimulus_id, user_id=user_id, limit=min(1000, limit - len(out)), offset=offset
        )
        out += page
        offset += len(page)
        if len(page) == 0:
            break
    return out


def report_context(store: Store, info: SessionInfo, *, profiles_dir: Any = None) -> dict[str, Any]:
    """Keyword arguments for :func:`gazescope.analytics.report.build_session_report` from what is stored
    about a session: ``aois`` and ``stimulus_size_px`` of its stimulus (when it has one with AOIs) and
    ``calibration_accuracy_px`` (:func:`calibration_accuracy_px`). A missing stimulus adds nothing."""
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


# --------------------------------------------------------------------------------------------------
# computing and rendering (sync, CPU)
# --------------------------------------------------------------------------------------------------


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def session_events(data: SessionData, method: FixationMethod = "idt") -> dict[str, Any]:
    """Fixations, saccades and blinks of a session (JSON-able): ``session_id``, ``method``,
    ``threshold_px`` (dispersion px for I-DT, velocity px/s for I-VT), ``min_duration_ms``,
    ``max_gap_ms``, ``fixations``, ``saccades``, ``blinks`` (with ``duration_ms``). Empty lists for a
    session without samples."""
    ev = detect_events(data.samples, method=method)
    return {
        "session_id": data.info.id,
        "method": ev.method,
        "threshold_px": ev.threshold_px,
        "threshold_deg": ev.threshold_deg,
        "min_duration_ms": ev.min_duration_ms,
        "max_gap_ms": ev.max_gap_ms,
        "fixations": [f.to_dict() for f in ev.fixations],
        "saccades": [{k: _clean(v) for k, v in s.to_dict().items()} for s in ev.saccades],
        "blinks": [
            {**{k: _clean(v) for k, v in asdict(b).items()}, "duration_ms": b.duration_ms} for b in ev.blinks
        ],
    }


def session_events_csv(data: SessionData, method: FixationMethod, kind: str) -> str:
    """CSV of one kind of event (``fixations``, ``saccades`` or ``blinks``) of a session; a header-only
    line when there are none."""
    from dataclasses import fields

    from gazescope.analytics.events import Fixation, Saccade
    from gazescope.analytics.export import events_to_csv
    from gazescope.domain import BlinkEvent

    ev = detect_events(data.samples, method=method)
    items, cls = {
        "fixations": (ev.fixations, Fixation),
        "saccades": (ev.saccades, Saccade),
        "blinks": (ev.blinks, BlinkEvent),
    }[kind]
    return events_to_csv(list(items)) or ",".join(f.name for f in fields(cls)) + "\n"


def _no_gaze(what: str) -> ValidationError:
    return ValidationError(
        f"{what} has no calibrated gaze samples (no valid screen points): calibrate before tracking, "
        "or post client-side gaze points to /api/sessions/{id}/gaze",
        code="no_gaze",
    )


def _session_space(
    data: SessionData, stim: StimulusData | None
) -> tuple[tuple[float, float], tuple[float, float] | None]:
    """(drawing space, screen size to scale from or None) of one session."""
    screen = data.screen_size_px
    if stim is not None:
        return stim.size_px, screen
    if screen is None:
        raise ValidationError(
            f"session {data.info.id!r} has no screen size (screen_w_px/screen_h_px) and no stimulus, "
            "so its gaze cannot be placed",
            code="no_screen_size",
        )
    return screen, None


def _on_white(png: bytes) -> bytes:
    """An RGBA PNG composited over white (an opaque picture)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out = io.BytesIO()
        Image.alpha_composite(bg, rgba).convert("RGB").save(out, format="PNG")
    return out.getvalue()


def _check_overlay(overlay: bool, transparent: bool, stim: StimulusData | None, what: str) -> None:
    if overlay and transparent:
        raise ValidationError("overlay=1 and transparent=1 exclude each other: choose one")
    if overlay and stim is None:
        raise ValidationError(f"{what} has no stimulus to draw on (overlay=1)", code="no_stimulus")


def session_figure_png(
    data: SessionData,
    stim: StimulusData | None,
    kind: Literal["heatmap", "scanpath", "trail"],
    *,
    overlay: bool = False,
    transparent: bool = False,
    source: Source = "fixations",
    method: FixationMethod = "idt",
    caption: bool = True,
) -> bytes:
    """One session's heatmap, scanpath or gaze trail as PNG bytes.

    Space: the session's stimulus when it has one (``stim``; gaze scaled from the screen size when the
    sizes differ), else its screen. ``overlay`` draws on the stimulus image (needs ``stim`` with its
    image); ``transparent`` (heatmap only) gives an RGBA PNG with nothing but the colour map; otherwise
    the heatmap is on white. AOIs of the stimulus are outlined. Heatmap sigma from the session's
    calibration accuracy. Raises ``ValidationError`` (``no_gaze``, ``no_fixations``, ``no_stimulus``,
    ``no_screen_size``) when there is nothing to draw or nowhere to draw it.
    """
    from gazescope.analytics.heatmap import render_gaze_trail_png, render_heatmap_png, render_scanpath_png
    from gazescope.analytics.heatmap import session_heatmap as _session_heatmap

    what = f"session {data.info.id!r}"
    _check_overlay(overlay, transparent, stim, what)
    if transparent and kind != "heatmap":
        raise ValidationError("transparent=1 is for heatmap.png only")
    if not data.has_gaze():
        raise _no_gaze(what)
    space, scale_from = _session_space(data, stim)
    screen = scale_from or space
    image = stim.image if (overlay and stim is not None) else None
    aois = list(stim.aois) if stim is not None else None
    if kind == "trail":
        return render_gaze_trail_png(
            data.samples, size_px=space, stimulus_image=image, screen_size_px=scale_from
        )
    fix = detect_fixations(data.samples, method=method)
    if kind == "scanpath":
        return render_scanpath_png(
            fix, size_px=space, stimulus_image=image, screen_size_px=scale_from, aois=aois
        )
    grid = _session_heatmap(
        data.samples,
        screen_size_px=screen,
        stimulus_size_px=space if stim is not None else None,
        source=source,
        calibration_accuracy_px=data.calibration_accuracy_px,
        fixations=fix,
        method=method,
    )
    if not grid.density.any():
        raise ValidationError(
            f"{what} has calibrated gaze but no fixation to draw; try ?source=samples", code="no_fixations"
        )
    title = None
    if caption and not transparent:
        title = _heatmap_title(source, grid.n_points, 1, grid.sigma_px, data.calibration_accuracy_px)
    png = render_heatmap_png(grid, stimulus_image=image, title=title, aois=aois if not transparent else None)
    return png if (image is not None or transparent) else _on_white(png)


def _heatmap_title(source: str, n_points: int, n_sessions: int, sigma: float, acc: float | None) -> str:
    what = "fixations, duration-weighted" if source == "fixations" else "gaze samples, time-weighted"
    acc_txt = f"accuracy {acc:.0f} px" if acc else "default accuracy"
    who = f"{n_sessions} session{'s' if n_sessions != 1 else ''}, " if n_sessions != 1 else ""
    return f"Heatmap: {who}{n_points} {what}; σ = {sigma:.0f} px ({acc_txt})"


def _scaled(data: SessionData, space: tuple[float, float], method: FixationMethod, source: Source):
    """(samples, fixations, sigma) of one session with gaze scaled from its screen into ``space``."""
    from gazescope.analytics.heatmap import heatmap_sigma_px

    screen = data.screen_size_px or space
    sx, sy = space[0] / screen[0], space[1] / screen[1]
    fix = detect_fixations(data.samples, method=method)
    samples = data.samples
    if (sx, sy) != (1.0, 1.0):
        fix = [replace(f, x_px=f.x_px * sx, y_px=f.y_px * sy) for f in fix]
        if source == "samples":
            samples = scale_screen_points(samples, sx, sy)
    sigma = heatmap_sigma_px(data.calibration_accuracy_px) * 0.5 * (sx + sy)
    return samples, fix, sigma


def aggregate_heatmap_png(
    sessions: Sequence[SessionData],
    *,
    space: tuple[float, float],
    stim: StimulusData | None = None,
    overlay: bool = False,
    transparent: bool = False,
    source: Source = "fixations",
    method: FixationMethod = "idt",
    caption: bool = True,
    what: str = "the selected sessions",
) -> tuple[bytes, int]:
    """Heatmap of several sessions in one ``space`` (width, height px) as (PNG bytes, sessions used).

    Each session's gaze is scaled from its screen size into ``space`` (the stimulus stretched over each
    viewer's screen); each viewer weighs the same (normalised maps, Wooding 2002); sigma is the mean of
    the sessions' accuracy-based sigmas. Sessions without calibrated gaze are left out. ``overlay``
    draws on ``stim``'s image; ``transparent`` gives an RGBA PNG; else on white. Raises
    ``ValidationError`` (``no_gaze``/``no_fixations``) when no session has anything to draw.
    """
    from gazescope.analytics.heatmap import aggregate_heatmap, render_heatmap_png

    _check_overlay(overlay, transparent, stim, what)
    used = [d for d in sessions if d.has_gaze()]
    if not used:
        raise _no_gaze(f"none of the {len(sessions)} session(s) of {what}; each")
    parts = [_scaled(d, space, method, source) for d in used]
    sigma = sum(p[2] for p in parts) / len(parts)
    grid = aggregate_heatmap(
        [p[0] for p in parts],
        screen_size_px=space,
        source=source,
        sigma_px=sigma,
        fixations=[p[1] for p in parts],
        method=method,
    )
    if not grid.density.any():
        raise ValidationError(
            f"{what}: calibrated gaze but no fixation to draw; try ?source=samples", code="no_fixations"
        )
    accs = [d.calibration_accuracy_px for d in used if d.calibration_accuracy_px]
    title = None
    if caption and not transparent:
        title = _heatmap_title(
            source, grid.n_points, grid.n_sessions, grid.sigma_px, sum(accs) / len(accs) if accs else None
        )
    image = stim.image if overlay and stim is not None else None
    aois = list(stim.aois) if stim is not None and not transparent else None
    png = render_heatmap_png(grid, stimulus_image=image, title=title, aois=aois)
    return (png if (image is not None or transparent) else _on_white(png)), grid.n_sessions


def common_screen(sessions: Sequence[SessionData]) -> tuple[float, float]:
    """The most common screen size of the sessions (ties: the larger), for drawing them together.
    ``ValidationError`` when no session records one."""
    sizes = Counter(d.screen_size_px for d in sessions if d.screen_size_px)
    if not sizes:
        raise ValidationError(
            "no session records a screen size (screen_w_px/screen_h_px), so gaze cannot be placed",
            code="no_screen_size",
        )
    return max(sizes, key=lambda s: (sizes[s], s[0] * s[1]))


def stimulus_report(
    stim: StimulusData, sessions: Sequence[SessionData], method: FixationMethod = "idt"
) -> dict[str, Any]:
    """Aggregate report of the sessions on a stimulus (:func:`gazescope.analytics.report.build_aggregate_report`):
    % viewers, mean dwell, TTFF... per AOI, and per-session summaries."""
    from gazescope.analytics.report import build_aggregate_report

    doc = {k: v for k, v in stim.doc.items() if k in ("id", "name", "width_px", "height_px")}
    return build_aggregate_report(
        doc, [(d.info.to_dict(), d.samples) for d in sessions], list(stim.aois), method=method
    )


def session_report_and_images(
    data: SessionData, stim: StimulusData | None, method: FixationMethod = "idt", *, rebuild: bool = False
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """One session's report (the stored one unless ``rebuild`` or there is none: then built now) and its
    timeline, heatmap, scanpath and trail figures (on the stimulus when the session has one)."""
    from gazescope.analytics.report import build_session_report, session_images

    aois = list(stim.aois) if stim is not None else None
    common: dict[str, Any] = {
        "calibration_accuracy_px": data.calibration_accuracy_px,
        "stimulus_size_px": stim.size_px if stim is not None else None,
        "fps_hint": (data.report or {}).get("fps"),
        "method": method,
        "aois": aois,
    }
    report = data.report
    if report is None or rebuild:
        report = build_session_report(data.info.to_dict(), data.samples, **common)
    images = session_images(
        data.info.to_dict(), data.samples, stimulus_image=stim.image if stim is not None else None, **common
    )
    return report, images


def session_report_html(data: SessionData, stim: StimulusData | None, method: FixationMethod = "idt") -> str:
    """A self-contained HTML page of one session (see :func:`session_report_and_images`)."""
    from gazescope.analytics.report import render_report_html

    return render_report_html(*session_report_and_images(data, stim, method))


# --------------------------------------------------------------------------------------------------
# routes
# --------------------------------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
    503: {"model": ErrorOut},
}
_PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}}}


router = APIRouter(
    route_class=GuardedRoute,
    tags=["analytics"],
    dependencies=[Depends(require_token)],
    responses=_ERRORS,
)
Method = Annotated[
    Literal["idt", "ivt"],
    Query(description="Fixation method: I-DT (dispersion) or I-VT (velocity), Salvucci & Goldberg 2000."),
]
Overlay = Annotated[bool, Query(description="Draw on the stimulus image.")]
Transparent = Annotated[bool, Query(description="RGBA PNG with only the colour map (to lay over a page).")]
SourceQ = Annotated[
    Source, Query(description="fixations (duration-weighted centroids) or samples (every valid point).")
]
Caption = Annotated[bool, Query(description="Write a caption (counts, kernel) at the top left.")]
VideoT = Annotated[
    float | None,
    Query(
        ge=0,
        allow_inf_nan=False,
        description="Video stimuli: the moment (s) whose heatmap is drawn on its frame.",
    ),
]
VideoWindow = Annotated[
    float,
    Query(gt=0, le=3600, allow_inf_nan=False, description="Video stimuli: window width (s) around t_s."),
]


def _png_response(png: bytes, filename: str, **headers: str) -> Response:
    filename = re.sub(r"[^A-Za-z0-9_.-]", "_", filename)[:200]
    return Response(
        png,
        media_type="image/png",
        headers={"Content-Disposition": f'inline; filename="{filename}"', **headers},
    )


async def _session_and_stimulus(
    state: AppState, session_id: str, *, need_image: bool = True
) -> tuple[SessionData, StimulusData | None]:
    data = await state.io(load_session, state.store, session_id, profiles_dir=state.settings.profiles_dir)
    stim = None
    if data.info.stimulus_id:
        try:
            stim = await state.io(load_stimulus, state.store, data.info.stimulus_id, image=need_image)
        except NotFoundError:
            logs.event("stimulus_missing", session_id=session_id, stimulus_id=data.info.stimulus_id)
    return data, stim


@router.get("/api/sessions/{session_id}/events", responses={200: {"content": {"text/csv": {}}}})
async def get_events(
    state: State,
    session_id: str,
    method: Method = "idt",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    kind: Annotated[
        Literal["fixations", "saccades", "blinks"], Query(description="Event kind of the CSV.")
    ] = "fixations",
) -> Any:
    """Fixations, saccades and blinks of the session's stored samples (JSON), or one kind as CSV
    (``?format=csv&kind=fixations|saccades|blinks``)."""
    data = await state.io(load_session, state.store, session_id, profiles_dir=state.settings.profiles_dir)
    if format == "csv":
        text = await state.cpu(session_events_csv, data, method, kind)
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{session_id}-{kind}.csv"'},
        )
    return await state.cpu(session_events, data, method)


async def _session_png(
    state: AppState, session_id: str, kind: Literal["heatmap", "scanpath", "trail"], **kw: Any
) -> Response:
    data, stim = await _session_and_stimulus(state, session_id, need_image=bool(kw.get("overlay")))
    png = await state.cpu(session_figure_png, data, stim, kind, **kw)
    return _png_response(png, f"{session_id}-{kind}.png")


@router.get("/api/sessions/{session_id}/heatmap.png", response_class=Response, responses=_PNG)
async def get_session_heatmap(
    state: State,
    session_id: str,
    overlay: Overlay = False,
    transparent: Transparent = False,
    source: SourceQ = "fixations",
    method: Method = "idt",
    caption: Caption = True,
    t_s: VideoT = None,
    window_s: VideoWindow = 2.0,
    stimulus_id: Annotated[
        str | None, Query(description="With t_s: the video (default the session's).")
    ] = None,
) -> Response:
    """Gaze heatmap of the session (Gaussian kernel from its calibration accuracy); on white, on the
    session's stimulus (``?overlay=1``) or transparent (``?transparent=1``). 422 ``no_gaze`` when the
    session has no calibrated gaze. With ``t_s``: the heatmap of that moment of a video stimulus drawn on
    its frame (:mod:`gazescope.api.video_analytics`)."""
    if t_s is not None:
        from gazescope.api.video_analytics import moment_png

        video = stimulus_id or (await service.get_session(state, session_id)).stimulus_id
        if not video:
            raise ValidationError(f"session {session_id!r} has no video stimulus: give ?stimulus_id=")
        png = await moment_png(
            state, video, [session_id], t_s, window_s, source=source, method=method, caption=caption
        )
        return _png_response(png, f"{session_id}-heatmap-{t_s:g}s.png")
    return await _session_png(
        state,
        session_id,
        "heatmap",
        overlay=overlay,
        transparent=transparent,
        source=source,
        method=method,
        caption=caption,
    )


@router.get("/api/sessions/{session_id}/scanpath.png", response_class=Response, responses=_PNG)
async def get_session_scanpath(
    state: State, session_id: str, overlay: Overlay = False, method: Method = "idt"
) -> Response:
    """Scanpath of the session: numbered fixations (area ~ duration) joined in order."""
    return await _session_png(state, session_id, "scanpath", overlay=overlay, method=method)


@router.get("/api/sessions/{session_id}/trail.png", response_class=Response, responses=_PNG)
async def get_session_trail(state: State, session_id: str, overlay: Overlay = False) -> Response:
    """Raw gaze trail of the session, early (purple) to late (yellow), broken at gaps."""
    return await _session_png(state, session_id, "trail", overlay=overlay)


@router.get(
    "/api/sessions/{session_id}/export/pymovements.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_pymovements_csv(state: State, session_id: str) -> Response:
    """Gaze CSV for pymovements (``time`` ms, ``x_px``, ``y_px``; empty where gaze is not valid)."""
    from gazescope.analytics.export import pymovements_csv

    await service.get_session(state, session_id)
    samples = await state.io(state.store.get_samples, session_id)
    text = await state.cpu(pymovements_csv, samples)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{session_id}-pymovements.csv"'},
    )


@router.get("/api/sessions/{session_id}/report.html", response_class=HTMLResponse)
async def get_session_report_html(state: State, session_id: str, method: Method = "idt") -> HTMLResponse:
    """The session report as a self-contained HTML page (figures inlined); provisional while running."""
    data, stim = await _session_and_stimulus(state, session_id)
    page = await state.cpu(session_report_html, data, stim, method)
    return HTMLResponse(page)


# --- client-side gaze (seed 003) -------------------------------------------------------------------


class GazePoint(BaseModel):
    """One client-side gaze point: ``t_ms`` (client clock, ms), ``x_px``/``y_px`` (viewport px, origin
    top-left; null for a moment without gaze, e.g. face lost)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    t_ms: float = Field(..., ge=0, description="Timestamp in ms (any monotonic client clock).")
    x_px: float | None = Field(..., ge=-100_000, le=100_000)
    y_px: float | None = Field(..., ge=-100_000, le=100_000)


class GazeBatch(BaseModel):
    """Body of ``POST /api/sessions/{id}/gaze``."""

    model_config = ConfigDict(extra="forbid")

    points: list[GazePoint] = Field(..., min_length=1, max_length=MAX_GAZE_POINTS)
    screen_w_px: int | None = Field(None, gt=0, le=100_000, description="Viewport width, when not set.")
    screen_h_px: int | None = Field(None, gt=0, le=100_000, description="Viewport height, when not set.")


class GazeAccepted(BaseModel):
    """Reply of ``POST /api/sessions/{id}/gaze``: points stored, of which on screen / without a point,
    and the session's total sample count."""

    session_id: str
    accepted: int
    on_screen: int
    without_point: int
    sample_count: int


@router.post("/api/sessions/{session_id}/gaze", response_model=GazeAccepted)
async def post_gaze(state: State, session_id: str, body: GazeBatch) -> GazeAccepted:
    """Store client-side gaze points as samples (``analytics.events.gaze_points_to_samples``) so the
    session's events, heatmaps and report use them. Points are sorted by ``t_ms``; a batch must not start
    before the last stored sample (409). The session needs ``screen_w_px``/``screen_h_px`` (set at
    creation or given here once; 422 when missing, 409 when they contradict the session's), must be
    running (409 when ended) and must not be tracked over its WebSocket at the same time (409).

    Each stored sample gets ``source: "client_gaze"`` and an ``attention_state`` read from its point
    (:func:`~gazescope.analytics.events.client_gaze_samples`), so the report's attention time shares and focus % mean something; eye
    contact, blinks, EAR and head pose are not measured by such clients and stay absent."""
    from gazescope.analytics.events import client_gaze_samples

    if (body.screen_w_px is None) != (body.screen_h_px is None):
        raise HTTPException(422, "give both screen_w_px and screen_h_px, or neither")
    lock = state.session_lock(session_id)
    try:
        async with lock:
            info = await service.get_session(state, session_id)
            if info.status == "ended":
                raise HTTPException(
                    409, f"session {session_id!r} has ended; gaze can only be added while it runs"
                )
            if session_id in await state.ownership.tracking([session_id]):
                raise HTTPException(
                    409,
                    f"session {session_id!r} is being tracked over its WebSocket; post gaze to another session",
                )
            w, h = info.screen_w_px, info.screen_h_px
            if body.screen_w_px is not None:
                if w and h and (w, h) != (body.screen_w_px, body.screen_h_px):
                    raise HTTPException(
                        409,
                        f"screen size {body.screen_w_px}x{body.screen_h_px} contradicts the session's {w}x{h}",
                    )
                if not (w and h):
                    w, h = body.screen_w_px, body.screen_h_px
                    await state.io(state.store.update_session, session_id, screen_w_px=w, screen_h_px=h)
            if not (w and h):
                raise HTTPException(
                    422,
                    "the session has no screen size: create it with screen_w_px and screen_h_px, or send them "
                    "with the points",
                )
            # frame indices continue the session's, after samples held since an outage (appends skip reused ones)
            cont = await state.backlog.continuation(session_id)
            samples = client_gaze_samples(
                [p.model_dump() for p in body.points],
                screen_w_px=w,
                screen_h_px=h,
                first_index=cont.next_frame_index,
            )
            if cont.last_sample:
                last_t = cont.last_sample.get("t_ms")
                if isinstance(last_t, int | float) and samples[0]["t_ms"] < last_t:
                    raise HTTPException(
                        409,
                        f"points go back in time: the first t_ms {samples[0]['t_ms']} is before the last "
                        f"stored sample's {last_t}",
                    )
            total = await state.io(state.store.append_samples, session_id, samples)
    finally:
        state.release_session_lock(session_id)
    on = sum(1 for s in samples if s["on_screen"])
    without = sum(1 for s in samples if s["screen_x_px"] is None)
    return GazeAccepted(
        session_id=session_id, accepted=len(samples), on_screen=on, without_point=without, sample_count=total
    )


# --- across sessions -------------------------------------------------------------------------------


def _session_list(value: str | None) -> list[str] | None:
    if value is None or not value.strip():
        return None
    ids = [s.strip() for s in value.split(",") if s.strip()]
    if len(ids) > MAX_AGGREGATE_SESSIONS:
        raise HTTPException(422, f"at most {MAX_AGGREGATE_SESSIONS} sessions, got {len(ids)}")
    return ids


SessionsQ = Annotated[
    str | None, Query(description="Comma-separated session ids (default: every session on the stimulus).")
]


async def _load_many(state: AppState, infos: Sequence[SessionInfo]) -> list[SessionData]:
    return [
        await state.io(load_session, state.store, i.id, profiles_dir=state.settings.profiles_dir)
        for i in infos
    ]


async def _stimulus_sessions(
    state: AppState, stimulus_id: str, sessions: str | None, *, image: bool
) -> tuple[StimulusData, list[SessionData]]:
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=image)
    infos = await state.io(
        select_sessions, state.store, stimulus_id=stimulus_id, session_ids=_session_list(sessions)
    )
    if not infos:
        raise HTTPException(
            422, f"no session is on stimulus {stimulus_id!r}: create sessions with stimulus_id set"
        )
    return stim, await _load_many(state, infos)


@router.get("/api/stimuli/{stimulus_id}/heatmap.png", response_class=Response, responses=_PNG)
async def get_stimulus_heatmap(
    state: State,
    stimulus_id: str,
    sessions: SessionsQ = None,
    overlay: Annotated[bool | None, Query(description="Draw on the stimulus (default: yes).")] = None,
    transparent: Transparent = False,
    source: SourceQ = "fixations",
    method: Method = "idt",
    caption: Caption = True,
    t_s: VideoT = None,
    window_s: VideoWindow = 2.0,
) -> Response:
    """Aggregate heatmap of every session on the stimulus (or ``?sessions=a,b``), each viewer weighing
    the same, drawn on the stimulus by default. Header ``X-Gazescope-Sessions``: sessions drawn. With
    ``t_s`` (video stimuli): the window ``window_s`` around that moment over every session that watched
    it, drawn on the frame at ``t_s``."""
    if t_s is not None:
        from gazescope.api.video_analytics import moment_png

        png = await moment_png(
            state, stimulus_id, _session_list(sessions), t_s, window_s, source=source, method=method,
            caption=caption,
        )  # fmt: skip
        return _png_response(png, f"stimulus-{stimulus_id}-heatmap-{t_s:g}s.png")
    if overlay is None:
        overlay = not transparent
    stim, datas = await _stimulus_sessions(state, stimulus_id, sessions, image=overlay)
    png, n = await state.cpu(
        aggregate_heatmap_png,
        datas,
        space=stim.size_px,
        stim=stim,
        overlay=overlay,
        transparent=transparent,
        source=source,
        method=method,
        caption=caption,
        what=f"stimulus {stimulus_id!r}",
    )
    return _png_response(png, f"stimulus-{stimulus_id}-heatmap.png", **{"X-Gazescope-Sessions": str(n)})


@router.get("/api/stimuli/{stimulus_id}/report")
async def get_stimulus_report(
    state: State, stimulus_id: str, sessions: SessionsQ = None, method: Method = "idt"
) -> dict[str, Any]:
    """Aggregate report of the sessions on the stimulus: per AOI % viewers, mean dwell, mean TTFF ...,
    and one summary row per session."""
    stim, datas = await _stimulus_sessions(state, stimulus_id, sessions, image=False)
    return await state.cpu(stimulus_report, stim, datas, method)


def _stimulus_report_html(stim: StimulusData, datas: list[SessionData], method: FixationMethod) -> str:
    from gazescope.analytics.report import render_report_html

    report = stimulus_report(stim, datas, method)
    images = {}
    with contextlib.suppress(ValidationError):  # no gaze: the report page says so without the figure
        images["heatmap"], _ = aggregate_heatmap_png(
            datas, space=stim.size_px, stim=stim, overlay=True, method=method, what=f"stimulus {stim.id!r}"
        )
    return render_report_html(report, images)


@router.get("/api/stimuli/{stimulus_id}/report.html", response_class=HTMLResponse)
async def get_stimulus_report_html(
    state: State, stimulus_id: str, sessions: SessionsQ = None, method: Method = "idt"
) -> HTMLResponse:
    """The aggregate report as a self-contained HTML page with the aggregate heatmap."""
    stim, datas = await _stimulus_sessions(state, stimulus_id, sessions, image=True)
    return HTMLResponse(await state.cpu(_stimulus_report_html, stim, datas, method))


@router.get("/api/users/{user_id}/heatmap.png", response_class=Response, responses=_PNG)
async def get_user_heatmap(
    state: State,
    user_id: str,
    stimulus_id: Annotated[str | None, Query(description="Only sessions on this stimulus.")] = None,
    overlay: Overlay = False,
    transparent: Transparent = False,
    source: SourceQ = "fixations",
    method: Method = "idt",
    caption: Caption = True,
) -> Response:
    """Heatmap of every session of a user (seed 003's dashboard of many users' heatmaps). Space: the
    stimulus given by ``?stimulus_id`` (or shared by all the user's sessions), else the most common
    screen size of the sessions. 404 when the user has no session."""
    if len(user_id) > 256:
        raise HTTPException(422, "user_id is at most 256 characters")
    infos = await state.io(select_sessions, state.store, user_id=user_id, stimulus_id=stimulus_id)
    if not infos:
        where = f" on stimulus {stimulus_id!r}" if stimulus_id else ""
        raise NotFoundError(f"user {user_id!r} has no sessions{where}", code="user_not_found")
    stims = {i.stimulus_id for i in infos}
    stim = None
    if len(stims) == 1 and None not in stims:
        try:
            stim = await state.io(load_stimulus, state.store, stims.pop(), image=overlay)
        except NotFoundError:
            if stimulus_id:
                raise
    datas = await _load_many(state, infos)
    space = stim.size_px if stim is not None else common_screen(datas)
    png, n = await state.cpu(
        aggregate_heatmap_png,
        datas,
        space=space,
        stim=stim,
        overlay=overlay,
        transparent=transparent,
        source=source,
        method=method,
        caption=caption,
        what=f"user {user_id!r}",
    )
    return _png_response(png, f"user-{user_id}-heatmap.png", **{"X-Gazescope-Sessions": str(n)})


__all__ = [
    "CALIBRATIONS",
    "MAX_GAZE_POINTS",
    "STIMULI",
    "STIMULUS_AOIS",
    "SessionData",
    "StimulusData",
    "aggregate_heatmap_png",
    "calibration_accuracy_px",
    "common_screen",
    "load_session",
    "load_stimulus",
    "report_context",
    "router",
    "select_sessions",
    "session_events",
    "session_figure_png",
    "session_report_html",
    "stimulus_report",
]
