"""One Euro filter and time-constant EMA (``gazescope.tracking.filters``)."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.config import Settings
from gazescope.tracking.filters import Ema, OneEuroFilter, OneEuroFilters

FPS = 30.0


def test_one_euro_smooths_jitter_at_rest_and_follows_a_step():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.3, d_cutoff=1.0)
    t = np.arange(120) / FPS
    noisy = 0.5 + rng.normal(0, 0.02, t.size)
    out = np.array([f(x, ts) for x, ts in zip(noisy, t, strict=True)])
    assert out[30:].std() < noisy[30:].std() / 2
    for k in range(60):  # a jump to 0.9: fast enough that it is reached within 10 frames
        y = f(0.9, (120 + k) / FPS)
    assert y == pytest.approx(0.9, abs=0.01)


def test_one_euro_rejects_bad_parameters():
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0, beta=0.0, d_cutoff=1.0)


def test_ema_time_constant():
    e = Ema(1.0)
    e(0.0, 0.0)
    assert e(1.0, 1.0) == pytest.approx(1 - np.exp(-1))


def test_filters_of_a_group_take_the_smoothing_settings_and_scale_beta():
    s = Settings()
    group = OneEuroFilters(2, s, scale=45.0)
    assert all(f.beta == pytest.approx(s.one_euro_beta / 45.0) for f in group.f)
    assert group.last() == (None, None)
    assert group((0.1, 0.2), 0.0) == (0.1, 0.2)
    group.reset()
    assert group.last() == (None, None)
