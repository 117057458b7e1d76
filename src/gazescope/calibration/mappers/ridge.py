"""``ridge``: polynomial ridge regression per screen axis on the landmark features, the penalty chosen by
leave-one-out over :data:`DEFAULT_ALPHAS`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gazescope.calibration.features import feature_index
from gazescope.calibration.mappers.base import Mapper, register_mapper
from gazescope.errors import CalibrationError, ValidationError


def _poly_powers(n_in: int, degree: int) -> np.ndarray:
    from sklearn.preprocessing import PolynomialFeatures

    return PolynomialFeatures(degree, include_bias=False).fit(np.zeros((1, n_in))).powers_


def _expand(X: np.ndarray, powers: np.ndarray) -> np.ndarray:
    return np.prod(X[:, None, :] ** powers[None, :, :], axis=2)


DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-3, 0, 7))
"""Candidate ridge penalties (on standardised terms) of :class:`RidgeMapper`: 0.001 to 1. Issue 14: the
ridge pulls predictions toward the screen centre; capping the grid that leave-one-out chooses from at 1
(it was 0.001 to 1000) was chosen on one webcam_dots subject and checked on the other, both ways: chosen
on hy (324.0 -> 311.0 px) it leaves math10 at 384.7 px (384.8 before); chosen on math10 it lowers hy by
13 px. Per-axis slope stretching (``stretch=True``) was worse on both subjects (+5 and +7 px) and stays
off by default."""


@register_mapper("ridge")
class RidgeMapper(Mapper):
    """Per-axis polynomial ridge regression (Hoerl & Kennard 1970), scikit-learn ``RidgeCV``.

    Screen x is fitted from ``x_features`` and screen y from ``y_features`` (defaults: the eye-corner-frame
    iris x; the iris y and the upper lid), each expanded to polynomial terms, standardised, and fitted by
    ridge regression. The ridge penalty ``alpha`` (from ``alphas``) is chosen per axis by efficient
    leave-one-out cross-validation (``RidgeCV``'s generalised cross-validation, Golub et al. 1979), and so
    is the polynomial degree (from ``degrees``), by the best leave-one-out error. Keeping one axis'
    features out of the other's regression matters with 9-16 points: on webcam_dots a 4-feature joint
    ridge scored 463 px against 425 px for the per-axis fit (both without clipping).

    ``sample_weight`` in :meth:`fit` weights rows (e.g. the newest sitting more when earlier sittings are
    pooled in). ``stretch`` undoes the ridge's shrinkage toward the centre: the leave-one-out predictions
    of the calibration points (closed form, Allen 1974 "PRESS") are regressed on the targets' coordinate,
    ``y = a + b * y_loo`` per axis (b within 0.5..3), and predictions are mapped through that line.

    Args:
        x_features, y_features: names from :data:`FEATURE_NAMES`.
        degrees: candidate polynomial degrees (1..3).
        alphas: candidate penalties (positive; default :data:`DEFAULT_ALPHAS`).
        stretch: calibrate the slope per axis on leave-one-out predictions (see above).

    Raises:
        ValidationError: unknown feature names or bad degrees/alphas.
        NotEnoughDataError (from fit): fewer than 4 distinct calibration points.
    """

    min_points = 4

    def __init__(
        self,
        x_features: Sequence[str] = ("iris_x",),
        y_features: Sequence[str] = ("iris_y", "lid_upper_y"),
        degrees: Sequence[int] = (1,),
        alphas: Sequence[float] | None = None,
        stretch: bool = False,
    ) -> None:
        self.stretch = bool(stretch)
        self.x_features = tuple(x_features)
        self.y_features = tuple(y_features)
        feature_index(self.x_features)
        feature_index(self.y_features)
        if not self.x_features or not self.y_features:
            raise ValidationError("x_features and y_features must not be empty")
        self.degrees = tuple(int(d) for d in degrees)
        if not self.degrees or any(d < 1 or d > 3 for d in self.degrees):
            raise ValidationError("degrees must be within 1..3")
        self.alphas = tuple(float(a) for a in (alphas if alphas is not None else DEFAULT_ALPHAS))
        if not self.alphas or any(a <= 0 for a in self.alphas):
            raise ValidationError("alphas must be positive")
        self._axes: list[dict[str, Any]] | None = None

    def _fit_axis(self, Xa: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> dict[str, Any]:
        from sklearn.linear_model import RidgeCV

        best: dict[str, Any] | None = None
        for deg in self.degrees:
            powers = _poly_powers(Xa.shape[1], deg)
            if len(powers) >= len(y) - 1 and deg > 1:
                continue  # more terms than points: leave-one-out is meaningless
            P = _expand(Xa, powers)
            mean = P.mean(axis=0)
            scale = P.std(axis=0)
            scale[scale < 1e-12] = 1.0
            Z = (P - mean) / scale
            model = RidgeCV(alphas=np.asarray(self.alphas), scoring="neg_mean_squared_error").fit(
                Z, y, sample_weight=w
            )
            score = float(model.best_score_)
            if best is None or score > best["score"]:
                best = {
                    "score": score,
                    "degree": deg,
                    "powers": powers.tolist(),
                    "mean": mean.tolist(),
                    "scale": scale.tolist(),
                    "coef": np.asarray(model.coef_, dtype=np.float64).tolist(),
                    "intercept": float(model.intercept_),
                    "alpha": float(model.alpha_),
                }
                if self.stretch:
                    best["stretch"] = _loo_stretch(Z, y, w, float(model.alpha_))
        assert best is not None
        best["loo_rmse_px"] = float(np.sqrt(max(-best.pop("score"), 0.0)))
        return best

    def fit(self, X: np.ndarray, Y_px: np.ndarray, sample_weight: np.ndarray | None = None) -> RidgeMapper:
        """Fit both axes (``sample_weight``: (n,) positive row weights, default equal).

        Raises:
            ValidationError: bad shapes or values. NotEnoughDataError: fewer than 4 distinct targets.
        """
        X, Y = self._check_xy(X, Y_px)
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (len(X),) or not np.all(np.isfinite(w)) or np.any(w <= 0):
                raise ValidationError(f"sample_weight must be {len(X)} positive numbers")
        self._axes = [
            self._fit_axis(X[:, feature_index(self.x_features)], Y[:, 0], w),
            self._fit_axis(X[:, feature_index(self.y_features)], Y[:, 1], w),
        ]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Screen points (n, 2) in px, unclipped. Raises CalibrationError when not fitted."""
        if self._axes is None:
            raise CalibrationError("the ridge mapper is not fitted")
        X = self._check_x(X)
        out = np.empty((len(X), 2))
        for k, (names, ax) in enumerate(zip((self.x_features, self.y_features), self._axes, strict=True)):
            P = _expand(X[:, feature_index(names)], np.asarray(ax["powers"]))
            out[:, k] = ((P - np.asarray(ax["mean"])) / np.asarray(ax["scale"])) @ np.asarray(
                ax["coef"]
            ) + ax["intercept"]
            if "stretch" in ax:
                a, b = ax["stretch"]
                out[:, k] = a + b * out[:, k]
        return out

    @property
    def fit_info(self) -> dict[str, Any]:
        """Chosen degree, alpha and leave-one-out RMSE (px) per axis ({} before fitting)."""
        if self._axes is None:
            return {}
        return {
            ax: {k: self._axes[i][k] for k in ("degree", "alpha", "loo_rmse_px")}
            for i, ax in enumerate(("x", "y"))
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "x_features": list(self.x_features),
            "y_features": list(self.y_features),
            "degrees": list(self.degrees),
            "alphas": list(self.alphas),
            "stretch": self.stretch,
            "axes": self._axes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RidgeMapper:
        """Inverse of :meth:`to_dict` (``axes: null`` gives an unfitted mapper).

        Raises:
            CalibrationError: missing fields, or a fitted axis whose ``powers`` is not (n_terms, n_inputs)
                of integers 0..3, whose ``mean``/``scale``/``coef`` are not n_terms finite numbers, or
                whose ``intercept`` is not a finite number.
        """
        try:
            m = cls(
                d["x_features"], d["y_features"], d["degrees"], d["alphas"], bool(d.get("stretch", False))
            )
            axes = d.get("axes")
            if axes is not None:
                if not isinstance(axes, list) or len(axes) != 2:
                    raise CalibrationError("a ridge mapper dict needs two axes")
                axes = [
                    _checked_axis(ax, len(names), k)
                    for k, (ax, names) in enumerate(zip(axes, (m.x_features, m.y_features), strict=True))
                ]
            m._axes = axes
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"malformed ridge mapper dict: {exc}") from exc
        return m


def _checked_axis(ax: Any, n_in: int, k: int) -> dict[str, Any]:
    """One fitted ridge axis of a mapper dict, checked (see :meth:`RidgeMapper.from_dict`)."""
    where = f"ridge axis {k}"
    if not isinstance(ax, dict):
        raise CalibrationError(f"{where} must be an object")
    powers = np.asarray(ax["powers"], dtype=np.float64)
    n = len(powers)
    if powers.shape != (n, n_in) or n == 0:
        raise CalibrationError(f"{where}: powers must be (n_terms, {n_in}), got shape {powers.shape}")
    if not np.all((powers >= 0) & (powers <= 3) & (powers == np.round(powers))):
        raise CalibrationError(f"{where}: powers must be integers 0..3")
    for key in ("mean", "scale", "coef"):
        v = np.asarray(ax[key], dtype=np.float64)
        if v.shape != (n,) or not np.all(np.isfinite(v)):
            raise CalibrationError(f"{where}: {key} must be {n} finite numbers, got shape {v.shape}")
    b = ax["intercept"]
    if isinstance(b, bool) or not isinstance(b, int | float) or not np.isfinite(b):
        raise CalibrationError(f"{where}: intercept must be a finite number, got {str(b)[:32]!r}")
    if "stretch" in ax:
        st = np.asarray(ax["stretch"], dtype=np.float64)
        if (
            st.shape != (2,)
            or not np.all(np.isfinite(st))
            or not STRETCH_SLOPE[0] <= st[1] <= STRETCH_SLOPE[1]
        ):
            raise CalibrationError(
                f"{where}: stretch must be [offset, slope] with slope within {STRETCH_SLOPE}"
            )
    return dict(ax)


STRETCH_SLOPE = (0.5, 3.0)
"""Range of the per-axis slope correction of ``RidgeMapper(stretch=True)``: the ridge shrinks (slope
below 1 on held-out points, 0.41 vertically on webcam_dots per issue 14), so the correction expands;
the bounds keep a few noisy leave-one-out points from flipping or exploding it."""


def loo_predictions(Z: np.ndarray, y: np.ndarray, w: np.ndarray | None, alpha: float) -> np.ndarray:
    """Leave-one-out predictions (n,) of a ridge with an unpenalised intercept, in closed form.

    ``Z`` (n, p) inputs, ``y`` (n,) targets, ``w`` (n,) row weights or None, ``alpha`` > 0. With
    ``A = [1, Z]``, ``H = A (A'WA + alpha D)^-1 A'W`` (D = identity without the intercept), the held-out
    prediction of row i is ``y_i - r_i / (1 - H_ii)`` (Allen 1974, "The relationship between variable
    selection and data augmentation and a method for prediction", Technometrics).
    """
    n = len(y)
    w = np.ones(n) if w is None else w
    A = np.hstack([np.ones((n, 1)), Z])
    D = np.eye(A.shape[1]) * alpha
    D[0, 0] = 0.0
    M = np.linalg.pinv(A.T @ (A * w[:, None]) + D)
    beta = M @ (A.T @ (w * y))
    h = np.einsum("ij,jk,ik->i", A, M, A) * w
    r = y - A @ beta
    return y - r / np.maximum(1.0 - h, 1e-6)


def _loo_stretch(Z: np.ndarray, y: np.ndarray, w: np.ndarray | None, alpha: float) -> list[float]:
    """[offset, slope] of the weighted least-squares line ``y ~ offset + slope * y_loo`` (slope clipped)."""
    p = loo_predictions(Z, y, w, alpha)
    ww = np.ones(len(y)) if w is None else w
    pm = float(np.average(p, weights=ww))
    ym = float(np.average(y, weights=ww))
    var = float(np.average((p - pm) ** 2, weights=ww))
    slope = float(np.average((p - pm) * (y - ym), weights=ww)) / var if var > 1e-12 else 1.0
    slope = float(np.clip(slope, *STRETCH_SLOPE))
    # the line passes through the weighted means: a pure stretch about the calibration's centre
    return [ym - slope * pm, slope]
