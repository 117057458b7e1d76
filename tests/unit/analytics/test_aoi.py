"""AOI metrics (TTFF, dwell, visits/revisits, % viewers) against hand-computed values."""

from __future__ import annotations

import pytest

from gazescope.analytics.aoi import AOI, aggregate_aoi_metrics, aoi_metrics, parse_aois, screen_to_stimulus
from gazescope.analytics.events import Fixation, detect_fixations_idt
from gazescope.errors import ValidationError


def fx(start: float, dur: float, x: float, y: float, i: int = 0) -> Fixation:
    return Fixation(start, start + dur, dur, x, y, 3, 0.0, i, i + 2)


A = AOI.rect("A", 0, 0, 100, 100)
B = AOI.rect("B", 200, 0, 100, 100)
C = AOI.polygon("C", [(400, 400), (500, 400), (450, 500)])


def test_per_session_metrics():
    fixes = [
        fx(100, 200, 50, 50),
        fx(400, 150, 250, 50),
        fx(700, 300, 10, 90),
        fx(1100, 100, 99, 1),
        fx(1300, 50, 600, 600),
    ]
    m = {r.name: r for r in aoi_metrics([A, B, C], fixes, start_ms=0)}
    a = m["A"]
    assert (a.fixated, a.ttff_ms, a.first_fixation_ms, a.dwell_ms, a.fixation_count) == (
        True,
        100,
        200,
        600,
        3,
    )
    assert (a.visits, a.revisits) == (2, 1)
    assert a.dwell_pct == pytest.approx(100 * 600 / 800)
    b = m["B"]
    assert (b.ttff_ms, b.dwell_ms, b.fixation_count, b.visits, b.revisits) == (400, 150, 1, 1, 0)
    c = m["C"]
    assert (c.fixated, c.ttff_ms, c.first_fixation_ms, c.dwell_ms, c.visits, c.revisits) == (
        False,
        None,
        None,
        0,
        0,
        0,
    )
    # TTFF counts from the stimulus start
    assert aoi_metrics([A], fixes, start_ms=50)[0].ttff_ms == 50


def test_sample_dwell_and_ttff_from_session_start(scene_samples):
    fixes = detect_fixations_idt(scene_samples, dispersion_px=50)
    tri = AOI.polygon("tri", [(700, 500), (900, 500), (800, 700)])
    mid = AOI.rect("mid", 450, 250, 100, 100)
    m = {r.name: r for r in aoi_metrics([tri, mid], fixes, samples=scene_samples)}
    # tri: samples 13-16 and 18-21, 50 ms each; fixations F3 (150 ms) + F4 (150 ms), consecutive: one visit
    assert m["tri"].sample_dwell_ms == pytest.approx(400)
    assert (m["tri"].dwell_ms, m["tri"].visits, m["tri"].revisits, m["tri"].ttff_ms) == (300, 1, 0, 650)
    # mid: samples 6-9 and 11-12 (the blink sample 10 is not gaze), fixation F2 only
    assert m["mid"].sample_dwell_ms == pytest.approx(300)
    assert (m["mid"].dwell_ms, m["mid"].ttff_ms, m["mid"].fixation_count) == (150, 300, 1)


def test_screen_to_stimulus_scaling():
    # a 960x540 stimulus stretched over a 1920x1080 screen: screen (200, 100) is stimulus (100, 50)
    x, y = screen_to_stimulus([200.0], [100.0], (1920, 1080), (960, 540))
    assert (x[0], y[0]) == (100, 50)
    m = aoi_metrics(
        [AOI.rect("r", 90, 40, 20, 20)],
        [fx(0, 100, 200, 100)],
        screen_size_px=(1920, 1080),
        stimulus_size_px=(960, 540),
    )
    assert m[0].fixated


def test_aggregate_across_sessions():
    s1 = aoi_metrics([A, B], [fx(100, 200, 50, 50), fx(500, 100, 250, 50)], start_ms=0)
    s2 = aoi_metrics([A, B], [fx(300, 400, 50, 50)], start_ms=0)
    s3 = aoi_metrics([A, B], [fx(0, 100, 900, 900)], start_ms=0)
    agg = {a.name: a for a in aggregate_aoi_metrics([s1, s2, s3])}
    a = agg["A"]
    assert (a.n_sessions, a.n_viewers) == (3, 2)
    assert a.viewers_pct == pytest.approx(200 / 3)
    assert a.mean_dwell_ms == pytest.approx(200)  # (200 + 400 + 0) / 3
    assert a.mean_dwell_viewers_ms == pytest.approx(300)
    assert a.mean_ttff_ms == pytest.approx(200)  # (100 + 300) / 2
    b = agg["B"]
    assert (b.n_viewers, b.mean_ttff_ms, b.mean_fixation_count) == (1, 500, pytest.approx(1 / 3))
    assert aggregate_aoi_metrics([]) == []


def test_aoi_validation():
    assert (
        parse_aois([{"name": "x", "kind": "rect", "x_px": 0, "y_px": 0, "w_px": 5, "h_px": 5}])[0].area_px2
        == 25
    )
    assert C.area_px2 == pytest.approx(5000)
    with pytest.raises(ValidationError, match="AOI 0"):
        parse_aois([{"name": "x", "kind": "rect", "x_px": 0}])
    with pytest.raises(ValidationError, match="unique"):
        parse_aois([A, A])
    with pytest.raises(ValidationError, match="AOI 0"):
        parse_aois([{"name": "p", "kind": "polygon", "points_px": [[0, 0], [1, 1]]}])
    assert list(A.contains([0, 100, 101, float("nan")], [0, 100, 50, 5])) == [True, True, False, False]
