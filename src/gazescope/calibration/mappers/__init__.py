"""Mappers from calibration features to screen pixels: the base class and registry (:mod:`.base`), and
the built-in ``ridge`` (:mod:`.ridge`) and ``cnn`` (:mod:`.cnn`; PyTorch is imported only when a CNN
mapper is created, so registering it is free)."""

from gazescope.calibration.mappers import cnn, ridge
from gazescope.calibration.mappers.base import (
    _REGISTRY,
    Mapper,
    available_mappers,
    create_mapper,
    mapper_from_dict,
    mapper_needs_patches,
    register_mapper,
)
from gazescope.calibration.mappers.ridge import DEFAULT_ALPHAS, RidgeMapper, loo_predictions

__all__ = [
    "DEFAULT_ALPHAS",
    "_REGISTRY",
    "Mapper",
    "RidgeMapper",
    "available_mappers",
    "cnn",
    "create_mapper",
    "loo_predictions",
    "mapper_from_dict",
    "mapper_needs_patches",
    "register_mapper",
    "ridge",
]
