"""Fitted calibration JSON: round trip, and profiles that could not map a frame refused."""

from __future__ import annotations

import json

import pytest

from gazescope.calibration.profile import FittedCalibration
from gazescope.errors import CalibrationError

W, H = 1600, 900


def test_json_round_trip_predicts_the_same(fitted, make_ff, gaze_of) -> None:
    text = fitted.to_json()
    d = json.loads(text)
    assert d["version"] == 1 and d["mapper_name"] == "ridge" and "pickle" not in text
    again = FittedCalibration.from_json(text)
    ff = make_ff(*gaze_of(300, 700, W, H))
    assert again.predict_screen(ff) == pytest.approx(fitted.predict_screen(ff))
    assert again.accuracy == fitted.accuracy and again.head_range == fitted.head_range
    assert (again.screen_w_px, again.screen_h_px, again.mapper_name) == (W, H, "ridge")
    with pytest.raises(CalibrationError, match="version"):
        FittedCalibration.from_json(json.dumps({**d, "version": 99}))
    with pytest.raises(CalibrationError, match="JSON"):
        FittedCalibration.from_json("{not json")


def _with_axis(d: dict, k: int, **changes) -> dict:
    axes = [dict(ax) for ax in d["mapper"]["axes"]]
    axes[k].update(changes)
    return {**d, "mapper": {**d["mapper"], "axes": axes}}


def test_profiles_that_would_fail_every_frame_are_refused(fitted) -> None:
    d = fitted.to_dict()
    n_terms = len(d["mapper"]["axes"][0]["coef"])
    cases = {
        "zero width": ({**d, "screen_w_px": 0}, "screen"),
        "negative height": ({**d, "screen_h_px": -5}, "screen"),
        "unfitted mapper": ({**d, "mapper": {**d["mapper"], "axes": None}}, "not fitted"),
        "wrong-shaped powers": (_with_axis(d, 0, powers=[[1, 0, 0]] * n_terms), "ridge"),
        "string intercept": (_with_axis(d, 1, intercept="abc"), "ridge"),
        "zero scale": (_with_axis(d, 0, scale=[0.0] * n_terms), "finite"),
        "unknown head feature": ({**d, "head_range": {"no_such_feature": [0.0, 1.0]}}, "head_range"),
    }
    for what, (bad, reason) in cases.items():
        with pytest.raises(CalibrationError, match=reason):
            FittedCalibration.from_dict(bad)
            pytest.fail(f"accepted: {what}")
    assert FittedCalibration.from_dict(d).screen_w_px == W
