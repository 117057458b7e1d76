"""Sessions REST API under ``/api/sessions``: create, list, get, end (report), report, samples, delete."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import PlainTextResponse

from gazescope.analytics.export import samples_to_csv
from gazescope.api.limits import MAX_QUERY_INT, GuardedRoute
from gazescope.api.models import ErrorOut, SamplesPage, SessionCreate, SessionOut
from gazescope.api.security import require_token
from gazescope.api.state import AppState, State
from gazescope.domain import ResourceId, UserRef
from gazescope.services import lifecycle
from gazescope.services.reports import with_data_quality

router = APIRouter(
    route_class=GuardedRoute,
    prefix="/api/sessions",
    tags=["sessions"],
    dependencies=[Depends(require_token)],
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
)


def parse_time_ms(value: str | None, name: str) -> float | None:
    """A query time as epoch milliseconds: a number (epoch ms) or an ISO 8601 date-time (naive = UTC).
    Raises HTTP 422 naming the parameter otherwise."""
    if value is None or value == "":
        return None
    try:
        v = float(value)
        if math.isfinite(v):
            return v
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(
            status_code=422,
            detail=f"{name} must be epoch milliseconds or an ISO 8601 date-time, got {value[:64]!r}",
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp() * 1000.0


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionOut)
async def create_session(state: State, body: SessionCreate | None = None) -> SessionOut:
    """Start a session; all fields are optional. Returns it with its new ``id`` (201)."""
    fields = body.model_dump(exclude_none=True) if body else {}
    info = await lifecycle.create_session(state, **fields)
    return SessionOut.of(info)


@router.get("", response_model=list[SessionOut])
async def list_sessions(
    state: State,
    user_id: Annotated[UserRef | None, Query()] = None,
    stimulus_id: Annotated[ResourceId | None, Query()] = None,
    since: Annotated[str | None, Query(description="Created at or after: epoch ms or ISO 8601.")] = None,
    until: Annotated[str | None, Query(description="Created at or before: epoch ms or ISO 8601.")] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
) -> list[SessionOut]:
    """Sessions newest first, filtered by user, stimulus and creation time."""
    since_ms, until_ms = parse_time_ms(since, "since"), parse_time_ms(until, "until")
    infos = await state.io(
        state.store.list_sessions,
        user_id=user_id,
        stimulus_id=stimulus_id,
        since_ms=since_ms,
        until_ms=until_ms,
        limit=limit,
        offset=offset,
    )
    tracked = await state.ownership.tracking(i.id for i in infos)
    return [SessionOut.of(i, i.id in tracked) for i in infos]


@router.get("/{session_id}", response_model=SessionOut)
async def get_session(state: State, session_id: ResourceId) -> SessionOut:
    """One session (404 when unknown)."""
    info = await lifecycle.get_session(state, session_id)
    return SessionOut.of(info, session_id in await state.ownership.tracking([session_id]))


@router.post("/{session_id}/end")
async def end_session(state: State, session_id: ResourceId) -> dict[str, Any]:
    """End the session (its tracking WebSocket is closed after its samples are stored), build, store and
    return its report. Idempotent: ending an ended session returns the stored report."""
    return await lifecycle.end_session(state, session_id)


@router.get("/{session_id}/report")
async def get_report(state: State, session_id: ResourceId) -> dict[str, Any]:
    """The stored report of an ended session, its AOI figures following the stimulus' current AOIs
    (AOIs defined after the session have figures); for a running session a provisional report over the
    samples stored so far (``provisional: true``, not stored)."""
    info = await lifecycle.get_session(state, session_id)
    report = await lifecycle.current_report(state, info)
    return with_data_quality(report, state.settings)  # a card for reports stored before they had one


async def _samples(state: AppState, session_id: str, start: int, limit: int | None) -> tuple[int, list]:
    info = await lifecycle.get_session(state, session_id)
    samples = await state.io(state.store.get_samples, session_id, start=start, limit=limit)
    return info.sample_count, samples


@router.get(
    "/{session_id}/samples.csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_samples_csv(
    state: State,
    session_id: ResourceId,
    start: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_QUERY_INT)] = None,
) -> Response:
    """Samples as CSV (columns ``gazescope.domain.SAMPLE_CSV_COLUMNS``)."""
    _, samples = await _samples(state, session_id, start, limit)
    return Response(
        samples_to_csv(samples),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{session_id}-samples.csv"'},
    )


@router.get(
    "/{session_id}/samples", response_model=SamplesPage, responses={200: {"content": {"text/csv": {}}}}
)
async def get_samples(
    state: State,
    session_id: ResourceId,
    start: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_QUERY_INT)] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """Stored samples in order from sample index ``start`` (JSON), or CSV with ``?format=csv``."""
    if format == "csv":
        return await get_samples_csv(state, session_id, start, limit)
    total, samples = await _samples(state, session_id, start, limit)
    return SamplesPage(session_id=session_id, start=start, total=total, samples=samples)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(state: State, session_id: ResourceId) -> Response:
    """Delete the session with its samples, report and linked documents (204); later requests 404."""
    await lifecycle.delete_session(state, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
