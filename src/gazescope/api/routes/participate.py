"""What a study's participant link allows, under ``/api/participate`` (docs/studies.md).

Every route takes the link token (``Authorization: Bearer gsl1_...`` or ``?token=``) and no API token:
the token names its study, and a route reaches nothing outside it. A participant's own routes also take the
participant secret returned when they joined (header ``X-Participant-Secret``).

* ``GET /api/participate``: the study as a participant sees it (consent, instructions, calibration gate,
  fields, stimuli with their content URLs); ``GET /api/participate/stimuli/{id}/image|video``: the content
  of the study's stimuli only (403 ``not_in_study`` for any other).
* ``POST /api/participate/participants`` (answers): 201 with ``participant_id`` and ``participant_secret``
  (kept by the browser to continue later); 410 ``study_closed``.
* ``GET /api/participate/participants/{pid}``: progress (the next stimulus); ``PUT .../answers``.
* ``POST .../sessions`` (``stimulus_id`` of the next stimulus, or null for a calibration session): 201 with
  the session and a session token (right ``track`` only) for its tracking WebSocket.
* ``POST .../calibration`` (``session_id``): the gate judged on the calibration the server measured (the
  newest ``calibration_result`` of that session, calibrated on its tracking WebSocket); the profile of a
  passing attempt is applied to the participant's stimulus sessions (their ``calibration_id``).
* ``POST .../sessions/{sid}/complete``: ends the session (its report is built) and moves on.

Refusals: 401 ``study_link_invalid`` (no, unknown or rotated token), 403 with a reason (not theirs, not in
the study, wrong secret), 409 out of order, 410 closed study.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from gazescope.api import logs, session_tokens
from gazescope.api.deps import State
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut, SessionOut
from gazescope.api.security import bearer_token
from gazescope.api.state import AppState
from gazescope.api.stimulus_videos import video_path
from gazescope.domain import ResourceId
from gazescope.errors import SessionNotFoundError
from gazescope.services import lifecycle, studies
from gazescope.services.stimuli import load_stimulus
from gazescope.services.videos import media_type

router = APIRouter(
    route_class=GuardedRoute,
    prefix="/api/participate",
    tags=["participate"],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        409: {"model": ErrorOut},
        410: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)


async def link_study(state: State, request: Request) -> dict[str, Any]:
    """The study of the request's link token (401 ``study_link_invalid`` without a current one)."""
    given = bearer_token(request.headers.get("authorization")) or request.query_params.get("token")
    return await state.io(studies.study_of_link, state.store, given)


LinkStudy = Annotated[dict[str, Any], Depends(link_study)]
Secret = Annotated[str | None, Header(alias="X-Participant-Secret", description="The participant's secret.")]


class JoinBody(BaseModel):
    """Body of ``POST /api/participate/participants``: answers to the study's fields (name -> text)."""

    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str | None] = Field(default_factory=dict, max_length=1000)


class Joined(BaseModel):
    """A new participant: keep ``participant_secret`` (shown once) to continue after a reload."""

    participant_id: str
    participant_secret: str
    progress: dict[str, Any]


class SessionBody(BaseModel):
    """Body of ``POST .../sessions``: the next stimulus (null: a calibration session) and the screen."""

    model_config = ConfigDict(extra="forbid")

    stimulus_id: ResourceId | None = None
    screen_w_px: int = Field(..., gt=0, le=100_000, description="Viewport width in CSS pixels.")
    screen_h_px: int = Field(..., gt=0, le=100_000, description="Viewport height in CSS pixels.")


class ParticipantSession(BaseModel):
    """A participant's session and the token of its tracking WebSocket (``track`` right only)."""

    session: SessionOut
    session_token: str
    expires_at_ms: int
    track_path: str
    stimulus: dict[str, Any] | None = None


class CalibrationBody(BaseModel):
    """Body of ``POST .../calibration``: the participant session the calibration ran on."""

    model_config = ConfigDict(extra="forbid")

    session_id: ResourceId


async def _participant(
    state: AppState, study: dict[str, Any], pid: str, secret: str | None
) -> dict[str, Any]:
    return await state.io(studies.participant_of, state.store, study, pid, secret)


@router.get("")
async def get_study(study: LinkStudy) -> dict[str, Any]:
    """The study as its participants see it (no other study, no participants, no results)."""
    return studies.participant_view(study)


@router.get(
    "/stimuli/{stimulus_id}/image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
async def get_stimulus_image(state: State, study: LinkStudy, stimulus_id: ResourceId) -> Response:
    """The image of one of the study's stimuli (a video's first frame); 403 for any other stimulus."""
    studies.study_stimulus(study, stimulus_id)
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=True)
    media = "image/png" if stim.doc.get("format") == "png" else "image/jpeg"
    return Response(stim.image, media_type=media, headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/stimuli/{stimulus_id}/video",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}, "video/webm": {}}}, 206: {"description": "A byte range"}},
)
async def get_stimulus_video(state: State, study: LinkStudy, stimulus_id: ResourceId) -> FileResponse:
    """The video of one of the study's stimuli, with range requests; 403 for any other stimulus."""
    studies.study_stimulus(study, stimulus_id)
    stim = await state.io(load_stimulus, state.store, stimulus_id, image=False)
    path = await video_path(state, stim.doc)
    return FileResponse(
        path, media_type=media_type(stim.doc), headers={"Cache-Control": "private, max-age=3600"}
    )


