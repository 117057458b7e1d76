"""Leave-one-subject-out blink validation over cached EAR series of real ZJU clips."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.config import Settings
from gazescope.evaluation.blink import evaluate_clip
from gazescope.evaluation.blink_loso import BlinkParams, counts, evaluate_loso, grid_points
from gazescope.evaluation.ear_series import clip_series, subject_of

SMALL_GRID = {
    "threshold_ratio": (0.5, 0.75),
    "release_ratio": (0.85,),
    "depth_ratio": (0.3, 0.7),
    "reopen_max_ms": (300.0,),
    "min_ms": (50.0,),
    "lowered_dip_ratio": (0.8,),
}


@pytest.fixture(scope="module")
def three_subjects(data_dir, tmp_path_factory):
    """One frontal no-glasses clip of each of three ZJU subjects, linked into a folder of their own."""
    root = tmp_path_factory.mktemp("zju3")
    zju = data_dir / "blink" / "zju"
    for name in ("000002M_FNN", "000003M_FNN", "000004M_FNN"):
        video = next(p for p in zju.rglob(f"{name}.*") if p.suffix != ".tag" and p.suffix != ".txt")
        for src in (video, video.with_suffix(".tag")):
            (root / src.name).symlink_to(src)
    return root


def test_cached_series_replays_the_tracker_exactly(three_subjects, tmp_path):
    s = Settings()
    video = next(three_subjects.glob("000003M_FNN.*[!g]"))
    tag = video.with_suffix(".tag")
    first = clip_series(video, tag, s, tmp_path)
    again = clip_series(video, tag, s, tmp_path)  # read back from the cache
    np.testing.assert_array_equal(first.ear, again.ear)
    assert subject_of(video) == "000003"
    full = evaluate_clip(video, tag, s)
    t, d, m = counts(again, BlinkParams.from_settings(s), s)
    assert (t, d, m) == (full.true, full.detected, full.matched)


def test_each_subject_is_scored_with_thresholds_chosen_on_the_others(three_subjects, tmp_path):
    res = evaluate_loso(three_subjects, Settings(), cache_dir=tmp_path, grid=SMALL_GRID).to_dict()
    assert [f["subject"] for f in res["folds"]] == ["000002", "000003", "000004"]
    assert res["grid_size"] == len(grid_points(SMALL_GRID)) == 4
    assert res["loso"]["true"] == sum(f["true"] for f in res["folds"]) == res["defaults"]["true"]
    assert res["loso"]["matched"] == sum(f["matched"] for f in res["folds"])
    # a depth of 0.3 x baseline rejects most real blinks: tuning on real clips never picks it
    assert all(f["params"]["depth_ratio"] == 0.7 for f in res["folds"])
    assert res["loso"]["f1"] >= 0.9
    # held-out figures by recording condition (all three clips: frontal camera, no glasses)
    assert set(res["conditions"]) == {"frontal", "no glasses"}
    assert res["conditions"]["frontal"] == res["conditions"]["no glasses"]
    assert res["conditions"]["frontal"]["true"] == res["loso"]["true"]
