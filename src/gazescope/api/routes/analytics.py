"""Analytics routes over stored sessions: events, heatmaps, scanpaths, gaze trails, exports, HTML reports,
client gaze points (seed 003), and the same across the sessions of a stimulus or a user.

Routes (all behind the API token when one is set; errors ``{"detail": ..., "code": ...}``):

* ``GET /api/sessions/{id}/events``: fixations (I-DT default or I-VT, ``?method=``), saccades and blinks
  as JSON; ``?format=csv&kind=fixations|saccades|blinks`` as CSV (one kind per file).
* ``GET /api/sessions/{id}/heatmap.png`` (``?overlay=1`` on the session's stimulus, ``?transparent=1``
  RGBA for laying over a page, ``?source=fixations|samples``), ``/scanpath.png``, ``/trail.png``
  (``?overlay=1``), ``/export/pymovements.csv``, ``/report.html`` (self-contained page).
* ``POST /api/sessions/{id}/gaze``: client-side gaze points ``{"points": [{"t_ms", "x_px", "y_px"}, ...]}``
  (at most :data:`~gazescope.services.gaze_points.MAX_GAZE_POINTS` per request) stored as samples, so
  every analysis above works on them.
* ``GET /api/stimuli/{id}/heatmap.png`` (every session on the stimulus, or ``?sessions=a,b``; drawn on
  the stimulus unless ``?overlay=0`` or ``?transparent=1``), ``GET /api/stimuli/{id}/report`` (aggregate
  JSON: % viewers, dwell, TTFF per AOI) and ``/report.html``, ``GET /api/users/{user_id}/heatmap.png``
  (every session of a user; ``?stimulus_id=`` restricts to one stimulus).

The work is :mod:`gazescope.services` (loading: ``sessions``, ``stimuli``; computing and drawing:
``events``, ``figures``, ``reports``, ``gaze_points``, ``videos``): whatever loads a session's samples or
computes over them runs in the bounded analytics pool (``state.analytics``; 503 ``analytics_busy`` past its
queue), never on the event loop or in the tracking threads. "No gaze to draw" is a
:class:`~gazescope.errors.ValidationError` with code ``no_gaze`` / ``no_fixations`` (HTTP 422).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from gazescope.api import logs
from gazescope.api.deps import State, video_files
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut
from gazescope.api.security import require_token
from gazescope.api.state import AppState
from gazescope.domain import ResourceId, SessionInfo, UserRef
from gazescope.errors import NotFoundError, ValidationError
from gazescope.services import gaze_points, lifecycle, videos
from gazescope.services.events import session_events, session_events_csv
from gazescope.services.figures import Source, aggregate_heatmap_png, session_figure_png
from gazescope.services.gaze_points import MAX_GAZE_POINTS, GazeRejected
from gazescope.services.reports import aggregate_report, session_report_html, stimulus_report_html
from gazescope.services.sessions import (
    MAX_AGGREGATE_SESSIONS,
    SessionData,
    load_session,
    load_sessions,
    select_sessions,
)
from gazescope.services.stimuli import StimulusData, load_stimulus

T = TypeVar("T")

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


def _session_and_stimulus(
    state: AppState, session_id: str, *, need_image: bool = True
) -> tuple[SessionData, StimulusData | None]:
    """The session with its samples and its stimulus (blocking: run it in :func:`_pooled`)."""
    data = load_session(state.store, session_id, profiles_dir=state.settings.profiles_dir)
    stim = None
    if data.info.stimulus_id:
        try:
            stim = load_stimulus(state.store, data.info.stimulus_id, image=need_image)
        except NotFoundError:
            logs.event("stimulus_missing", session_id=session_id, stimulus_id=data.info.stimulus_id)
    return data, stim


def _session_job(
    state: AppState, session_id: str, need_image: bool, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    data, stim = _session_and_stimulus(state, session_id, need_image=need_image)
    return fn(data, stim, *args, **kwargs)


async def _pooled(
    state: AppState, what: str, session_id: str, need_image: bool, fn: Callable[..., T], *args: Any, **kw: Any
) -> T:
    """``fn(session_data, stimulus, *args, **kw)``, the session loaded with its samples, in the bounded
    analytics pool (:mod:`gazescope.api.analytics_pool`), off the event loop and the tracking threads: at
    most ``analytics_threads`` sessions are loaded at once; past ``analytics_max_queued`` jobs waiting,
    503 ``analytics_busy`` (issue 20, defect 4). 404 first when the session is unknown."""
    await lifecycle.get_session(state, session_id)
    return await state.analytics.run(what, _session_job, state, session_id, need_image, fn, *args, **kw)


def _events(data: SessionData, _stim: Any, method: Literal["idt", "ivt"], kind: str | None) -> Any:
    return session_events(data, method) if kind is None else session_events_csv(data, method, kind)  # type: ignore[arg-type]


async def _moment_png(
    state: AppState,
    stimulus_id: ResourceId,
    session_ids: Sequence[str] | None,
    t_s: float,
    window_s: float,
    *,
    source: Source,
    method: Literal["idt", "ivt"],
    caption: bool,
) -> bytes:
    """:func:`gazescope.services.videos.moment_heatmap_png` of a video stimulus over its viewers."""
    stim = await state.io(videos.load_video, state.store, stimulus_id)
    viewers = await state.io(
        videos.load_viewers, state.store, stim, session_ids, profiles_dir=state.settings.profiles_dir,
        method=method,
    )  # fmt: skip
    path = await state.io(video_files(state).ensure, state.store, stim.id, str(stim.doc["format"]))
    return await state.analytics.run(
        "moment heatmap", videos.moment_heatmap_png, stim, path, viewers, t_s, window_s, source, caption
    )


@router.get("/api/sessions/{session_id}/events", responses={200: {"content": {"text/csv": {}}}})
async def get_events(
    state: State,
    session_id: ResourceId,
    method: Method = "idt",
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    kind: Annotated[
        Literal["fixations", "saccades", "blinks"], Query(description="Event kind of the CSV.")
    ] = "fixations",
) -> Any:
    """Fixations, saccades and blinks of the session's stored samples (JSON), or one kind as CSV
    (``?format=csv&kind=fixations|saccades|blinks``)."""
    if format == "csv":
        text = await _pooled(state, "events", session_id, False, _events, method, kind)
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{session_id}-{kind}.csv"'},
        )
    return await _pooled(state, "events", session_id, False, _events, method, None)


async def _session_png(
    state: AppState, session_id: str, kind: Literal["heatmap", "scanpath", "trail"], **kw: Any
) -> Response:
    png = await _pooled(state, kind, session_id, bool(kw.get("overlay")), session_figure_png, kind, **kw)
    return _png_response(png, f"{session_id}-{kind}.png")


@router.get("/api/sessions/{session_id}/heatmap.png", response_class=Response, responses=_PNG)
async def get_session_heatmap(
    state: State,
    session_id: ResourceId,
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
    its frame (:func:`gazescope.services.videos.moment_heatmap_png`)."""
    if t_s is not None:
        video = stimulus_id or (await lifecycle.get_session(state, session_id)).stimulus_id
        if not video:
            raise ValidationError(f"session {session_id!r} has no video stimulus: give ?stimulus_id=")
        png = await _moment_png(
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
    state: State, session_id: ResourceId, overlay: Overlay = False, method: Method = "idt"
) -> Response:
    """Scanpath of the session: numbered fixations (area ~ duration) joined in order."""
    return await _session_png(state, session_id, "scanpath", overlay=overlay, method=method)


