"""The mapper base class and registry: mappers from calibration features to screen pixels.

A mapper learns ``X -> screen (x, y) px`` from a calibration: ``X`` is (n, k) with the columns of
:data:`gazescope.calibration.features.FEATURE_NAMES`, followed by the flattened eye patches
(:data:`~gazescope.calibration.features.PATCH_SIZE` values) when ``mapper.needs_patches``. Every mapper
has ``fit(X, Y_px) -> self``, ``predict(X) -> (n, 2) px``, ``to_dict()`` (JSON-able: numbers and lists,
never pickle) and ``from_dict()``; ``min_points`` is the fewest distinct calibration targets it fits from.

Registry: ``@register_mapper("name")`` on a class, ``create_mapper(name, **params)``,
``available_mappers()``, ``mapper_from_dict(d)``. An unknown name raises
:class:`~gazescope.errors.UnknownMapperError` listing the registered ones.

Built in: ``ridge`` (:mod:`.ridge`) and ``cnn`` (:mod:`.cnn`, optional extra ``gazescope[cnn]``),
registered when :mod:`gazescope.calibration.mappers` is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from gazescope.calibration.features import N_FEATURES, PATCH_SIZE
from gazescope.errors import CalibrationError, NotEnoughDataError, UnknownMapperError, ValidationError


class Mapper:
    """Base class of mappers (see the module docstring for the contract)."""

    name: ClassVar[str] = "base"
    min_points: ClassVar[int] = 1
    needs_patches: ClassVar[bool] = False
    #: Set on an instance to stop a long fit: a mapper whose fit iterates (``cnn``) calls it between
    #: steps and raises :class:`~gazescope.errors.FitStoppedError` once it returns True. Not serialised.
    should_stop: Callable[[], bool] | None = None

    def fit(self, X: np.ndarray, Y_px: np.ndarray, sample_weight: np.ndarray | None = None) -> Mapper:
        """Fit on rows ``X`` (n, k) and screen points ``Y_px`` (n, 2); ``sample_weight`` (n,) > 0 where
        the mapper supports it (ridge), else it must be None."""
        raise NotImplementedError

    def predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Mapper:
        raise NotImplementedError

    # -- shared input checks -------------------------------------------------------------------------
    def _check_xy(self, X: np.ndarray, Y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = self._check_x(X)
        Y = np.asarray(Y_px, dtype=np.float64)
        if Y.ndim != 2 or Y.shape[1] != 2 or len(Y) != len(X):
            raise ValidationError(f"Y_px must be (n, 2) with n = {len(X)} rows, got shape {Y.shape}")
        if not np.all(np.isfinite(Y)):
            raise ValidationError("Y_px holds NaN or infinite values")
        n_targets = len(np.unique(np.round(Y, 1), axis=0))
        if n_targets < self.min_points:
            raise NotEnoughDataError(
                f"mapper {self.name!r} needs at least {self.min_points} distinct calibration points "
                f"with a detected face, got {n_targets}",
            )
        return X, Y

    def _check_x(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        width = N_FEATURES + (PATCH_SIZE if self.needs_patches else 0)
        if X.ndim != 2 or X.shape[1] != width:
            raise ValidationError(f"X must be (n, {width}) for mapper {self.name!r}, got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValidationError("X holds NaN or infinite values")
        return X


_REGISTRY: dict[str, type[Mapper]] = {}


def register_mapper(name: str) -> Callable[[type[Mapper]], type[Mapper]]:
    """Class decorator: register a :class:`Mapper` subclass under ``name`` (sets ``cls.name``)."""

    def deco(cls: type[Mapper]) -> type[Mapper]:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def available_mappers() -> list[str]:
    """Registered mapper names, sorted."""
    return sorted(_REGISTRY)


def _lookup(name: str) -> type[Mapper]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownMapperError(
            f"unknown mapper {name!r}; available: {', '.join(available_mappers())}"
        ) from None


def mapper_needs_patches(name: str) -> bool:
    """Whether the mapper registered as ``name`` reads eye patches (an appearance mapper such as ``cnn``),
    without creating one.

    Raises:
        UnknownMapperError: no mapper of that name.
    """
    return _lookup(name).needs_patches


def create_mapper(name: str, **params: Any) -> Mapper:
    """A new, unfitted mapper.

    Raises:
        UnknownMapperError: no mapper of that name (the message lists the available ones).
        ConfigurationError: the mapper's optional dependency is missing (e.g. torch for ``cnn``).
    """
    return _lookup(name)(**params)


def mapper_from_dict(d: dict[str, Any]) -> Mapper:
    """Rebuild a fitted mapper from its ``to_dict()``.

    Raises:
        UnknownMapperError: ``d["name"]`` is not registered. CalibrationError: the dict is malformed.
    """
    if not isinstance(d, dict) or "name" not in d:
        raise CalibrationError("a mapper dict needs a 'name'")
    return _lookup(str(d["name"])).from_dict(d)
