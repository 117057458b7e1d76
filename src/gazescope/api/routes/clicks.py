"""``POST /api/sessions/{id}/clicks``: a click on the screen of a session being tracked refits its
calibration (:mod:`gazescope.api.ws.clicks`; same as the ``click`` WebSocket message).

Body ``{"x_px": float, "y_px": float}`` (screen px of the calibrated screen). The click takes the next
frame the session's tracking connection receives; the answer waits up to :data:`WAIT_S` for the refit:
200 with the result (``status`` ``refit`` with ``fit_id``, or ``ignored`` with ``reason``), or 202
``{"status": "pending"}`` when no usable frame came in time (the click still applies when one comes).
404 for an unknown session, 409 when no tracking connection serves it, 422 for bad
coordinates.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Response, status

from gazescope.api.deps import State
from gazescope.api.limits import GuardedRoute
from gazescope.api.models import ErrorOut
from gazescope.api.security import require_token
from gazescope.api.ws import clicks
from gazescope.domain import ResourceId
from gazescope.services import lifecycle

WAIT_S = 3.0

router = APIRouter(
    route_class=GuardedRoute,
    prefix="/api/sessions",
    tags=["calibration"],
    dependencies=[Depends(require_token)],
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
)


@router.post("/{session_id}/clicks")
async def post_click(
    state: State, session_id: ResourceId, response: Response, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """A click at (``x_px``, ``y_px``): refit the session's applied calibration (see the module docstring)."""
    x, y = clicks.click_point(body)
    await lifecycle.get_session(state, session_id)  # 404 when unknown
    conn = state.connections.get(session_id)
    if conn is None:
        raise HTTPException(status.HTTP_409_CONFLICT, "no tracking connection serves this session")
    fut = clicks.submit_click(conn, x, y)
    try:
        return await asyncio.wait_for(asyncio.shield(fut), WAIT_S)
    except TimeoutError:
        response.status_code = status.HTTP_202_ACCEPTED
        return {"status": "pending"}
