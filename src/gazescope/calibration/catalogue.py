"""The calibration catalogue ``GET /api/calibration/layouts`` returns: the target layouts, the pursuit
path, the registered mappers and the defaults (``docs/protocol.md``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from gazescope.calibration.mappers import available_mappers
from gazescope.calibration.targets import (
    ALL_LAYOUTS,
    LAYOUT_NAMES,
    PURSUIT_DURATION_MS,
    PURSUIT_RATE_HZ,
    PURSUIT_VALIDATION_EVERY,
    grid_layout,
)
from gazescope.config import CalibrationSettings


class LayoutsInfo(BaseModel):
    """What ``GET /api/calibration/layouts`` returns (see :func:`layouts_info`)."""

    layouts: list[dict[str, Any]]
    pursuit: dict[str, Any]
    layout_names: list[str]
    default_layout: str
    mappers: list[str]
    default_mapper: str
    settle_ms: float
    samples_per_target: int


def layouts_info(settings: CalibrationSettings) -> LayoutsInfo:
    """The calibration catalogue of ``settings``.

    Args:
        settings: the calibration settings (default mapper, settle time, samples per target).

    Returns:
        The grid layouts (normalised points in 0..1, point and validation counts), the pursuit path
        parameters (duration in ms, rate in Hz), every layout name, the registered mappers and the
        defaults (settle time in ms, samples per target).
    """
    grids = []
    for name in LAYOUT_NAMES:
        lay = grid_layout(name)
        grids.append(
            {**lay.to_dict(), "n_points": len(lay.points_norm), "n_validation": len(lay.validation_norm)}
        )
    return LayoutsInfo(
        layouts=grids,
        pursuit={
            "name": "pursuit",
            "duration_ms": PURSUIT_DURATION_MS,
            "rate_hz": PURSUIT_RATE_HZ,
            "validation_every": PURSUIT_VALIDATION_EVERY,
            "samples_per_target": 1,
        },
        layout_names=list(ALL_LAYOUTS),
        default_layout="9",
        mappers=available_mappers(),
        default_mapper=settings.default_mapper,
        settle_ms=settings.calibration_settle_ms,
        samples_per_target=settings.calibration_samples_per_target,
    )
