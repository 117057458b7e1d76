"""Studies REST API for the researcher, under ``/api/studies`` (API token; docs/studies.md).

* ``POST /api/studies`` (:class:`~gazescope.services.studies.StudySpec`): 201 with the study and its
  participant ``link`` (``token``, shown only now, and the app ``path`` ``/study/{token}``). 422 naming the
  bad value: an unknown stimulus id (code ``unknown_stimulus``), text or lists over the ``GAZESCOPE_STUDY_*``
  bounds, a video given a duration ...
* ``GET /api/studies`` (newest first), ``GET /api/studies/{id}``, ``PATCH /api/studies/{id}``
  (:class:`~gazescope.services.studies.StudyUpdate`), ``DELETE /api/studies/{id}`` (the study and its
  participant records; the sessions stay).
* ``POST /api/studies/{id}/close`` and ``/open``: a closed study's link refuses new participants (410).
* ``POST /api/studies/{id}/link``: a new link token; the old one is refused from then on (401).
* Progress, exclusion, figures and exports: :mod:`gazescope.api.routes.study_results`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel

from gazescope.api import logs
from gazescope.api.deps import State
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut
from gazescope.api.security import require_token
from gazescope.domain import ResourceId
from gazescope.services import studies
from gazescope.services.studies import StudySpec, StudyUpdate

router = APIRouter(
    route_class=GuardedRoute,
    prefix="/api/studies",
    tags=["studies"],
    dependencies=[Depends(require_token)],
    responses={
        401: {"model": ErrorOut},
        403: {"model": ErrorOut},
        404: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
)


class StudyLink(BaseModel):
    """A participant link: the bearer ``token`` (shown once), the app ``path`` and, when the request's
    base URL is known, the full ``url``."""

    token: str
    path: str
    url: str


class StudyOut(BaseModel):
    """A study as stored (without its token hash); ``link`` only in the replies of create and rotate."""

    id: str
    name: str
    status: str
    created_at_ms: float
    updated_at_ms: float
    closed_at_ms: float | None = None
    token_created_at_ms: float
    consent_text: str
    instructions: str
    calibration: dict[str, Any]
    stimuli: list[dict[str, Any]]
    randomize: bool
    fields: list[dict[str, Any]]
    target_participants: int | None = None
    link: StudyLink | None = None

    @classmethod
    def of(cls, record: dict[str, Any], link: StudyLink | None = None) -> StudyOut:
        return cls(**{k: v for k, v in record.items() if k in cls.model_fields and k != "link"}, link=link)


def link_of(request: Request, token: str) -> StudyLink:
    """The link of ``token``: ``/study/{token}`` on the base URL this request came to."""
    path = f"/study/{token}"
    return StudyLink(token=token, path=path, url=str(request.base_url).rstrip("/") + path)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=StudyOut)
async def create_study(state: State, request: Request, body: StudySpec) -> StudyOut:
    """Create an open study from existing image/video stimuli; the reply carries its participant link."""
    record, token = await state.io(studies.create_study, state.store, body, state.settings.studies)
    logs.event("study_created", study_id=record["id"], stimuli=len(record["stimuli"]))
    return StudyOut.of(record, link_of(request, token))


@router.get("", response_model=list[StudyOut])
async def list_studies(state: State) -> list[StudyOut]:
    """Every study, newest first."""
    return [StudyOut.of(r) for r in await state.io(state.store.list_studies)]


@router.get("/{study_id}", response_model=StudyOut)
async def get_study(state: State, study_id: ResourceId) -> StudyOut:
    """One study (404 ``study_not_found``)."""
    return StudyOut.of(await state.io(state.store.get_study, study_id))


@router.patch("/{study_id}", response_model=StudyOut)
async def update_study(state: State, study_id: ResourceId, body: StudyUpdate) -> StudyOut:
    """Change the given fields (checked as at creation); participants who started keep their order."""
    record = await state.io(studies.update_study, state.store, study_id, body, state.settings.studies)
    return StudyOut.of(record)


@router.post("/{study_id}/close", response_model=StudyOut)
async def close_study(state: State, study_id: ResourceId) -> StudyOut:
    """Close the study: its link refuses new participants and new sessions (410 ``study_closed``)."""
    record = await state.io(studies.set_status, state.store, study_id, "closed")
    logs.event("study_closed", study_id=study_id)
    return StudyOut.of(record)


@router.post("/{study_id}/open", response_model=StudyOut)
async def reopen_study(state: State, study_id: ResourceId) -> StudyOut:
    """Open a closed study again."""
    return StudyOut.of(await state.io(studies.set_status, state.store, study_id, "open"))


@router.post("/{study_id}/link", response_model=StudyOut)
async def rotate_link(state: State, request: Request, study_id: ResourceId) -> StudyOut:
    """A new participant link; the old token is refused (401) from now on. Participants who started keep
    their participant id and secret but need the new link to go on."""
    record, token = await state.io(studies.rotate_link, state.store, study_id, state.settings.studies)
    logs.event("study_link_rotated", study_id=study_id)
    return StudyOut.of(record, link_of(request, token))


@router.delete("/{study_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_study(state: State, study_id: ResourceId) -> Response:
    """Delete the study and its participant records (204); their sessions stay (delete them through
    ``/api/sessions``)."""
    await state.io(state.store.delete_study, study_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