@router.get("/api/sessions/{session_id}/trail.png", response_class=Response, responses=_PNG)
async def get_session_trail(state: State, session_id: ResourceId, overlay: Overlay = False) -> Response:
    """Raw gaze trail of the session, early (purple) to late (yellow), broken at gaps."""
    return await _session_png(state, session_id, "trail", overlay=overlay)


@router.get(
    "/api/sessions/{session_id}/export/pymovements.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_pymovements_csv(state: State, session_id: ResourceId) -> Response:
    """Gaze CSV for pymovements (``time`` ms, ``x_px``, ``y_px``; empty where gaze is not valid)."""
    from gazescope.analytics.export import pymovements_csv

    text = await _pooled(
        state, "pymovements export", session_id, False, lambda d, _s: pymovements_csv(d.samples)
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{session_id}-pymovements.csv"'},
    )


@router.get("/api/sessions/{session_id}/report.html", response_class=HTMLResponse)
async def get_session_report_html(
    state: State, session_id: ResourceId, method: Method = "idt"
) -> HTMLResponse:
    """The session report as a self-contained HTML page (figures inlined); provisional while running."""
    page = await _pooled(state, "report.html", session_id, True, session_report_html, method, state.settings)
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
async def post_gaze(state: State, session_id: ResourceId, body: GazeBatch) -> GazeAccepted:
    """Store client-side gaze points as samples (``analytics.events.gaze_points_to_samples``) so the
    session's events, heatmaps and report use them. Points are sorted by ``t_ms``; a batch must not start
    before the last stored sample (409). The session needs ``screen_w_px``/``screen_h_px`` (set at
    creation or given here once; 422 when missing, 409 when they contradict the session's), must be
    running (409 when ended) and must not be tracked over its WebSocket at the same time (409).

    Each stored sample gets ``source: "client_gaze"`` and an ``attention_state`` read from its point
    (:mod:`gazescope.services.gaze_points`), so the report's attention time shares and focus % mean
    something; eye contact, blinks, EAR and head pose are not measured by such clients and stay absent."""
    if (body.screen_w_px is None) != (body.screen_h_px is None):
        raise HTTPException(422, "give both screen_w_px and screen_h_px, or neither")
    lock = state.session_lock(session_id)
    try:
        async with lock:
            info = await lifecycle.get_session(state, session_id)
            try:
                tracked = info.status != "ended" and session_id in await state.ownership.tracking(
                    [session_id]
                )
                gaze_points.check_gaze_target(info, tracked=tracked)
                screen = gaze_points.gaze_screen(info, body.screen_w_px, body.screen_h_px)
                if screen.new:
                    await state.io(
                        state.store.update_session,
                        session_id,
                        screen_w_px=screen.width_px,
                        screen_h_px=screen.height_px,
                    )
                # frame indices continue the session's, after samples held since an outage
                cont = await state.backlog.continuation(session_id)
                samples = gaze_points.gaze_samples([p.model_dump() for p in body.points], screen, cont)
            except GazeRejected as exc:
                raise HTTPException(409 if exc.conflict else 422, exc.message) from None
            cap = state.settings.max_samples_per_session
            if info.sample_count + len(samples) > cap:
                state.metrics.refused.labels(reason="samples_capped").inc(len(samples))
                logs.event("samples_capped", session_id=session_id, limit=cap, refused=len(samples))
                raise HTTPException(
                    409,
                    f"samples_capped: session {session_id!r} holds {info.sample_count} samples and may hold "
                    f"{cap} (GAZESCOPE_MAX_SAMPLES_PER_SESSION); nothing of this batch was stored",
                )
            total = await state.io(state.store.append_samples, session_id, samples)
    finally:
        state.release_session_lock(session_id)
    counts = gaze_points.gaze_counts(samples)
    return GazeAccepted(
        session_id=session_id,
        accepted=counts.accepted,
        on_screen=counts.on_screen,
        without_point=counts.without_point,
        sample_count=total,
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
    return await state.io(load_sessions, state.store, infos, profiles_dir=state.settings.profiles_dir)


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
    stimulus_id: ResourceId,
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
        png = await _moment_png(
            state, stimulus_id, _session_list(sessions), t_s, window_s, source=source, method=method,
            caption=caption,
        )  # fmt: skip
        return _png_response(png, f"stimulus-{stimulus_id}-heatmap-{t_s:g}s.png")
    if overlay is None:
        overlay = not transparent
    stim, datas = await _stimulus_sessions(state, stimulus_id, sessions, image=overlay)
    what = f"stimulus {stimulus_id!r}"
    png, n = await state.analytics.run(
        "aggregate heatmap",
        functools.partial(aggregate_heatmap_png, what=what),
        datas,
        stim=stim,
        overlay=overlay,
        transparent=transparent,
        source=source,
        method=method,
        caption=caption,
    )
    return _png_response(png, f"stimulus-{stimulus_id}-heatmap.png", **{"X-Gazescope-Sessions": str(n)})


@router.get("/api/stimuli/{stimulus_id}/report")
async def get_stimulus_report(
    state: State, stimulus_id: ResourceId, sessions: SessionsQ = None, method: Method = "idt"
) -> dict[str, Any]:
    """Aggregate report of the sessions on the stimulus: per AOI % viewers, mean dwell, mean TTFF ...,
    and one summary row per session."""
    stim, datas = await _stimulus_sessions(state, stimulus_id, sessions, image=False)
    return await state.analytics.run("aggregate report", aggregate_report, stim, datas, method)


@router.get("/api/stimuli/{stimulus_id}/report.html", response_class=HTMLResponse)
async def get_stimulus_report_html(
    state: State, stimulus_id: ResourceId, sessions: SessionsQ = None, method: Method = "idt"
) -> HTMLResponse:
    """The aggregate report as a self-contained HTML page with the aggregate heatmap."""
    stim, datas = await _stimulus_sessions(state, stimulus_id, sessions, image=True)
    return HTMLResponse(
        await state.analytics.run("aggregate report.html", stimulus_report_html, stim, datas, method)
    )


@router.get("/api/users/{user_id}/heatmap.png", response_class=Response, responses=_PNG)
async def get_user_heatmap(
    state: State,
    user_id: UserRef,
    stimulus_id: Annotated[ResourceId | None, Query(description="Only sessions on this stimulus.")] = None,
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
    what = f"user {user_id!r}"
    png, n = await state.analytics.run(
        "aggregate heatmap",
        functools.partial(aggregate_heatmap_png, what=what),
        datas,
        stim=stim,
        overlay=overlay,
        transparent=transparent,
        source=source,
        method=method,
        caption=caption,
    )
    return _png_response(png, f"user-{user_id}-heatmap.png", **{"X-Gazescope-Sessions": str(n)})