@router.post("/participants", status_code=status.HTTP_201_CREATED, response_model=Joined)
async def join(state: State, study: LinkStudy, body: JoinBody | None = None) -> Joined:
    """Join the study with answers to its fields; 410 ``study_closed`` once the researcher closed it."""
    answers = body.answers if body else {}
    record, secret = await state.io(
        studies.add_participant, state.store, study, answers, state.settings.studies
    )
    logs.event("study_participant_joined", study_id=study["id"], participant_id=record["id"])
    return Joined(
        participant_id=record["id"], participant_secret=secret, progress=studies.progress(study, record)
    )


@router.get("/participants/{participant_id}")
async def get_progress(
    state: State, study: LinkStudy, participant_id: ResourceId, secret: Secret = None
) -> dict[str, Any]:
    """Where the participant stands: the next stimulus, calibration attempts; to continue after a reload."""
    return studies.progress(study, await _participant(state, study, participant_id, secret))


@router.put("/participants/{participant_id}/answers")
async def put_answers(
    state: State, study: LinkStudy, participant_id: ResourceId, body: JoinBody, secret: Secret = None
) -> dict[str, Any]:
    """Replace the participant's answers (checked against the study's fields)."""
    record = await _participant(state, study, participant_id, secret)
    record = await state.io(
        studies.update_answers, state.store, study, record, body.answers, state.settings.studies
    )
    return studies.progress(study, record)


@router.post(
    "/participants/{participant_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantSession,
)
async def create_session(
    state: State, study: LinkStudy, participant_id: ResourceId, body: SessionBody, secret: Secret = None
) -> ParticipantSession:
    """A session for the participant's next stimulus (or a calibration session), with a token for its
    tracking WebSocket. The unfinished session of the next stimulus is reused (a participant coming back)."""
    record = await _participant(state, study, participant_id, secret)
    entry = studies.session_plan(study, record, body.stimulus_id)
    info = None
    existing = record["sessions"].get(body.stimulus_id) if body.stimulus_id else None
    if existing:
        try:
            info = await lifecycle.get_session(state, existing)
        except SessionNotFoundError:  # deleted by the researcher: a new one
            info = None
        if info is not None and info.status == "ended":
            info = None
    if info is None:
        info = await lifecycle.create_session(
            state,
            user_id=participant_id,
            label=f"study {study['id']}" + (" calibration" if body.stimulus_id is None else ""),
            stimulus_id=body.stimulus_id,
            calibration_id=studies.passed_profile(record) if body.stimulus_id else None,
            screen_w_px=body.screen_w_px,
            screen_h_px=body.screen_h_px,
        )
        await state.io(studies.record_session, state.store, study, record, info)
    ttl = state.settings.study_session_token_ttl_s
    token, exp = session_tokens.mint(state.settings, info.id, ("track",), ttl)
    return ParticipantSession(
        session=SessionOut.of(info),
        session_token=token,
        expires_at_ms=exp * 1000,
        track_path=f"/ws/sessions/{info.id}/track",
        stimulus=entry,
    )


@router.post("/participants/{participant_id}/calibration")
async def post_calibration(
    state: State, study: LinkStudy, participant_id: ResourceId, body: CalibrationBody, secret: Secret = None
) -> dict[str, Any]:
    """Judge the calibration the server measured on one of the participant's sessions against the study's
    gate (error in % of the screen width); records the attempt. 409 ``no_calibration`` before one was
    measured; 403 ``calibration_tries_exhausted``."""
    record = await _participant(state, study, participant_id, secret)
    studies.owned_session(record, body.session_id)
    info = await lifecycle.get_session(state, body.session_id)
    acc, profile_id = await state.io(studies.measured_calibration, state.store, body.session_id)
    return await state.io(
        studies.record_calibration,
        state.store,
        study,
        record,
        body.session_id,
        acc,
        info.screen_w_px,
        profile_id,
    )


@router.post("/participants/{participant_id}/sessions/{session_id}/complete")
async def complete_session(
    state: State, study: LinkStudy, participant_id: ResourceId, session_id: ResourceId, secret: Secret = None
) -> dict[str, Any]:
    """End one of the participant's sessions (its samples flushed, its report built) and, for a stimulus,
    mark it completed; returns the progress (the next stimulus)."""
    record = await _participant(state, study, participant_id, secret)
    stim = studies.owned_session(record, session_id)
    await lifecycle.end_session(state, session_id)
    if stim:
        record = await state.io(studies.mark_completed, state.store, study, record, session_id)
    return studies.progress(study, record)
