"""Mapper registry and the ridge mapper on synthetic features with a known mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazescope.calibration.features import FEATURE_NAMES, N_FEATURES
from gazescope.calibration.mappers import available_mappers, create_mapper, mapper_from_dict
from gazescope.errors import CalibrationError, NotEnoughDataError, UnknownMapperError, ValidationError


def synthetic(n: int, seed: int = 0, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Features with a known linear map: x = 800 - 9000 iris_x, y = 500 + 6000 iris_y - 3000 lid."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, size=(n, N_FEATURES)) * 0.01
    ix, iy, lid = (FEATURE_NAMES.index(k) for k in ("iris_x", "iris_y", "lid_upper_y"))
    X[:, ix] = rng.uniform(-0.06, 0.06, n)
    X[:, iy] = rng.uniform(-0.08, -0.02, n)
    X[:, lid] = rng.uniform(-0.2, -0.15, n)
    Y = np.stack([800 - 9000 * X[:, ix], 500 + 6000 * X[:, iy] - 3000 * X[:, lid]], axis=1)
    Y = Y + rng.normal(0, noise, size=Y.shape)
    return X, Y


def test_ridge_recovers_a_known_linear_mapping() -> None:
    X, Y = synthetic(16)
    m = create_mapper("ridge").fit(X, Y)
    Xt, Yt = synthetic(50, seed=1)
    err = np.hypot(*(m.predict(Xt) - Yt).T)
    assert err.max() < 5.0  # px, on a ~1100 px spread
    assert m.fit_info["x"]["degree"] == 1


def test_ridge_with_noise_stays_close_and_picks_regularisation() -> None:
    X, Y = synthetic(16, noise=20.0)
    m = create_mapper("ridge", degrees=(1, 2)).fit(X, Y)
    Xt, Yt = synthetic(200, seed=2)
    assert np.hypot(*(m.predict(Xt) - Yt).T).mean() < 40.0


def test_ridge_round_trips_through_json() -> None:
    X, Y = synthetic(9)
    m = create_mapper("ridge").fit(X, Y)
    d = json.loads(json.dumps(m.to_dict()))
    m2 = mapper_from_dict(d)
    np.testing.assert_allclose(m2.predict(X), m.predict(X), atol=1e-9)


def test_too_few_points_say_how_many_are_needed() -> None:
    X, Y = synthetic(3)
    with pytest.raises(NotEnoughDataError, match=r"at least 4 .*got 3"):
        create_mapper("ridge").fit(X, Y)
    # many samples of the same 2 targets are still 2 points
    X2 = np.repeat(X[:2], 10, axis=0)
    Y2 = np.repeat(Y[:2], 10, axis=0)
    with pytest.raises(NotEnoughDataError, match="got 2"):
        create_mapper("ridge").fit(X2, Y2)


def test_unknown_mapper_lists_the_available_ones() -> None:
    with pytest.raises(UnknownMapperError) as exc:
        create_mapper("nope")
    for name in available_mappers():
        assert name in str(exc.value)
    assert {"ridge", "cnn"} <= set(available_mappers())


def test_cnn_without_torch_says_how_to_install_or_fits_with_torch() -> None:
    from gazescope.errors import ConfigurationError

    try:
        import torch  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigurationError, match=r"gazescope\[cnn\]"):
            create_mapper("cnn")
        return
    pytest.skip("torch is installed; the CNN is tested in test_cnn.py")


def test_ridge_sample_weight_pulls_the_fit_toward_heavy_rows():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(20, N_FEATURES))
    Y = np.column_stack([1000 * X[:, 0], 800 * X[:, 1]]) + 400.0
    Y_shift = Y.copy()
    Y_shift[10:] += 300.0  # the second half (a later sitting) sits 300 px lower and right
    w = np.r_[np.ones(10), np.full(10, 10.0)]
    plain = create_mapper("ridge").fit(X, Y_shift)
    heavy = create_mapper("ridge").fit(X, Y_shift, sample_weight=w)
    err_plain = np.abs(plain.predict(X[10:]) - Y_shift[10:]).mean()
    err_heavy = np.abs(heavy.predict(X[10:]) - Y_shift[10:]).mean()
    assert err_heavy < err_plain
    with pytest.raises(ValidationError):
        create_mapper("ridge").fit(X, Y, sample_weight=np.zeros(20))


def test_ridge_loo_predictions_equal_refits_without_the_row():
    from sklearn.linear_model import Ridge

    from gazescope.calibration.mappers import loo_predictions

    rng = np.random.default_rng(5)
    Z = rng.normal(size=(12, 2))
    y = Z @ [3.0, -2.0] + rng.normal(scale=0.5, size=12)
    w = rng.uniform(0.5, 3.0, size=12)
    loo = loo_predictions(Z, y, w, alpha=0.7)
    for i in range(12):
        keep = np.arange(12) != i
        m = Ridge(alpha=0.7).fit(Z[keep], y[keep], sample_weight=w[keep])
        assert loo[i] == pytest.approx(float(m.predict(Z[i : i + 1])[0]), abs=1e-8)


def test_ridge_stretch_expands_a_shrunk_fit_and_round_trips():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(16, N_FEATURES))
    Y = np.column_stack([600 * X[:, 0], 400 * X[:, 1]]) + rng.normal(scale=150, size=(16, 2)) + 500
    m = create_mapper("ridge", alphas=[30.0], stretch=True).fit(X, Y)
    plain = create_mapper("ridge", alphas=[30.0]).fit(X, Y)
    assert np.ptp(m.predict(X)[:, 0]) > np.ptp(plain.predict(X)[:, 0])
    back = mapper_from_dict(m.to_dict())
    np.testing.assert_allclose(back.predict(X), m.predict(X))
    d = m.to_dict()
    d["axes"][0]["stretch"] = [0.0, 50.0]
    with pytest.raises(CalibrationError):
        mapper_from_dict(d)
