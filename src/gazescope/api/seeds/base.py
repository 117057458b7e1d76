"""What the seed adapters share: the wire-format base, the routers' dependencies, implicit sessions, time.

Each seed module (:mod:`~gazescope.api.seeds.seed000` ... ``seed003``) holds one seed's whole protocol:
its wire format (a :class:`~gazescope.api.wire.WireFormat` for its WebSocket) and its REST routes. They
translate the seed's messages to gazescope's tracking engine and services and back; no science lives here.
The protocol each one speaks, and how to point its client at gazescope, is in ``docs/seeds.md``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, WebSocket

from gazescope.api.deps import State
from gazescope.api.limits import GuardedRoute
from gazescope.api.security import require_token
from gazescope.api.wire import Inbound, NativeWire, ProtocolError, WireFormat
from gazescope.api.wire import (
    _loads_object as loads_object,
)  # the JSON object of a message, else ProtocolError
from gazescope.api.wire import _number as number  # a finite JSON number as float, else None

__all__ = [
    "CORS_OWN_PATHS",
    "Inbound",
    "NativeWire",
    "ProtocolError",
    "State",
    "WireFormat",
    "implicit_session",
    "iso_utc",
    "loads_object",
    "number",
    "routers",
]

#: Paths that answer CORS themselves (seed 003's ``/upload`` accepts any Origin, ``null`` included); the
#: app's CORS middleware leaves them alone.
CORS_OWN_PATHS: frozenset[str] = frozenset({"/upload"})


def routers(tag: str) -> tuple[APIRouter, APIRouter]:
    """``(open, protected)`` routers of one seed: ``protected`` needs the API token when one is set
    (REST); WebSockets check it themselves (``?token=``)."""
    return (
        APIRouter(route_class=GuardedRoute, tags=[tag]),
        APIRouter(route_class=GuardedRoute, tags=[tag], dependencies=[Depends(require_token)]),
    )


def implicit_session(ws: WebSocket, label: str) -> dict[str, Any]:
    """Fields of the session a connection without a session id gets: ``label``, ``user_id`` from
    ``?user_id=`` (at most 256 characters)."""
    user = ws.query_params.get("user_id")
    return {"label": label, "user_id": user[:256] if user else None}


def iso_utc(epoch_ms: float | None = None) -> str:
    """ISO 8601 UTC time of ``epoch_ms`` (default now), e.g. ``2026-11-26T20:41:07.123+00:00``."""
    t = time.time() if epoch_ms is None else epoch_ms / 1000.0
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
