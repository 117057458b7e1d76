"""Sample dicts to arrays, and client gaze points to samples."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.analytics.events import EventParams, detect_fixations, gaze_points_to_samples
from gazescope.analytics.samples import gaze_arrays, segment_ids


@pytest.mark.parametrize(
    ("valid", "t_ms", "expected"),
    [
        pytest.param([1, 1, 0, 1], [0, 50, 100, 150], [0, 0, -1, 1], id="invalid-splits"),
        pytest.param([1, 1, 1], [0, 50, 300], [0, 0, 1], id="gap-splits"),
        pytest.param([0, 0], [0, 50], [-1, -1], id="all-invalid"),
    ],
)
def test_segment_ids(valid, t_ms, expected):
    assert segment_ids(np.array(valid, dtype=bool), np.array(t_ms, dtype=float), 200.0).tolist() == expected


def test_positions_are_nan_where_gaze_is_not_valid(make_sample):
    s = [make_sample(0, 10, 20), make_sample(50, 30, 40, is_blinking=True)]
    pos = gaze_arrays(s).positions_px
    assert pos.shape == (2, 2) and pos[0].tolist() == [10, 20] and np.isnan(pos[1]).all()


def test_client_points_feed_the_same_analytics():
    pts = [{"t_ms": 50 * i, "x_px": 100 + (i % 2), "y_px": 200} for i in range(6)]
    pts += [{"t_ms": 300 + 50 * i, "x_px": 900, "y_px": 500} for i in range(4)]
    pts.reverse()  # unordered on arrival
    s = gaze_points_to_samples(pts, screen_w_px=1280, screen_h_px=720)
    assert [p["t_ms"] for p in s] == sorted(p["t_ms"] for p in pts)
    fix = detect_fixations(s, params=EventParams(threshold_px=50))
    assert [(f.start_ms, f.end_ms) for f in fix] == [(0, 250), (300, 450)]
    assert fix[0].x_px == pytest.approx(100.5)
    off = gaze_points_to_samples([{"t_ms": 0, "x_px": 2000, "y_px": 5}], screen_w_px=1280, screen_h_px=720)
    assert off[0]["on_screen"] is False
