"""Real data: the gaze evaluation protocol on one subject of webcam_dots beats the centre baseline."""

from __future__ import annotations

import csv
import math
from collections import defaultdict

import numpy as np
import pytest

from gazescope.evaluation.gaze import evaluate_gaze


def centre_baseline(folder, subject: str) -> float:
    """Mean error of always answering the centre of the calibration session's dots (data README)."""
    by_sess: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with (folder / "labels.csv").open() as fh:
        for r in csv.DictReader(fh):
            if r["subject"] == subject:
                by_sess[r["session"]].append((float(r["x"]), float(r["y"])))
    errs = []
    for cal, pts in by_sess.items():
        c = np.mean(pts, axis=0)
        for s, others in by_sess.items():
            if s != cal:
                errs += [math.hypot(x - c[0], y - c[1]) for x, y in others]
    return float(np.mean(errs))


@pytest.mark.slow
def test_ridge_on_one_subject_beats_the_centre(data_dir) -> None:
    folder = data_dir / "gaze" / "webcam_dots"
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"webcam_dots not found under {data_dir}")
    res = evaluate_gaze(folder, "ridge", subjects=["hy"]).to_dict()
    hy = res["subjects"]["hy"]
    baseline = centre_baseline(folder, "hy")
    print(f"hy ridge mean {hy['mean_error_px']} px (centre baseline {baseline:.1f} px)")
    assert hy["n"] == 8 * 7 * 16
    assert math.isfinite(hy["mean_error_px"])
    assert hy["mean_error_px"] < baseline
    assert res["overall"]["mean_error_px"] == hy["mean_error_px"]


@pytest.mark.slow
def test_zoomed_and_mirrored_views_lower_the_error(data_dir) -> None:
    folder = data_dir / "gaze" / "webcam_dots"
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"webcam_dots not found under {data_dir}")
    plain = evaluate_gaze(folder, "ridge", subjects=["hy"]).to_dict()["subjects"]["hy"]
    res = evaluate_gaze(folder, "ridge", subjects=["hy"], mirror=True, zooms=(0.9, 1.1)).to_dict()
    views = res["subjects"]["hy"]
    print(f"hy ridge mean {plain['mean_error_px']} px plain, {views['mean_error_px']} px with 6 views")
    assert views["n"] == plain["n"] == 8 * 7 * 16
    assert views["mean_error_px"] < plain["mean_error_px"]
    assert res["zooms"] == [0.9, 1.1] and res["mirror"] is True
