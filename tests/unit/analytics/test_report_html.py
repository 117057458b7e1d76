"""The self-contained HTML report page and the figures a session's page shows."""

from __future__ import annotations

import pytest

from gazescope.analytics.plots.timeline import render_timeline_png
from gazescope.analytics.report import build_session_report
from gazescope.analytics.report_html import render_report_html, session_images
from gazescope.errors import ValidationError


def test_html_page(video_samples, scene_samples):
    png = render_timeline_png(video_samples)
    r = build_session_report({"id": "v", "label": "<script>x</script>"}, video_samples)
    page = render_report_html(r, {"timeline": png})
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Gaze on screen" not in page and 'src="http' not in page
    session = {"id": "g", "screen_w_px": 1280, "screen_h_px": 720}
    imgs = session_images(session, scene_samples)
    assert sorted(imgs) == ["attention", "heatmap", "scanpath", "timeline", "trail"]
    page = render_report_html(build_session_report(session, scene_samples), imgs)
    assert "Gaze on screen" in page and page.count("<img") == 5
    assert sorted(session_images({"id": "v"}, video_samples)) == ["attention", "timeline"]
    with pytest.raises(ValidationError):
        render_report_html({"frames": 1}, {})


def test_html_page_of_a_stored_report_dict_is_the_same(scene_samples):
    session = {"id": "g", "screen_w_px": 1280, "screen_h_px": 720}
    r = build_session_report(session, scene_samples)
    assert render_report_html(r) == render_report_html(r.to_dict())
    assert "Gaze on screen" in render_report_html(r)


def test_empty_session():
    r = build_session_report({"id": "e"}, []).to_dict()
    assert r["frames"] == 0 and r["has_gaze"] is False and r["attention_timeline"] == []
    assert "<h1>" in render_report_html(r, {"timeline": render_timeline_png([])})
