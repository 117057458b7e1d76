"""Pooling a new calibration with its user's earlier sittings from an engine context (seed 004's fit path;
the calibration WebSocket's controller calls the same :func:`gazescope.calibration.profiles.pool_with_history`
through its host).
"""

from __future__ import annotations

from typing import Any

from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.profiles import pool_with_history as _pool
from gazescope.engine.connection import EngineContext
from gazescope.storage.profiles import ProfileRepository


async def pool_with_history(
    ctx: EngineContext, fitted: FittedCalibration, mapper_params: dict[str, Any]
) -> tuple[FittedCalibration, dict[str, Any]]:
    """``fitted`` pooled with its user's earlier sittings on the same screen size, the user's newest profile
    read from ``ctx.store`` (:func:`gazescope.calibration.profiles.pool_with_history`, whose errors it
    logs and never raises)."""
    s = ctx.settings
    return await _pool(
        fitted,
        mapper_params,
        ProfileRepository(ctx.store).latest,
        io=ctx.io,
        cpu=ctx.cpu,
        event=ctx.logs.event,
        newest_weight=s.calibration_profile_newest_weight,
        max_sittings=s.calibration_profile_max_sittings,
    )
