"""A study's results for the researcher, under ``/api/studies/{id}`` (API token; docs/studies.md).

* ``GET .../progress``: started, completed, excluded; per participant calibration error, effective FPS,
  face share, dropped frames, the data-quality card and the ``excluded`` flag.
* ``PATCH .../participants/{pid}`` ``{"excluded": true, "reason": "..."}``: leave a participant out of
  every aggregate and export (or take them back).
* ``GET .../stimuli/{sid}/heatmap.png[?group_by=field&group=answer][&t_s=12&window_s=2]``: the aggregate
  heatmap of the included participants (of one group) on the stimulus; with ``t_s`` (a video) the moment's
  window, on its frame.
* ``GET .../stimuli/{sid}/aois[?group_by=field]``: the AOI table (TTFF, dwell, revisits, % of viewers),
  one per group.
* ``GET .../export/aois.csv``, ``fixations.csv``, ``samples.csv`` (streamed), ``participants.csv`` and
  ``export.zip`` (all of them, ``study.json`` and a README of the columns):
  :mod:`gazescope.services.study_exports`.
"""

from __future__ import annotations

import functools
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from gazescope.api.deps import State, video_files
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut
from gazescope.api.security import require_token
from gazescope.api.state import AppState
from gazescope.domain import ResourceId
from gazescope.services import studies, study_exports, study_results, videos

router = APIRouter(
    route_class=GuardedRoute,
    prefix="/api/studies/{study_id}",
    tags=["studies"],
    dependencies=[Depends(require_token)],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)

GroupBy = Annotated[
    str | None, Query(max_length=128, description="A participant field: one result per answer.")
]
_PNG: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}}}


class Exclusion(BaseModel):
    """Body of ``PATCH /api/studies/{id}/participants/{pid}``."""

    model_config = ConfigDict(extra="forbid")

    excluded: bool
    reason: str | None = Field(None, max_length=1000)


@router.get("/progress")
async def get_progress(state: State, study_id: ResourceId) -> dict[str, Any]:
    """Counts and one data-quality row per participant (see :func:`study_results.study_progress`)."""
    return await state.analytics.run(
        "study progress", study_results.study_progress, state.store, state.settings, study_id
    )


@router.patch("/participants/{participant_id}")
async def set_excluded(
    state: State, study_id: ResourceId, participant_id: ResourceId, body: Exclusion
) -> dict[str, Any]:
    """Exclude a participant from the aggregates and exports (or include them again); returns their row."""
    record = await state.io(
        studies.set_excluded, state.store, study_id, participant_id, body.excluded, body.reason
    )
    state.logs.event(
        "study_participant_excluded", study_id=study_id, participant_id=participant_id, excluded=body.excluded
    )
    return await state.io(study_results.participant_quality, state.store, state.settings, record)


@router.get("/stimuli/{stimulus_id}/heatmap.png", response_class=Response, responses=_PNG)
async def get_heatmap(
    state: State,
    study_id: ResourceId,
    stimulus_id: ResourceId,
    group_by: GroupBy = None,
    group: Annotated[
        str | None, Query(max_length=2000, description="The answer of group_by to draw.")
    ] = None,
    t_s: Annotated[
        float | None,
        Query(ge=0, le=86_400, description="Video stimuli: the moment (s) to draw, on its frame."),
    ] = None,
    window_s: Annotated[float, Query(gt=0, le=600, description="Width of the moment's window (s).")] = 2.0,
) -> Response:
    """Aggregate heatmap on the stimulus over the included participants who completed it (of one group).
    Header ``X-Gazescope-Sessions``: sessions drawn. 422 ``no_gaze`` when nobody has gaze yet. With ``t_s``
    (a video): the window ``window_s`` around that moment, drawn on the frame at ``t_s`` (as
    ``/api/stimuli/{id}/heatmap.png?t_s=``, over these participants' sessions only)."""
    if t_s is not None:
        return await _moment(state, study_id, stimulus_id, group_by, group, t_s, window_s)
    fn = functools.partial(study_results.heatmap_png, group_by=group_by, group=group)
    png, n = await state.analytics.run(
        "study heatmap", fn, state.store, state.settings, study_id, stimulus_id
    )
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"study-{study_id}-{stimulus_id}-heatmap.png")
    return Response(
        png,
        media_type="image/png",
        headers={"Content-Disposition": f'inline; filename="{name}"', "X-Gazescope-Sessions": str(n)},
    )


