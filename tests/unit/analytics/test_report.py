"""Session and aggregate reports on synthetic samples: typed values whose ``to_dict()`` is the stored JSON."""

from __future__ import annotations

import json

import pytest

from gazescope.analytics.aoi import AOI
from gazescope.analytics.report import (
    AggregateReport,
    SessionReport,
    build_aggregate_report,
    build_session_report,
)
from gazescope.errors import ValidationError

SCORES = [0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.4, 0.4, 0.0, 0.0]


def test_session_report_fields_without_screen_gaze(video_samples):
    r = build_session_report({"id": "s1", "label": "demo"}, video_samples).to_dict()
    json.dumps(r, allow_nan=False)
    assert (r["frames"], r["frames_with_face"]) == (10, 8)
    assert r["duration_s"] == pytest.approx(1.0) and r["tracked_s"] == pytest.approx(1.0)
    assert r["attention_state_s"] == pytest.approx(
        {"focused": 0.6, "looking_away": 0.2, "eyes_closed": 0.0, "drowsy": 0.0, "absent": 0.2}
    )
    assert r["focus_pct"] == pytest.approx(60.0)
    assert r["eye_contact_pct"] == pytest.approx(60.0)
    assert r["attention_mean"] == pytest.approx(sum(SCORES) / 10)
    assert r["blink_count"] == 2 and r["blink_rate_per_min"] == pytest.approx(120.0)
    assert len(r["blinks"]) == 2
    assert r["perclos_mean"] == pytest.approx(0.1)
    assert r["dropped_frames"] == 1
    assert r["ms_per_frame_p50"] == pytest.approx(55.0) and r["ms_per_frame_p95"] == pytest.approx(95.5)
    assert r["attention_timeline"] == [
        {
            "t_s": 0.0,
            "attention_score": pytest.approx(0.56),
            "attention_state": "focused",
            "activity": "focused",
        }
    ]
    assert r["has_gaze"] is False and "fixations" not in r


def test_timeline_bins_of_one_second(make_sample):
    s = [make_sample(250 * i, None, None, attention_score=0.5 if i < 4 else 1.0,
                     attention_state="focused" if i < 4 else "drowsy") for i in range(12)]  # fmt: skip
    tl = build_session_report({}, s).to_dict()["attention_timeline"]
    assert [(p["t_s"], p["attention_score"], p["attention_state"]) for p in tl] == [
        (0.0, 0.5, "focused"), (1.0, 1.0, "drowsy"), (2.0, 1.0, "drowsy")
    ]  # fmt: skip


def test_fps_hint_times_untimed_frames(video_samples):
    for s in video_samples:
        s["t_ms"] = None
    with pytest.raises(ValidationError, match="fps_hint"):
        build_session_report({}, video_samples).to_dict()
    r = build_session_report({}, video_samples, fps_hint=10.0).to_dict()
    assert r["duration_s"] == pytest.approx(1.0) and r["focus_pct"] == pytest.approx(60.0)


def test_session_report_with_screen_gaze_and_aois(scene_samples):
    aois = [AOI.rect("left", 0, 0, 300, 300), {"name": "right", "kind": "rect", "x_px": 700, "y_px": 500,
                                               "w_px": 200, "h_px": 200}]  # fmt: skip
    r = build_session_report(
        {"id": "g", "screen_w_px": 1280, "screen_h_px": 720}, scene_samples, aois=aois
    ).to_dict()
    json.dumps(r, allow_nan=False)
    assert r["has_gaze"] and r["fixation_count"] == 4 and r["saccade_count"] == 1
    assert r["mean_fixation_ms"] == pytest.approx((250 + 150 + 150 + 150) / 4)
    assert [f["start_ms"] for f in r["fixations"]] == [0, 300, 650, 900]
    left, right = r["aois"]
    assert (left["ttff_ms"], left["dwell_ms"], left["fixation_count"]) == (0, 250, 1)
    assert (right["ttff_ms"], right["dwell_ms"], right["visits"]) == (650, 300, 1)
    assert r["methods"]["fixation_method"] == "idt" and r["methods"]["threshold_px"] == 100
    assert (r["screen_w_px"], r["screen_h_px"], r["fps"]) == (1280, 720, 20.0)


def test_aggregate_report(scene_samples, make_sample):
    other = [make_sample(50 * i, 1000, 100) for i in range(6)]
    aois = [AOI.rect("left", 0, 0, 300, 300)]
    screen = {"screen_w_px": 1280, "screen_h_px": 720}
    r = build_aggregate_report({"id": "st", "name": "ad"}, [({"id": "a", **screen}, scene_samples),
                                                           ({"id": "b", **screen}, other)], aois).to_dict()  # fmt: skip
    json.dumps(r, allow_nan=False)
    assert r["n_sessions"] == 2 and r["n_sessions_with_gaze"] == 2
    (a,) = r["aois"]
    assert (a["n_viewers"], a["viewers_pct"], a["mean_ttff_ms"], a["mean_dwell_ms"]) == (1, 50.0, 0.0, 125.0)
    assert [s["fixation_count"] for s in r["sessions"]] == [4, 1]


def test_the_trackers_blink_count_is_authoritative_even_when_zero():
    # long closed-eye stretch the tracker did not count as a blink: no blink is reported
    samples = [
        {"t_ms": i * 33.3, "face_detected": True, "blink_count": 0, "is_blinking": 30 <= i < 90,
         "attention_state": "focused", "attention_score": 1.0}
        for i in range(300)
    ]  # fmt: skip
    rep = build_session_report({"id": "s"}, samples).to_dict()
    assert rep["blink_count"] == 0 and rep["blink_rate_per_min"] == 0.0
    without = [{k: v for k, v in s.items() if k != "blink_count"} for s in samples]
    assert (
        build_session_report({"id": "s"}, without).to_dict()["blink_count"] == 1
    )  # no count: closed-eye runs


def test_reports_are_typed_and_their_json_matches(scene_samples):
    screen = {"id": "g", "screen_w_px": 1280, "screen_h_px": 720}
    r = build_session_report(screen, scene_samples)
    assert isinstance(r, SessionReport) and r.has_gaze and r.gaze is not None
    assert len(r.gaze.fixations) == r.to_dict()["fixation_count"] == 4
    assert r.to_dict()["session"] == screen
    agg = build_aggregate_report({"id": "st"}, [(screen, scene_samples)])
    assert isinstance(agg, AggregateReport) and agg.n_sessions == 1
    assert agg.to_dict()["sessions"][0]["fixation_count"] == 4


def test_aggregate_aoi_figures_leave_out_sessions_without_screen_gaze(scene_samples, make_sample):
    # issue 19: an uncalibrated session (no screen point) was counted as a viewer who never looked
    uncalibrated = [make_sample(50 * i, None, None) for i in range(20)]
    screen = {"screen_w_px": 1280, "screen_h_px": 720}
    r = build_aggregate_report(
        {"id": "st"},
        [({"id": "a", **screen}, scene_samples), ({"id": "u", **screen}, uncalibrated)],
        [AOI.rect("left", 0, 0, 300, 300)],
    ).to_dict()
    (a,) = r["aois"]
    assert (a["n_sessions"], a["n_viewers"], a["viewers_pct"]) == (1, 1, 100.0)
    assert a["mean_dwell_ms"] == 250.0
    assert r["n_sessions"] == 2 and r["n_sessions_with_gaze"] == 1
    left_out = r["sessions_without_gaze"]
    assert left_out["count"] == 1 and left_out["session_ids"] == ["u"]
    assert "calibrat" in left_out["reason"]
