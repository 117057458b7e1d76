"""Sessions REST API under ``/api/sessions``: create, list, get, end (report), report, samples, delete."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi.responses import StreamingResponse

from gazescope.api import session_tokens
from gazescope.api.deps import State
from gazescope.api.limits import MAX_QUERY_INT, GuardedRoute
from gazescope.api.models import ErrorOut, SamplesPage, SessionCreate, SessionOut, TokenCreate, TokenOut
from gazescope.api.security import require_token
from gazescope.api.state import AppState
from gazescope.domain import ResourceId, UserRef
from gazescope.services import exports, lifecycle
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
    # in the bounded analytics pool: a big session's report never stalls the event loop or tracking
    report = await state.analytics.run(
        "report", lifecycle.current_report_blocking, state.store, state.settings, info
    )
    return with_data_quality(report, state.settings)  # a card for reports stored before they had one


def _csv_response(state: AppState, session_id: str, start: int, end: int) -> StreamingResponse:
    chunks = exports.csv_chunks(state.store, session_id, start, end, state.settings.export_chunk_samples)
    return StreamingResponse(
        chunks,  # a plain iterator: Starlette reads each chunk in a worker thread
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{session_id}-samples.csv"',
            "X-Total-Count": str(end - start),
        },
    )


@router.get(
    "/{session_id}/samples.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def get_samples_csv(
    state: State,
    session_id: ResourceId,
    start: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_QUERY_INT)] = None,
) -> StreamingResponse:
    """Samples as CSV (columns ``gazescope.domain.SAMPLE_CSV_COLUMNS``): every sample stored when the
    request came (or ``limit`` from ``start``), streamed from the store ``Settings.export_chunk_samples``
    at a time, so memory stays bounded whatever the session's size. ``X-Total-Count``: the rows sent."""
    await lifecycle.get_session(state, session_id)
    _, end = await state.io(exports.sample_range, state.store, session_id, start, limit)
    return _csv_response(state, session_id, start, end)


@router.get(
    "/{session_id}/samples", response_model=SamplesPage, responses={200: {"content": {"text/csv": {}}}}
)
async def get_samples(
    state: State,
    session_id: ResourceId,
    response: Response,
    start: Annotated[int, Query(ge=0, le=MAX_QUERY_INT)] = 0,
    limit: Annotated[
        int | None,
        Query(ge=0, le=MAX_QUERY_INT, description="Page size (default and maximum: Settings)."),
    ] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> Any:
    """One page of stored samples from sample index ``start`` (JSON): at most ``limit`` samples
    (``Settings.samples_page_default`` when absent; above ``Settings.samples_page_max`` is 422). ``next``
    (also a ``Link: <...>; rel="next"`` header) is the ``start`` of the following page, None after the last;
    ``X-Total-Count`` the stored total. ``?format=csv`` streams the CSV export instead (no page bound)."""
    if format == "csv":
        return await get_samples_csv(state, session_id, start, limit)
    settings = state.settings
    if limit is None:
        limit = settings.samples_page_default
    elif limit > settings.samples_page_max:
        raise HTTPException(
            status_code=422,
            detail=f"limit {limit} is above the largest samples page, {settings.samples_page_max} "
            "(GAZESCOPE_SAMPLES_PAGE_MAX): follow `next`, or read samples.csv (streamed)",
        )
    info = await lifecycle.get_session(state, session_id)
    samples = await state.io(state.store.get_samples, session_id, start=start, limit=limit)
    total = max(info.sample_count, start + len(samples))
    nxt = start + len(samples) if samples and start + len(samples) < total else None
    response.headers["X-Total-Count"] = str(total)
    if nxt is not None:
        response.headers["Link"] = (
            f'</api/sessions/{session_id}/samples?start={nxt}&limit={limit}>; rel="next"'
        )
    return SamplesPage(session_id=session_id, start=start, total=total, samples=samples, next=nxt)


@router.post(
    "/{session_id}/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenOut,
    responses={403: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def create_token(state: State, session_id: ResourceId, body: TokenCreate | None = None) -> TokenOut:
    """Mint a short-lived session token (docs/tokens.md) a participant's browser may hold instead of the
    API token: it grants ``rights`` on this session only (``track``: its tracking WebSocket; ``live``: its
    live WebSocket; ``read``: ``GET`` of the session and its report) for ``ttl_s`` seconds. Needs the API
    token when one is set (a session token cannot mint). 404 when the session is unknown, 422 when
    ``ttl_s`` is above ``GAZESCOPE_SESSION_TOKEN_MAX_TTL_S``."""
    settings = state.settings
    ttl = body.ttl_s if body and body.ttl_s is not None else settings.session_token_default_ttl_s
    if ttl > settings.session_token_max_ttl_s:
        raise HTTPException(
            status_code=422,
            detail=f"ttl_s {ttl} is above GAZESCOPE_SESSION_TOKEN_MAX_TTL_S={settings.session_token_max_ttl_s}",
        )
    await lifecycle.get_session(state, session_id)
    rights = tuple(body.rights) if body and body.rights else session_tokens.DEFAULT_RIGHTS
    token, exp = session_tokens.mint(settings, session_id, rights, ttl)
    state.logs.event(
        "session_token_minted", session_id=session_id, rights=",".join(sorted(set(rights))), ttl_s=ttl
    )
    return TokenOut(token=token, session_id=session_id, rights=sorted(set(rights)), expires_at_ms=exp * 1000)


@router.delete("/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_session(state: State, session_id: ResourceId) -> Response:
    """Delete the session with its samples, report and linked documents (204); later requests 404."""
    await lifecycle.delete_session(state, session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
