"""Gaze evaluation scoring: error statistics and the JSON of each protocol's result."""

from __future__ import annotations

import numpy as np

from gazescope.evaluation.scoring import ErrorStats, GazeEvaluation, stats


def test_stats_round_and_count():
    s = stats(np.array([10.0, 20.0, 40.0]), np.array([1.0, 2.0, 4.0]))
    assert s == ErrorStats(mean_error_px=23.33, median_error_px=20.0, mean_error_pct_width=2.333, n=3)
    assert stats(np.array([]), np.array([])).to_dict() == {
        "mean_error_px": None, "median_error_px": None, "mean_error_pct_width": None, "n": 0,
    }  # fmt: skip


def test_json_keys_of_the_session_and_reuse_protocols():
    e = stats(np.array([5.0]), np.array([0.5]))
    session = GazeEvaluation(
        e, {"hy": e}, "ridge", {"calibrations_not_enough_data": 0}, mirror=False, zooms=()
    )
    assert list(session.to_dict()) == ["overall", "subjects", "mapper", "skipped", "mirror", "zooms"]
    assert session.to_dict()["subjects"]["hy"]["n"] == 1 and session.to_dict()["zooms"] == []
    pooled = GazeEvaluation(e, {}, "ridge", {"fits_not_enough_data": 0}, protocol="pooled")
    assert list(pooled.to_dict()) == ["overall", "subjects", "mapper", "protocol", "weight", "skipped"]
    assert pooled.to_dict()["weight"] is None
