"""Heatmap density grids: kernel sigma from accuracy, peak where the fixations are, per-viewer weighting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazescope.analytics.events import ScreenGeometry
from gazescope.analytics.heatmap import aggregate_heatmap, density_grid, heatmap_sigma_px, session_heatmap
from gazescope.errors import ValidationError


def test_sigma_follows_accuracy():
    assert heatmap_sigma_px(200) == pytest.approx(200 / math.sqrt(math.pi / 2))
    assert heatmap_sigma_px(10) == 38.0  # floor
    assert heatmap_sigma_px(10, min_sigma_px=5) == pytest.approx(10 / math.sqrt(math.pi / 2))
    g = ScreenGeometry(1920, 53, 60)
    assert heatmap_sigma_px(1, geometry=g) == pytest.approx(g.px_from_deg(1.0))
    with pytest.raises(ValidationError):
        heatmap_sigma_px(-5)


def test_density_peak_where_the_weight_is():
    d = density_grid([100, 500], [100, 300], [1, 3], width_px=800, height_px=600, sigma_px=20, cell_px=4)
    assert d.shape == (150, 200) and d.sum() == pytest.approx(1.0)
    i, j = np.unravel_index(np.argmax(d), d.shape)
    assert (j * 4, i * 4) == (500, 300)


def test_session_heatmap_peak_at_longest_fixation(fixation_samples):
    s = fixation_samples([(300, 200, 6), (1200, 700, 20), (1700, 150, 8)])
    g = session_heatmap(s, screen_size_px=(1920, 1080), calibration_accuracy_px=60)
    px, py = g.peak_px()
    assert abs(px - 1200) <= g.cell_px and abs(py - 700) <= g.cell_px
    assert g.n_points == 3 and g.n_sessions == 1
    # in stimulus space: a 960x540 stimulus stretched over the screen halves the coordinates
    g2 = session_heatmap(s, screen_size_px=(1920, 1080), stimulus_size_px=(960, 540), source="samples")
    px, py = g2.peak_px()
    assert abs(px - 600) <= g2.cell_px and abs(py - 350) <= g2.cell_px


def test_aggregate_weighs_each_viewer_equally(fixation_samples, make_sample):
    long_viewer = fixation_samples([(400, 400, 200)])  # 10 s at one place
    short_a = fixation_samples([(1500, 400, 5)])
    short_b = fixation_samples([(1500, 400, 5)])
    g = aggregate_heatmap([long_viewer, short_a, short_b], screen_size_px=(1920, 1080), sigma_px=40)
    px, _ = g.peak_px()
    assert abs(px - 1500) <= g.cell_px  # two viewers there beat one viewer's long look
    assert g.n_sessions == 3 and g.density.sum() == pytest.approx(1.0)
    empty = aggregate_heatmap([[make_sample(0, None, None)]], screen_size_px=(100, 100))
    assert empty.peak_px() is None and empty.n_sessions == 0


def test_unknown_source():
    with pytest.raises(ValidationError, match="source"):
        session_heatmap([], screen_size_px=(10, 10), source="nope")  # type: ignore[arg-type]
