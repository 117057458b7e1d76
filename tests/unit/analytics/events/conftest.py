"""Hand-computed fixations of the synthetic scene (``scene_samples``), shared by the detector tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from gazescope.analytics.events import Fixation

EXPECTED = [  # (start_ms, end_ms, x, y, n, dispersion, start_index, end_index)
    (0, 250, 100, 100, 6, 10, 0, 5),
    (300, 450, 500, 300, 4, 0, 6, 9),
    (650, 800, 800, 600, 4, 0, 13, 16),
    (900, 1050, 800, 600, 4, 0, 18, 21),
]


def _check(fixations):
    assert len(fixations) == len(EXPECTED)
    for f, (t0, t1, x, y, n, disp, i0, i1) in zip(fixations, EXPECTED, strict=True):
        assert (f.start_ms, f.end_ms, f.duration_ms) == (t0, t1, t1 - t0)
        assert (f.x_px, f.y_px) == pytest.approx((x, y))
        assert (f.n_samples, f.start_index, f.end_index) == (n, i0, i1)
        assert f.dispersion_px == pytest.approx(disp)


@pytest.fixture
def check_scene_fixations() -> Callable[[Sequence[Fixation]], None]:
    """Assert that fixations are the scene's four hand-computed ones."""
    return _check
