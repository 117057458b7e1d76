"""Operations: liveness ``/healthz``, readiness ``/readyz`` (store reachable), Prometheus ``/metrics``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from gazescope.api.deps import State
from gazescope.api.limits import GuardedRoute
from gazescope.api.metrics import CONTENT_TYPE_LATEST

router = APIRouter(route_class=GuardedRoute, tags=["ops"])
READY_TIMEOUT_S = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers (no dependency is checked)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "the store is not reachable"}})
async def readyz(state: State) -> Any:
    """Readiness: 200 when the store answers a ping within 3 s, else 503."""
    try:
        ok = await asyncio.wait_for(state.io(state.store.ping), READY_TIMEOUT_S)
    except Exception:
        ok = False
    body = {"status": "ready" if ok else "unavailable", "store": state.settings.store_kind}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response)
async def metrics(state: State) -> Response:
    """Prometheus metrics (text exposition format)."""
    m = state.metrics
    m.active_sessions.set(len(state.connections))
    return Response(m.render(), media_type=CONTENT_TYPE_LATEST)
