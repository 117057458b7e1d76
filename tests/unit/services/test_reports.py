"""services.reports on sessions stored in a real SQLite store: what a report needs from the store, one
session's report and figures, the aggregate over a stimulus with its AOIs."""

from __future__ import annotations

import pytest

from gazescope.services import reports
from gazescope.services.sessions import CALIBRATIONS, load_session
from support.gaze_plans import AOIS, LEFT, PLANS, RIGHT, H, W


def test_the_report_context_holds_the_stimulus_aois_and_the_accuracy(
    store, make_session, make_stimulus, screen_png
) -> None:
    stim = make_stimulus(screen_png, AOIS)
    info = make_session("s1", [LEFT], stimulus_id=stim.id)
    store.put_document(
        CALIBRATIONS, "c1", {"id": "c1", "session_id": "s1", "accuracy": {"mean_error_px": 70.0}}
    )
    ctx = reports.report_context(store, info)
    assert ctx["calibration_accuracy_px"] == 70.0 and ctx["stimulus_size_px"] == (W, H)
    assert [a.name for a in ctx["aois"]] == ["left", "right"]
    gone = make_session("s2", [LEFT], stimulus_id="deleted-stimulus")
    assert reports.report_context(store, gone) == {}


def test_one_sessions_report_and_figures(store, make_session, make_stimulus, screen_png) -> None:
    stim = make_stimulus(screen_png, AOIS)
    make_session("s1", [RIGHT, LEFT], stimulus_id=stim.id)
    report, images = reports.session_report_and_images(load_session(store, "s1"), stim)
    assert report["fixation_count"] == 2 and [a["name"] for a in report["aois"]] == ["left", "right"]
    assert {"timeline", "heatmap", "scanpath", "trail"} <= set(images)
    assert all(png.startswith(b"\x89PNG") for png in images.values())
    page = reports.session_report_html(load_session(store, "s1"), stim)
    assert "<html" in page and "data:image/png;base64," in page


def test_a_stored_report_is_kept_unless_rebuilt(store, make_session) -> None:
    make_session("s1", [LEFT])
    store.save_report("s1", {"kind": "session", "marker": 1})
    data = load_session(store, "s1")
    assert reports.session_report_and_images(data, None)[0]["marker"] == 1
    assert "marker" not in reports.session_report_and_images(data, None, rebuild=True)[0]


def test_the_aggregate_over_a_stimulus_counts_viewers_per_aoi(
    store, make_session, make_stimulus, screen_png
) -> None:
    stim = make_stimulus(screen_png, AOIS)
    datas = []
    for k, plan in enumerate(PLANS):
        make_session(f"s{k}", plan, stimulus_id=stim.id)
        datas.append(load_session(store, f"s{k}"))
    rep = reports.aggregate_report(stim, datas)
    assert rep["kind"] == "aggregate"
    assert {a["name"]: a["viewers_pct"] for a in rep["aois"]} == {"left": 100.0, "right": 50.0}
    page = reports.stimulus_report_html(stim, datas)
    assert "<html" in page and "data:image/png;base64," in page
    plain = reports.aggregate_report(None, datas)
    assert plain["kind"] == "aggregate" and not plain.get("aois")


@pytest.mark.parametrize("method", ["idt", "ivt"])
def test_a_stimulus_report_page_without_gaze_says_so_without_a_figure(
    store, make_session, make_stimulus, screen_png, method
) -> None:
    stim = make_stimulus(screen_png, AOIS)
    make_session("empty", stimulus_id=stim.id)
    page = reports.stimulus_report_html(stim, [load_session(store, "empty")], method)
    assert "<html" in page and "data:image/png;base64," not in page
