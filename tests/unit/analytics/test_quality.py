"""The data-quality card (analytics.quality) on its own and inside a session report."""

from __future__ import annotations

import pytest

from gazescope.analytics.quality import CheckStatus, assess_data_quality
from gazescope.analytics.report import build_session_report
from gazescope.config import DataQualitySettings


def card(**kw):
    args = dict(
        frames=900, frames_with_face=880, duration_s=30.0, dropped_frames=0, calibrated=False,
        calibration_error_px=None, screen_w_px=None,
    )  # fmt: skip
    args.update(kw)
    return assess_data_quality(**args)


def test_a_good_session_passes_and_calibration_is_not_applicable_without_one():
    q = card()
    assert q.status is CheckStatus.PASS and q.failed == ()
    assert q.check("effective_fps").value == pytest.approx(30.0)
    assert q.check("face_share").value == pytest.approx(880 / 900)
    assert q.check("calibration_error").status is CheckStatus.NOT_APPLICABLE
    assert q.check("dropped_share").value == 0.0
    d = q.to_dict()
    assert [c["name"] for c in d["checks"]] == [
        "effective_fps",
        "face_share",
        "calibration_error",
        "dropped_share",
    ]
    assert all(c["setting"] in DataQualitySettings.model_fields for c in d["checks"])


def test_a_session_at_3_7_fps_fails():
    """Issue 19: 19 frames in 5.2 s was not flagged."""
    q = card(frames=19, frames_with_face=19, duration_s=5.2)
    fps = q.check("effective_fps")
    assert fps.value == pytest.approx(19 / 5.2) and fps.status is CheckStatus.FAIL
    assert q.status is CheckStatus.FAIL and q.failed == ("effective_fps",)
    assert fps.detail == "19 frames in 5.2 s"


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        pytest.param({"frames_with_face": 700}, "face_share", id="face-share-0.78"),
        pytest.param({"dropped_frames": 120}, "dropped_share", id="dropped-0.118"),
        pytest.param(
            {"calibrated": True, "calibration_error_px": 341.0, "screen_w_px": 1280},
            "calibration_error",
            id="calibration-27pct",
        ),
    ],
)
def test_each_check_fails_past_its_threshold(kw, name):
    q = card(**kw)
    assert q.failed == (name,) and q.status is CheckStatus.FAIL


def test_calibration_error_in_percent_of_width_and_unknown_when_not_recorded():
    ok = card(calibrated=True, calibration_error_px=150.0, screen_w_px=1500).check("calibration_error")
    assert ok.value == pytest.approx(10.0) and ok.status is CheckStatus.PASS
    assert "150 px" in ok.detail
    unknown = card(calibrated=True).check("calibration_error")
    assert unknown.status is CheckStatus.UNKNOWN and unknown.value is None
    no_width = card(calibrated=True, calibration_error_px=150.0).check("calibration_error")
    assert no_width.status is CheckStatus.UNKNOWN


def test_thresholds_come_from_settings():
    q = card(
        frames=19, frames_with_face=19, duration_s=5.2, thresholds=DataQualitySettings(quality_min_fps=3.0)
    )
    assert q.check("effective_fps").status is CheckStatus.PASS and q.check("effective_fps").threshold == 3.0


def test_no_frames_is_not_a_pass():
    q = card(frames=0, frames_with_face=0, duration_s=0.0)
    assert q.status is CheckStatus.UNKNOWN
    assert {c.status for c in q.checks} == {CheckStatus.NOT_APPLICABLE}


def test_the_report_carries_the_card(make_sample):
    # 19 frames over 5.2 s (the last frame's interval is the median one)
    step = 5200.0 / 19
    samples = [make_sample(step * i, None, None, dropped_frames=0) for i in range(19)]
    r = build_session_report({"id": "slow", "screen_w_px": 1280}, samples, calibration_accuracy_px=341.0)
    assert r.duration_s == pytest.approx(5.2)
    d = r.to_dict()["data_quality"]
    assert d["status"] == "fail" and d["failed"] == ["effective_fps", "calibration_error"]
    cal = next(c for c in d["checks"] if c["name"] == "calibration_error")
    assert cal["value"] == pytest.approx(100 * 341 / 1280, abs=1e-3)
    empty = build_session_report({"id": "e"}, []).to_dict()["data_quality"]
    assert empty["status"] == "unknown"


def test_the_card_of_a_stored_report_made_before_cards():
    from gazescope.analytics.quality import quality_of_report

    old = {"kind": "session", "frames": 19, "frames_with_face": 19, "duration_s": 5.2, "dropped_frames": 0,
           "calibration_accuracy_px": 341.0, "screen_w_px": 1280, "has_gaze": True}  # fmt: skip
    q = quality_of_report(old)
    assert q.failed == ("effective_fps", "calibration_error")
    assert quality_of_report({}).status is CheckStatus.UNKNOWN
