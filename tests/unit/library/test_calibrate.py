"""Calibration from Python on real webcam_dots sittings: fit, apply to a tracker, save and load."""

from __future__ import annotations

import csv
import math

import cv2
import numpy as np
import pytest

import gazescope
from gazescope.errors import NotEnoughDataError, UnknownMapperError, ValidationError


def sitting(
    data_dir, subject: str, session: str
) -> list[tuple[np.ndarray, tuple[float, float], tuple[int, int]]]:
    folder = data_dir / "gaze" / "webcam_dots"
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"webcam_dots not found under {data_dir}")
    out = []
    with (folder / "labels.csv").open() as fh:
        for r in csv.DictReader(fh):
            if r["subject"] == subject and r["session"] == session:
                img = cv2.imread(str(folder / r["image"]))
                out.append((img, (float(r["x"]), float(r["y"])), (int(r["screen_w"]), int(r["screen_h"]))))
    return out


def test_a_fitted_calibration_gives_screen_points(data_dir, tmp_path) -> None:
    cal_rows = sitting(data_dir, "hy", "1")
    w, h = cal_rows[0][2]
    with gazescope.Calibrator(w, h, static=True) as calibrator:
        kept = [calibrator.add(img, target) for img, target, _ in cal_rows]
        result = calibrator.fit()
    assert sum(kept) >= 14
    assert result.n_calibration_points == sum(kept)
    assert result.validation_source == "leave_one_out"
    assert result.grade in {"good", "fair", "poor"} and math.isfinite(result.mean_error_px)

    path = gazescope.save_calibration(result.calibration, tmp_path / "hy.json")
    loaded = gazescope.load_calibration(path)
    assert loaded.profile_id == result.calibration.profile_id

    test_rows = sitting(data_dir, "hy", "4")
    errors = []
    with gazescope.Tracker(calibration=loaded, static=True) as tracker:
        for img, (x, y), _ in test_rows:
            s = tracker.process(img)
            if s.screen_x_px is not None:
                assert 0 <= s.screen_x_px < w and 0 <= s.screen_y_px < h
                assert s.on_screen is not None and s.calibration_fit == loaded.profile_id
                assert 0.0 <= s.horizontal_ratio <= 1.0  # the ratio, not the screen height
                errors.append(math.hypot(s.screen_x_px - x, s.screen_y_px - y))
    assert len(errors) >= 14
    print(f"hy: fitted on sitting 1, mean error on sitting 4 {np.mean(errors):.0f} px")
    assert (
        np.mean(errors) < 0.5 * w
    )  # a real mapping, not noise (the evaluation's figures: docs/performance.md)


def test_calibrating_on_the_tracker_itself(data_dir) -> None:
    rows = sitting(data_dir, "math10", "1")
    w, h = rows[0][2]
    with gazescope.Tracker(static=True) as tracker:
        calibrator = gazescope.Calibrator(w, h, tracker=tracker)
        for img, target, _ in rows:
            calibrator.add(img, target)
        tracker.set_calibration(calibrator.fit().calibration)
        calibrator.close()  # leaves the tracker open
        s = tracker.process(rows[0][0])
    assert s.screen_x_px is not None


def test_too_few_points_and_bad_arguments_say_why(data_dir) -> None:
    rows = sitting(data_dir, "hy", "1")[:2]
    with gazescope.Calibrator(1536, 920, static=True) as calibrator:
        for img, target, _ in rows:
            calibrator.add(img, target)
        with pytest.raises(NotEnoughDataError, match="needs at least"):
            calibrator.fit()
        with pytest.raises(ValidationError, match="off the"):
            calibrator.add(rows[0][0], (5000, 10))
    with pytest.raises(UnknownMapperError, match="ridge"):
        gazescope.Calibrator(1536, 920, mapper="nope")
