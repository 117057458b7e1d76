"""Fitted calibration JSON and the profile store, including a 'restart' (a new store on the same dir)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gazescope.calibration.profile import FittedCalibration, ProfileStore, sanitise_name
from gazescope.calibration.session import CalibrationSession
from gazescope.config import Settings
from gazescope.errors import CalibrationError, ProfileNotFoundError

W, H = 1600, 900


@pytest.fixture
def fitted(make_ff, gaze_of) -> FittedCalibration:
    s = CalibrationSession("9", W, H, user_id="ana")
    t = 0.0
    for i, (x, y) in enumerate(s.targets_px):
        s.target_shown(i, t)
        for k in range(15):
            s.add(make_ff(*gaze_of(x, y, W, H)), t + 33.0 * k)
        t += 1000.0
    return s.finish().calibration


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


def test_store_survives_a_restart(tmp_path, fitted, make_ff, gaze_of) -> None:
    settings = Settings(profiles_dir=tmp_path / "profiles")
    store = ProfileStore(settings)
    pid = store.save(fitted)
    assert [i.profile_id for i in store.list("ana")] == [pid]

    restarted = ProfileStore(settings)  # a new instance on the same folder, as after a server restart
    loaded = restarted.load(pid)
    ff = make_ff(*gaze_of(1200, 200, W, H))
    assert loaded.predict_screen(ff) == pytest.approx(fitted.predict_screen(ff))
    assert restarted.latest("ana").profile_id == pid
    restarted.delete(pid)
    with pytest.raises(ProfileNotFoundError):
        restarted.load(pid)
    with pytest.raises(ProfileNotFoundError):
        store.latest("ana")


def test_latest_and_unsafe_names(tmp_path, fitted) -> None:
    from dataclasses import replace

    store = ProfileStore(tmp_path)
    older = replace(fitted, profile_id="old", created_at_ms=1.0)
    newer = replace(fitted, profile_id="new", created_at_ms=2.0)
    store.save(older, user_id="../../etc/passwd")
    store.save(newer, user_id="../../etc/passwd")
    assert all(p.parent == tmp_path for p in tmp_path.iterdir())
    assert store.latest("../../etc/passwd").profile_id == "new"
    assert sanitise_name("a b/c") == "a_b_c"
    assert np.isfinite(store.list()[0].created_at_ms)


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
