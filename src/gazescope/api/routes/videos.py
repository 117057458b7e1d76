"""Analyses of video stimuli over every session that watched them (:mod:`gazescope.services.videos`).

* ``GET /api/stimuli/{id}/video/report`` (``?window_s=``, ``?sessions=a,b``, ``?method=``): fixations per
  time window and AOI figures inside each AOI's time range, per session and aggregated.
* ``GET /api/stimuli/{id}/video/overlay.mp4`` (``?mode=heatmap|points``, ``?window_s=``, ``?sessions=``):
  the video with the viewers' gaze drawn over it, rendered on request in the bounded video analytics pool
  (kept for the same inputs, least recently used deleted beyond ``GAZESCOPE_VIDEO_OVERLAY_CACHE_BYTES``).
* The heatmap of one moment is ``GET /api/stimuli/{id}/heatmap.png?t_s=&window_s=`` (and
  ``/api/sessions/{id}/heatmap.png?t_s=`` for one session), in :mod:`gazescope.api.routes.analytics`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from gazescope.api.deps import State, Videos
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut
from gazescope.api.security import require_token
from gazescope.api.state import AppState
from gazescope.domain import ResourceId
from gazescope.services.videos import (
    OVERLAY_WINDOW_RANGE_S,
    load_video,
    load_viewers,
    overlay_file,
    overlay_path,
    video_report,
)

router = APIRouter(
    route_class=GuardedRoute,
    prefix="/api/stimuli",
    tags=["video stimuli"],
    dependencies=[Depends(require_token)],
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
Sessions = Annotated[str | None, Query(description="Comma-separated session ids (default: every viewer).")]
Window = Annotated[float, Query(gt=0, le=3600, allow_inf_nan=False, description="Window width in seconds.")]
OverlayWindow = Annotated[
    float,
    Query(
        ge=OVERLAY_WINDOW_RANGE_S[0],
        le=OVERLAY_WINDOW_RANGE_S[1],
        allow_inf_nan=False,
        description="Window width in seconds, rounded to 0.1 s.",
    ),
]


def _ids(sessions: str | None) -> list[str] | None:
    ids = [s.strip() for s in (sessions or "").split(",") if s.strip()]
    return ids or None


async def _viewers(state: AppState, stimulus_id: str, sessions: str | None, method: str = "idt") -> Any:
    stim = await state.io(load_video, state.store, stimulus_id)
    viewers = await state.io(
        load_viewers,
        state.store,
        stim,
        _ids(sessions),
        profiles_dir=state.settings.profiles_dir,
        method=method,
    )
    return stim, viewers


@router.get("/{stimulus_id}/video/report")
async def get_video_report(
    state: State,
    stimulus_id: ResourceId,
    window_s: Window = 1.0,
    sessions: Sessions = None,
    method: Annotated[Literal["idt", "ivt"], Query()] = "idt",
) -> dict[str, Any]:
    """Fixations per time window and AOI figures (TTFF, dwell ... inside each AOI's time range) over the
    sessions that watched the video. 422 ``not_a_video`` for an image stimulus."""
    stim, viewers = await _viewers(state, stimulus_id, sessions, method)
    return await state.cpu(video_report, stim, viewers, window_s)


@router.get(
    "/{stimulus_id}/video/overlay.mp4",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}}}},
)
async def get_video_overlay(
    state: State,
    files: Videos,
    stimulus_id: ResourceId,
    mode: Annotated[Literal["heatmap", "points"], Query()] = "heatmap",
    window_s: OverlayWindow = 1.0,
    sessions: Sessions = None,
) -> FileResponse:
    """The video with the viewers' gaze heatmap (or gaze points) over every frame, as MP4 with the
    video's frame count, size and rate. ``window_s`` is rounded to 0.1 s. Rendered in the video analytics
    pool (:mod:`gazescope.api.analytics_pool`), one render per overlay at a time: the same request while
    it renders waits for it. 422 ``no_gaze`` when no viewer has calibrated gaze, 503 ``analytics_busy``
    when ``GAZESCOPE_ANALYTICS_THREADS + GAZESCOPE_ANALYTICS_MAX_QUEUED`` jobs are running or waiting."""
    stim, viewers = await _viewers(state, stimulus_id, sessions)
    s = state.settings
    out = overlay_path(files, stim, viewers, mode, window_s)
    if not out.is_file():  # cached ones are served without taking a place in the pool
        out = await state.analytics.run(
            f"overlay render of video {stimulus_id!r}", overlay_file, files, state.store, stim, viewers,
            key=str(out), mode=mode, window_s=window_s, max_frames=s.video_overlay_max_frames,
            cache_bytes=s.video_overlay_cache_bytes,
        )  # fmt: skip
    return FileResponse(out, media_type="video/mp4", filename=f"{stimulus_id}-{mode}-overlay.mp4")
