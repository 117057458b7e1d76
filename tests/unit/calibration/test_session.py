"""The calibration state machine: settle window, blinks, fitting, validation, drift, features."""

from __future__ import annotations

import numpy as np
import pytest

from gazescope.calibration.drift import check_drift
from gazescope.calibration.features import extract_features
from gazescope.calibration.session import CalibrationSession, grade_for
from gazescope.calibration.targets import LAYOUT_NAMES, grid_layout, pursuit_path
from gazescope.domain import FrameFeatures
from gazescope.errors import CalibrationError, NotEnoughDataError, ValidationError

W, H = 1600, 900


def run_target(
    s: CalibrationSession, idx: int, t0: float, make_ff, gaze_of, n: int = 20, blink_at=()
) -> float:
    s.target_shown(idx, t0)
    x, y = s.targets_px[idx]
    gx, gy = gaze_of(x, y, W, H)
    for k in range(n):
        t = t0 + 33.0 * k
        s.add(make_ff(gx, gy), t, is_blinking=k in blink_at)
    return t0 + 33.0 * n


def test_features_follow_the_iris(make_ff) -> None:
    f = extract_features(make_ff(0.05, -0.02))
    assert f is not None
    assert f.iris_x == pytest.approx(0.05, abs=1e-4)
    assert f.iris_y == pytest.approx(-0.02, abs=1e-4)
    assert f.iris_x_right == pytest.approx(f.iris_x_left, abs=1e-4)
    assert f.nose_x_norm == pytest.approx(0.5)
    # mirror-averaging a perfectly symmetric face changes nothing
    mirrored = make_ff(0.05, -0.02)  # a symmetric face seen in a mirror looks the same but gx flips sign
    flipped = make_ff(-0.05, -0.02)
    g2 = extract_features(mirrored, mirrored=flipped)
    assert g2 is not None and g2.iris_x == pytest.approx(0.05, abs=1e-4)
    assert extract_features(FrameFeatures(face_detected=False, face_count=0, image_size=(640, 480))) is None


def test_session_skips_settle_window_and_blinks(make_ff, gaze_of) -> None:
    s = CalibrationSession("9", W, H, settle_ms=300)
    assert s.add(make_ff(0, 0), 0.0) is False  # no target yet
    s.target_shown(0, 1000.0)
    assert s.add(make_ff(0, 0), 1100.0) is False  # settling
    assert s.add(make_ff(0, 0), 1299.0) is False
    assert s.add(make_ff(0, 0), 1300.0) is True
    assert s.add(make_ff(0, 0), 1400.0, is_blinking=True) is False
    assert s.add(FrameFeatures(face_detected=False, face_count=0, image_size=(640, 480)), 1450.0) is False
    assert s.counts == {"accepted": 1, "settling": 2, "blink": 1, "no_features": 1, "no_target": 1, "full": 0}
    # showing the same target again does not restart the settle window; a new one does
    s.target_shown(0, 1500.0)
    assert s.add(make_ff(0, 0), 1510.0) is True
    s.target_shown(1, 1600.0)
    assert s.add(make_ff(0, 0), 1700.0) is False
    assert s.progress()[0]["samples"] == 2


def test_session_fits_and_validates_on_held_out_points(make_ff, gaze_of) -> None:
    s = CalibrationSession("9", W, H, settle_ms=300, user_id="ana")
    t = 0.0
    for i in range(len(s.targets_px)):
        t = run_target(s, i, t, make_ff, gaze_of, blink_at=(12, 13))
    r = s.finish()
    assert r.validation_source == "validation"
    assert r.n_calibration_points == 9 and r.n_validation_points == 4
    assert r.mean_error_px < 5.0 and r.grade == "good"
    assert r.precision_rms_px is not None and r.precision_rms_px < 1.0
    assert all(p.validation for p in r.points)
    assert r.counts["blink"] == 2 * 13 and r.counts["settling"] > 0
    cal = r.calibration
    x, y = cal.predict_screen(make_ff(*gaze_of(400, 300, W, H)))
    assert abs(x - 400) < 5 and abs(y - 300) < 5
    assert cal.accuracy["grade"] == "good"
    assert cal.head_in_range(make_ff(0, 0)) is True
    assert cal.head_in_range(make_ff(0, 0, yaw=35.0)) is False
    assert cal.head_in_range(make_ff(0, 0, nose_x=500.0)) is False
    with pytest.raises(CalibrationError):
        s.add(make_ff(0, 0), t + 1000)

    # drift: same person, same place -> fine; iris shifted (the head moved) -> recalibrate
    ok = check_drift(cal, [make_ff(*gaze_of(800, 450, W, H))] * 5, (800, 450))
    assert ok.recalibrate is False and ok.n_samples == 5
    gx, gy = gaze_of(800, 450, W, H)
    bad = check_drift(cal, [make_ff(gx + 0.05, gy)] * 5, (800, 450))
    assert bad.recalibrate is True and bad.error_px > 300
    with pytest.raises(NotEnoughDataError):
        check_drift(cal, [FrameFeatures(face_detected=False, face_count=0, image_size=(640, 480))], (1, 1))


