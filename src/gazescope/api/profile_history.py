"""Accumulating profiles: a new calibration of a known user is fitted pooled with their earlier sittings.

Called by ``calibration_finish`` (:mod:`gazescope.api.calibration`) with the sitting's own fit: when the
calibration has a ``user_id`` and a feature mapper (ridge), the user's newest profile on the same screen
size is read from the store and the new sitting is fitted together with its sittings
(:func:`gazescope.calibration.history.pooled_calibration`: at most
``calibration_profile_max_sittings``, the newest weighted ``calibration_profile_newest_weight``). The
stored and applied profile is the pooled one, so ``calibration_use`` and a session's ``user_id`` reuse it;
its accuracy keeps both figures (``alone_loo_px``: leave-one-target-out over this sitting's targets fitted
on this sitting alone; ``pooled_loo_px``: the same with the earlier sittings pooled in; ``n_sittings``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gazescope.api import logs
from gazescope.calibration.history import pooled_calibration
from gazescope.calibration.profile import FittedCalibration
from gazescope.engine.connection import TrackingConnection
from gazescope.errors import GazescopeError, NotEnoughDataError, ProfileNotFoundError


async def pool_with_history(
    conn: TrackingConnection, fitted: FittedCalibration, mapper_params: dict[str, Any]
) -> tuple[FittedCalibration, dict[str, Any]]:
    """``fitted`` pooled with its user's earlier sittings, and the accuracy fields to report.

    Returns ``fitted`` unchanged (and ``{}``) when it has no user, no kept rows (appearance mapper) or the
    pooling fails; a store failure is logged, never fatal (the sitting alone is still a calibration).
    """
    from gazescope.api.calibration import calibration_from_document, latest_profile_document

    if fitted.user_id is None or not fitted.sittings or fitted.mapper.needs_patches:
        return fitted, {}
    s = conn.settings
    history: tuple = ()
    try:
        doc = await conn.state.io(
            latest_profile_document, conn.state.store, fitted.user_id, fitted.screen_w_px, fitted.screen_h_px
        )
        prev = await conn.state.cpu(calibration_from_document, doc)
        if prev.mapper_name == fitted.mapper_name:
            history = prev.sittings
    except ProfileNotFoundError:
        pass
    except GazescopeError as exc:  # an unreadable old profile must not cost the new calibration
        logs.event("profile_history_unreadable", session_id=conn.session_id, error=exc.message)
    try:
        pf = await conn.state.cpu(
            pooled_calibration,
            fitted.mapper_name,
            mapper_params,
            fitted.sittings[-1],
            history,
            s.calibration_profile_newest_weight,
            s.calibration_profile_max_sittings,
        )
    except NotEnoughDataError:
        return fitted, {}
    extra = {
        "n_sittings": len(pf.sittings),
        "alone_loo_px": None if pf.alone_loo_px is None else round(pf.alone_loo_px, 2),
        "pooled_loo_px": None if pf.pooled_loo_px is None else round(pf.pooled_loo_px, 2),
    }
    accuracy = {**fitted.accuracy, **extra}
    return replace(fitted, mapper=pf.mapper, sittings=pf.sittings, accuracy=accuracy), extra
