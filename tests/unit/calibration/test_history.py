"""Calibration history: sittings kept in a profile, pooled fits, and click refits (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.calibration.features import FEATURE_NAMES, N_FEATURES, GazeFeatures
from gazescope.calibration.history import OnlineRefit, Sitting, pooled_calibration, same_screen
from gazescope.errors import CalibrationError, ValidationError


def sitting(t: float, shift: float = 0.0, w: int = 1000, h: int = 800, seed: int = 0) -> Sitting:
    """16 targets on a 4x4 grid; features linear in the target plus ``shift`` (a change between sittings)."""
    rng = np.random.default_rng(seed)
    pts = np.array([(x, y) for y in (100, 300, 500, 700) for x in (100, 366, 633, 900)], float)
    rows = rng.normal(scale=0.002, size=(16, N_FEATURES))
    rows[:, FEATURE_NAMES.index("iris_x")] += (pts[:, 0] - 500) / 5000 + shift
    rows[:, FEATURE_NAMES.index("iris_y")] += (pts[:, 1] - 400) / 5000
    rows[:, FEATURE_NAMES.index("lid_upper_y")] += (pts[:, 1] - 400) / 8000
    return Sitting(t, rows, pts, w, h)


def test_a_sitting_round_trips_and_bad_ones_are_refused():
    s = sitting(1.0)
    back = Sitting.from_dict(s.to_dict())
    np.testing.assert_allclose(back.rows, s.rows, atol=1e-6)
    np.testing.assert_allclose(back.targets_px, s.targets_px)
    d = s.to_dict()
    d["rows"] = d["rows"][:3]
    with pytest.raises(CalibrationError):
        Sitting.from_dict(d)
    d = s.to_dict()
    d["targets_px"][0][0] = float("nan")
    with pytest.raises(CalibrationError):
        Sitting.from_dict(d)


def test_history_is_bounded_newest_first_and_per_screen():
    old = [sitting(t) for t in (5.0, 1.0, 3.0, 2.0)] + [sitting(4.0, w=1200)]
    kept = same_screen(old, sitting(9.0), max_sittings=3)
    assert [s.created_at_ms for s in kept] == [3.0, 5.0]  # two earlier ones + the new one = 3
    assert same_screen(old, sitting(9.0), max_sittings=1) == []


def test_pooled_fit_reports_alone_and_pooled_and_keeps_the_sittings():
    history = [sitting(t, shift=0.0, seed=int(t)) for t in (1.0, 2.0, 3.0)]
    pf = pooled_calibration("ridge", {}, sitting(9.0, seed=9), history, newest_weight=2.0, max_sittings=8)
    assert [s.created_at_ms for s in pf.sittings] == [1.0, 2.0, 3.0, 9.0]
    assert pf.alone_loo_px is not None and pf.pooled_loo_px is not None
    # same person, same geometry: more rows make the held-out targets no worse
    assert pf.pooled_loo_px <= pf.alone_loo_px + 1.0
    with pytest.raises(ValidationError):
        pooled_calibration("ridge", {}, sitting(9.0), history, newest_weight=0.0, max_sittings=8)


def test_clicks_move_the_fit_toward_a_shifted_sitting():
    profile = [sitting(1.0), sitting(2.0, seed=2)]
    new = sitting(3.0, shift=0.03, seed=3)  # the head moved: every iris reads 0.03 eye widths off
    refit = OnlineRefit("ridge", {}, profile, newest_weight=2.0, click_weight=3.0, max_clicks=5)
    feats = [GazeFeatures(**dict(zip(FEATURE_NAMES, r, strict=True))) for r in new.rows]
    before = None
    for k in range(8):
        m = refit.add_click(feats[k], *new.targets_px[k])
        if before is None:
            before = m
    assert refit.n_clicks == 5 and refit.refits == 8  # bounded rows, every click refits
    err = lambda mm: np.abs(mm.predict(new.rows[8:])[:, 0] - new.targets_px[8:, 0]).mean()  # noqa: E731
    assert err(m) < err(before)
    with pytest.raises(ValidationError):
        refit.add_click(feats[0], 5000.0, 10.0)
    with pytest.raises(CalibrationError):
        OnlineRefit("ridge", {}, [], 2.0, 3.0, 5)


def test_a_long_pursuit_sitting_is_kept_bounded():
    from gazescope.calibration.history import MAX_SITTING_ROWS

    rng = np.random.default_rng(1)
    n = 3 * MAX_SITTING_ROWS
    big = Sitting(1.0, rng.normal(size=(n, N_FEATURES)), rng.uniform(0, 800, size=(n, 2)), 1000, 800)
    small = big.bounded()
    assert len(small.rows) == len(small.targets_px) == MAX_SITTING_ROWS
    np.testing.assert_array_equal(small.rows[0], big.rows[0])
    np.testing.assert_array_equal(small.rows[-1], big.rows[-1])
    with pytest.raises(CalibrationError):
        Sitting.from_dict(big.to_dict())  # a stored profile cannot carry more
    assert Sitting.from_dict(small.to_dict()).rows.shape == (MAX_SITTING_ROWS, N_FEATURES)
