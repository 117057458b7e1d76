"""Target-noise comparison: noisy copies and the typed comparison's JSON."""

from __future__ import annotations

import numpy as np

from gazescope.evaluation.scoring import ErrorStats
from gazescope.evaluation.target_noise import AggregationComparison, noisy_copies


def test_noisy_copies_keep_shape_and_range():
    img = np.full((4, 5, 3), 128, dtype=np.uint8)
    copies = noisy_copies(img, 10.0, 3, np.random.default_rng(0))
    assert len(copies) == 3 and all(c.shape == img.shape and c.dtype == np.uint8 for c in copies)
    assert not np.array_equal(copies[0], copies[1])


def test_comparison_json():
    e = ErrorStats(10.0, 9.0, 1.0, 4)
    d = AggregationComparison(e, e, e, {"iris_x": 0.01}).to_dict()
    assert list(d) == ["single", "median", "mean", "jitter"]
    assert d["mean"] == {"mean_error_px": 10.0, "median_error_px": 9.0, "mean_error_pct_width": 1.0, "n": 4}
