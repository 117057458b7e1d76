"""Seed-compatible endpoints: the real clients of the systems gazescope replaces work unchanged.

One module per seed holds that seed's whole protocol (``docs/seeds.md`` says how to point each client at
gazescope): :mod:`.seed000` (sessions REST + ``/ws/session/{id}/track``), :mod:`.seed001` (``/``,
``/health``, ``/ws/gaze``), :mod:`.seed002` (``/ws``), :mod:`.seed003` (``POST /upload``), :mod:`.seed004`
(``/ws/test_dispatcher/``, ``/ws/dispatcher/``); they share
:mod:`.base`. :data:`ROUTERS` are included by the app factory.
"""

from __future__ import annotations

from fastapi import APIRouter

from gazescope.api.seeds import seed000, seed001, seed002, seed003, seed004
from gazescope.api.seeds.base import CORS_OWN_PATHS

ROUTERS: tuple[APIRouter, ...] = (
    seed000.protected,
    seed000.router,
    seed001.router,
    seed002.router,
    seed003.router,
    seed004.router,
)

__all__ = ["CORS_OWN_PATHS", "ROUTERS"]