def test_session_without_validation_points_uses_leave_one_out(make_ff, gaze_of) -> None:
    s = CalibrationSession("9", W, H)
    t = 0.0
    for i in range(9):
        t = run_target(s, i, t, make_ff, gaze_of)
    r = s.finish()
    assert r.validation_source == "leave_one_out" and len(r.points) == 9
    assert r.mean_error_px < 20.0


def test_session_with_too_few_points_says_how_many(make_ff, gaze_of) -> None:
    s = CalibrationSession("9", W, H)
    t = 0.0
    for i in range(3):
        t = run_target(s, i, t, make_ff, gaze_of)
    with pytest.raises(NotEnoughDataError, match=r"at least 4 calibration points.*got 3"):
        s.finish()


def test_custom_point_targets(make_ff, gaze_of) -> None:
    s = CalibrationSession("5", W, H)
    assert s.target_shown(s.targets_px[2], 0.0) == 2  # matched to the layout's centre
    idx = s.target_shown((123.0, 456.0), 10.0)
    assert idx == len(grid_layout("5").all_norm)
    with pytest.raises(ValidationError):
        s.target_shown((W + 10.0, 0.0), 20.0)
    with pytest.raises(ValidationError):
        s.target_shown(99, 30.0)


def test_layouts_and_pursuit_path() -> None:
    for name in LAYOUT_NAMES:
        lay = grid_layout(name)
        assert len(lay.points_norm) == int(name)
        assert lay.validation_norm and not set(lay.validation_norm) & set(lay.points_norm)
        for x, y in lay.all_norm:
            assert 0.1 - 1e-9 <= x <= 0.9 + 1e-9 and 0.1 - 1e-9 <= y <= 0.9 + 1e-9
    with pytest.raises(ValidationError, match="available"):
        grid_layout("7")
    path = pursuit_path(duration_ms=2000, rate_hz=30)
    assert len(path) == 61 and path[0][0] == 0.0 and path[-1][0] == pytest.approx(2000.0)
    arr = np.array(path)
    assert arr[:, 1:].min() >= 0.1 - 1e-9 and arr[:, 1:].max() <= 0.9 + 1e-9


def test_grades() -> None:
    assert grade_for(5.0) == "good" and grade_for(15.0) == "fair" and grade_for(30.0) == "poor"


def test_pursuit_points_settle_only_once(make_ff, gaze_of) -> None:
    s = CalibrationSession("9", W, H, settle_ms=300, min_samples_per_point=1)
    kept = 0
    for k, (t_ms, xn, yn) in enumerate(pursuit_path(duration_ms=6000, rate_hz=30)):
        x, y = xn * W, yn * H
        s.target_shown((x, y), t_ms, validation=k % 5 == 4)
        kept += s.add(make_ff(*gaze_of(x, y, W, H)), t_ms + 1.0)
    assert kept >= 170 - 10  # only the first ~300 ms are skipped
    r = s.finish()
    assert r.validation_source == "validation" and r.mean_error_px < 10.0


def test_samples_and_custom_targets_are_capped(make_ff, gaze_of) -> None:
    from gazescope.calibration import session as session_mod

    s = CalibrationSession("9", W, H, settle_ms=0)
    s.target_shown(0, 0.0)
    n = session_mod.MAX_SAMPLES_PER_TARGET + 50
    for k in range(n):
        assert s.add(make_ff(0, 0), 10.0 + k) is True
    assert s.progress()[0]["samples"] == session_mod.MAX_SAMPLES_PER_TARGET  # the newest are kept
    assert s.counts["accepted"] == n

    s = CalibrationSession("9", W, H, settle_ms=0)
    n_layout = len(s.targets_px)
    for k in range(session_mod.MAX_CUSTOM_TARGETS):
        s.target_shown((1.0 + k * 3.0, 5.0 + (k % 7)), float(k))
    assert len(s.targets_px) == n_layout + session_mod.MAX_CUSTOM_TARGETS
    with pytest.raises(ValidationError, match="too many targets"):
        s.target_shown((W - 1.0, H - 1.0), 1e6)
    assert len(s.targets_px) == n_layout + session_mod.MAX_CUSTOM_TARGETS
    s.target_shown(0, 1e6 + 1)  # layout targets and known points still work


def test_kept_samples_are_capped_in_total(make_ff, gaze_of, monkeypatch) -> None:
    from gazescope.calibration import session as session_mod

    monkeypatch.setattr(session_mod, "MAX_SAMPLES_TOTAL", 30)
    s = CalibrationSession("9", W, H, settle_ms=0)
    kept = 0
    for i in range(len(s.targets_px)):
        s.target_shown(i, 1000.0 * i)
        kept += sum(s.add(make_ff(0, 0), 1000.0 * i + k) for k in range(10))
    assert kept == 30 and sum(p["samples"] for p in s.progress()) == 30
    assert s.counts["full"] == 10 * len(s.targets_px) - 30
