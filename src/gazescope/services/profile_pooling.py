"""Pooling a new calibration with its user's earlier sittings, for every fit path (the calibration
WebSocket's controller does the same in ``calibration/protocol.py``; seed 004 uses this one).

The pooled fit itself is :func:`gazescope.calibration.history.pooled_calibration`; this use case reads the
user's newest profile on the same screen size from the store (``ctx.io``) and refits in the CPU pool
(``ctx.cpu``), bounded by ``Settings.calibration_profile_newest_weight`` and
``calibration_profile_max_sittings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from gazescope.calibration.history import pooled_calibration
from gazescope.calibration.profile import FittedCalibration
from gazescope.engine.context import EngineContext
from gazescope.errors import GazescopeError, NotEnoughDataError, ProfileNotFoundError
from gazescope.storage.profiles import ProfileRepository


@dataclass(frozen=True)
class PooledProfile:
    """``calibration``: the fit, pooled when it could be; ``extra``: the accuracy fields pooling added
    (``n_sittings``, ``alone_loo_px``, ``pooled_loo_px`` in px), empty when it was left as it was."""

    calibration: FittedCalibration
    extra: dict[str, Any] = field(default_factory=dict)


async def pool_with_history(
    ctx: EngineContext, fitted: FittedCalibration, mapper_params: dict[str, Any]
) -> PooledProfile:
    """``fitted`` pooled with its user's earlier sittings on the same screen size.

    Left as it is without a user, without kept rows (appearance mappers such as ``cnn`` keep none) or
    when the pooled rows are too few; an earlier profile that cannot be read (or a store failure) is logged
    (``profile_history_unreadable``) and skipped, never fatal.
    """
    s = ctx.settings
    if fitted.user_id is None or not fitted.sittings or fitted.mapper.needs_patches:
        return PooledProfile(fitted)
    history: tuple = ()
    try:
        doc = await ctx.io(
            ProfileRepository(ctx.store).latest, fitted.user_id, fitted.screen_w_px, fitted.screen_h_px
        )
        prev = await ctx.cpu(doc.calibration)
        if prev.mapper_name == fitted.mapper_name:
            history = prev.sittings
    except ProfileNotFoundError:
        pass
    except GazescopeError as exc:  # an unreadable old profile must not cost the new calibration
        ctx.logs.event("profile_history_unreadable", error=exc.message)
    try:
        pf = await ctx.cpu(
            pooled_calibration,
            fitted.mapper_name,
            mapper_params,
            fitted.sittings[-1],
            history,
            s.calibration_profile_newest_weight,
            s.calibration_profile_max_sittings,
        )
    except NotEnoughDataError:
        return PooledProfile(fitted)
    extra = {
        "n_sittings": len(pf.sittings),
        "alone_loo_px": None if pf.alone_loo_px is None else round(pf.alone_loo_px, 2),
        "pooled_loo_px": None if pf.pooled_loo_px is None else round(pf.pooled_loo_px, 2),
    }
    accuracy = {**fitted.accuracy, **extra}
    return PooledProfile(replace(fitted, mapper=pf.mapper, sittings=pf.sittings, accuracy=accuracy), extra)
