"""The personal CNN mapper (skipped without PyTorch)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazescope.calibration.features import FEATURE_NAMES, N_FEATURES, PATCH_H, PATCH_W
from gazescope.calibration.mappers import create_mapper, mapper_from_dict
from gazescope.errors import NotEnoughDataError

pytest.importorskip("torch")


def synthetic_with_patches(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Eye patches with a dark 'iris' blob whose position follows the target, plus landmark features."""
    rng = np.random.default_rng(seed)
    tx, ty = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    X = np.zeros((n, N_FEATURES + 2 * PATCH_H * PATCH_W))
    X[:, FEATURE_NAMES.index("iris_x")] = 0.05 - 0.1 * tx
    X[:, FEATURE_NAMES.index("iris_y")] = -0.08 + 0.05 * ty
    X[:, FEATURE_NAMES.index("lid_upper_y")] = -0.2 + 0.04 * ty
    yy, xx = np.mgrid[0:PATCH_H, 0:PATCH_W]
    for i in range(n):
        cx, cy = 20 + 20 * (1 - tx[i]), 12 + 12 * ty[i]
        blob = 1.0 - np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 30.0)
        X[i, N_FEATURES:] = np.concatenate([blob.ravel(), blob.ravel()])
    return X, np.stack([tx * 1500, ty * 900], axis=1)


def test_cnn_fits_predicts_and_round_trips() -> None:
    X, Y = synthetic_with_patches(16)
    m = create_mapper("cnn", epochs=150, time_budget_s=20)
    m.fit(X, Y)
    P = m.predict(X)
    assert P.shape == (16, 2) and np.all(np.isfinite(P))
    centre_err = np.hypot(*(Y - Y.mean(axis=0)).T).mean()
    assert np.hypot(*(P - Y).T).mean() < centre_err  # learns something on its own training points
    m2 = mapper_from_dict(json.loads(json.dumps(m.to_dict())))
    np.testing.assert_allclose(m2.predict(X), P, atol=1e-2)


def test_cnn_needs_nine_points() -> None:
    X, Y = synthetic_with_patches(5)
    with pytest.raises(NotEnoughDataError, match="at least 9"):
        create_mapper("cnn").fit(X, Y)
