"""Calibration REST API: target layouts and calibration profiles.

* ``GET /api/calibration/layouts``: grid layouts (normalised target and validation points), the smooth-pursuit
  parameters, registered mappers and the defaults.
* ``GET /api/profiles?user_id=&limit=``: profile summaries (no fitted mapper), newest first.
* ``GET /api/profiles/{id}``: one profile document, with the profile JSON under ``profile``.
* ``DELETE /api/profiles/{id}``: 204; 404 when unknown.
* ``POST /api/profiles``: store a profile JSON (``FittedCalibration.to_json()``, e.g. made offline), either
  bare or as a document from ``GET /api/profiles/{id}`` (``{"profile": {...}, ...}``); ``user_id`` in the
  body (or the query) overrides the profile's. A missing ``profile_id``/``created_at_ms`` is filled in; a
  ``profile_id`` must be a :data:`~gazescope.domain.ResourceId` and a ``user_id`` a
  :data:`~gazescope.domain.UserRef` (a string, no number turned into one), else 422 naming the field.
  201 with the summary; 409 when the id is taken; 422 when the profile cannot be read (wrong version,
  other features, unknown mapper, malformed, or unable to map a frame: a screen size outside 1..100000 px,
  an unfitted mapper, coefficients of the wrong shape or type), with code ``bad_profile`` and the reason.

Profiles live in the store (:class:`gazescope.storage.profiles.ProfileRepository`), so every server on one
Redis shares them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from gazescope.api.deps import Profiles, State
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut
from gazescope.api.security import require_token
from gazescope.calibration.catalogue import layouts_info
from gazescope.calibration.profile import FittedCalibration
from gazescope.domain import MAX_ID_CHARS, MAX_USER_REF_CHARS, ResourceId, UserRef
from gazescope.errors import CalibrationError, NotFoundError, ProfileNotFoundError, ValidationError
from gazescope.services import quotas
from gazescope.storage.profiles import ProfileDocument, check_profile_id

router = APIRouter(
    route_class=GuardedRoute,
    tags=["calibration"],
    dependencies=[Depends(require_token)],
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)


def _not_found(exc: ProfileNotFoundError) -> NotFoundError:
    return NotFoundError(exc.message, code=exc.code)


@router.get("/api/calibration/layouts")
async def get_layouts(state: State) -> dict[str, Any]:
    """Calibration layouts (``5``, ``9``, ``13``, ``16`` grids; ``pursuit``), mappers and defaults."""
    return layouts_info(state.settings).model_dump()


@router.get("/api/profiles")
async def list_profiles(
    state: State,
    profiles: Profiles,
    user_id: Annotated[UserRef | None, Query()] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Profile summaries (of one user with ``user_id``), newest first."""
    docs = await state.io(profiles.list, user_id)
    return [d.summary() for d in docs[:limit]]


@router.get("/api/profiles/{profile_id}")
async def get_profile(state: State, profiles: Profiles, profile_id: ResourceId) -> dict[str, Any]:
    """One stored profile document (summary fields plus ``profile``, the profile JSON)."""
    try:
        doc = await state.io(profiles.get, profile_id)
    except ProfileNotFoundError as exc:
        raise _not_found(exc) from None
    return doc.to_dict()


@router.delete("/api/profiles/{profile_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_profile(state: State, profiles: Profiles, profile_id: ResourceId) -> Response:
    """Delete a profile (204). Sessions that used it keep their recorded accuracy."""
    try:
        await state.io(profiles.delete, profile_id)
    except ProfileNotFoundError as exc:
        raise _not_found(exc) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_RESOURCE_ID: TypeAdapter[str] = TypeAdapter(ResourceId)
_USER_REF: TypeAdapter[str] = TypeAdapter(UserRef)


def _checked(adapter: TypeAdapter[str], value: Any, where: str) -> str:
    """``value`` validated by ``adapter``, else ``ValidationError`` naming ``where`` and the rule."""
    try:
        return adapter.validate_python(value)
    except PydanticValidationError as exc:
        rule = (
            f"1-{MAX_ID_CHARS} characters of letters, digits, '_', '.', '-'"
            if adapter is _RESOURCE_ID
            else f"1-{MAX_USER_REF_CHARS} characters without control characters"
        )
        got = f"a value of type {type(value).__name__}" if not isinstance(value, str) else f"{value[:64]!r}"
        reason = exc.errors()[0].get("msg", "invalid")
        raise ValidationError(f"{where} must be a string of {rule}; got {got} ({reason})") from None


def _parse_profile(body: dict[str, Any], user_id: str | None) -> FittedCalibration:
    wrapped = isinstance(body.get("profile"), dict)
    prof = dict(body["profile"] if wrapped else body)
    # the ids are checked before the profile is read: it would turn a number into a string
    if prof.get("profile_id") is not None:
        _checked(_RESOURCE_ID, prof["profile_id"], "profile_id")
    if prof.get("user_id") is not None:
        _checked(_USER_REF, prof["user_id"], "user_id")
    prof.setdefault("profile_id", uuid.uuid4().hex[:12])
    prof.setdefault("created_at_ms", round(time.time() * 1000.0, 3))
    try:
        cal = FittedCalibration.from_dict(prof)
    except CalibrationError as exc:
        raise _bad_profile(exc) from None
    uid = user_id
    if uid is None and wrapped and body.get("user_id") is not None:
        uid = _checked(_USER_REF, body["user_id"], "user_id")
    if uid is not None and uid != cal.user_id:
        cal = replace(cal, user_id=uid)
    check_profile_id(cal.profile_id)
    try:
        ProfileDocument.of(cal)  # its summary fields are of their types
    except CalibrationError as exc:
        raise _bad_profile(exc) from None
    return cal


def _bad_profile(exc: CalibrationError) -> ValidationError:
    return ValidationError(f"not a usable calibration profile: {exc.message}", code="bad_profile")


@router.post("/api/profiles", status_code=status.HTTP_201_CREATED)
async def create_profile(
    state: State,
    repo: Profiles,
    body: Annotated[dict[str, Any], Body(description="A profile JSON, bare or as a profile document.")],
    user_id: Annotated[UserRef | None, Query()] = None,
) -> dict[str, Any]:
    """Store a calibration profile; returns its summary (201)."""
    cal = await state.cpu(_parse_profile, body, user_id)

    def put() -> dict[str, Any]:
        quotas.check_new_profile(state.store, state.settings.quotas, ProfileDocument.of(cal).to_dict())
        if repo.exists(cal.profile_id):
            raise HTTPException(status.HTTP_409_CONFLICT, f"a profile {cal.profile_id!r} exists already")
        return repo.save(cal).summary()

    return await state.io(put)