async def _moment(
    state: AppState,
    study_id: str,
    stimulus_id: str,
    group_by: str | None,
    group: str | None,
    t_s: float,
    window_s: float,
) -> Response:
    """The time-windowed heatmap of a video stimulus over the study's included sessions on it."""
    ids = await state.analytics.run(
        "study moment sessions",
        functools.partial(study_results.group_session_ids, group_by=group_by, group=group),
        state.store,
        state.settings,
        study_id,
        stimulus_id,
    )
    stim = await state.io(videos.load_video, state.store, stimulus_id)
    viewers = await state.io(
        videos.load_viewers, state.store, stim, ids, profiles_dir=state.settings.profiles_dir
    )
    path = await state.io(video_files(state).ensure, state.store, stim.id, str(stim.doc["format"]))
    png = await state.analytics.run(
        "study moment heatmap", videos.moment_heatmap_png, stim, path, viewers, t_s, window_s
    )
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"study-{study_id}-{stimulus_id}-heatmap-{t_s:g}s.png")
    return Response(
        png,
        media_type="image/png",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "X-Gazescope-Sessions": str(len(viewers)),
        },
    )


@router.get("/stimuli/{stimulus_id}/aois")
async def get_aoi_table(
    state: State, study_id: ResourceId, stimulus_id: ResourceId, group_by: GroupBy = None
) -> dict[str, Any]:
    """AOI table over the included participants who completed the stimulus, one per group of ``group_by``."""
    fn = functools.partial(study_results.aoi_table, group_by=group_by)
    return await state.analytics.run(
        "study AOI table", fn, state.store, state.settings, study_id, stimulus_id
    )


_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


_ZIP: dict[int | str, dict[str, Any]] = {200: {"content": {"application/zip": {}}}}


def _attachment(study_id: str, name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="study-{study_id}-{name}"'}


async def _csv_export(state: AppState, study_id: str, name: str, build: Any) -> Response:
    """``build(store, settings, study_id)`` on the analytics pool, answered as the attachment ``name``."""
    text = await state.analytics.run(f"study {name}", build, state.store, state.settings, study_id)
    return Response(text, media_type="text/csv; charset=utf-8", headers=_attachment(study_id, name))


@router.get("/export/aois.csv", response_class=Response, responses=_CSV)
async def export_aois(state: State, study_id: ResourceId) -> Response:
    """One row per participant x completed stimulus x AOI: the AOI metrics and the participant's answers."""
    return await _csv_export(state, study_id, "aois.csv", study_exports.aois_csv)


@router.get("/export/fixations.csv", response_class=Response, responses=_CSV)
async def export_fixations(state: State, study_id: ResourceId) -> Response:
    """One row per fixation of every completed stimulus session, with the participant's answers."""
    return await _csv_export(state, study_id, "fixations.csv", study_exports.fixations_csv)


@router.get("/export/participants.csv", response_class=Response, responses=_CSV)
async def export_participants(state: State, study_id: ResourceId) -> Response:
    """One row per participant: data quality, exclusion and answers."""
    return await _csv_export(state, study_id, "participants.csv", study_exports.participants_csv)


@router.get("/export/samples.csv", response_class=StreamingResponse, responses=_CSV)
async def export_samples(state: State, study_id: ResourceId) -> StreamingResponse:
    """Every sample of every completed stimulus session with its participant and stimulus columns,
    streamed ``Settings.export_chunk_samples`` samples at a time."""
    await state.io(state.store.get_study, study_id)  # 404 before the stream starts
    chunks = study_exports.samples_csv_chunks(state.store, study_id, state.settings.export_chunk_samples)
    return StreamingResponse(
        chunks, media_type="text/csv; charset=utf-8", headers=_attachment(study_id, "samples.csv")
    )


@router.get("/export/export.zip", response_class=Response, responses=_ZIP)
async def export_zip(state: State, study_id: ResourceId) -> Response:
    """A zip of README.md (the columns), study.json, participants.csv, aois.csv, fixations.csv and samples.csv."""
    data = await state.analytics.run(
        "study export.zip", study_exports.export_zip, state.store, state.settings, study_id
    )
    return Response(data, media_type="application/zip", headers=_attachment(study_id, "export.zip"))
