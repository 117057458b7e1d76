"""Gaze over a video stimulus (analytics.video): placement of fixations on the video's time line, time
windows, window heatmaps and AOIs limited to a time range, and the overlay renderer."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gazescope.analytics.aoi import AOI
from gazescope.analytics.video import (
    fixations_in_window,
    video_aoi_report,
    viewer_gaze,
    window_counts,
    window_heatmap,
)
from gazescope.analytics.video_overlay import render_overlay
from gazescope.errors import ValidationError

VIDEO = "vid1"


def samples_at(
    points: list[tuple[float, float, float]], *, stimulus: str = VIDEO, fps: float = 30.0
) -> list[dict]:
    """One sample per (video_t_s, x, y) in screen px (the screen is 2x the video), real time = video time."""
    return [
        {"t_ms": t * 1000.0, "frame_index": k, "screen_x_px": x, "screen_y_px": y, "on_screen": True,
         "stimulus_id": stimulus, "video_t_s": t}
        for k, (t, x, y) in enumerate(points)
    ]  # fmt: skip


def two_fixations() -> list[dict]:
    # 0-1 s at screen (200, 200) -> video (100, 100); 2-3 s at screen (600, 200) -> video (300, 100)
    first = [(k / 30.0, 200.0, 200.0) for k in range(31)]
    second = [(2.0 + k / 30.0, 600.0, 200.0) for k in range(31)]
    return samples_at(first + second)


def viewer(samples: list[dict], sid: str = "s1"):
    return viewer_gaze(sid, samples, VIDEO, screen_size_px=(800, 400), video_size_px=(400, 200))


def test_fixations_are_placed_on_the_video_time_line_in_video_pixels() -> None:
    v = viewer(two_fixations() + samples_at([(3.5, 10.0, 10.0)], stimulus="other"))
    assert len(v.samples) == 62  # the other stimulus' sample is left out
    assert [(round(f.x_px), round(f.y_px)) for f in v.fixations] == [(100, 100), (300, 100)]
    assert v.fixations[0].start_s == pytest.approx(0.0) and v.fixations[0].end_s == pytest.approx(1.0)
    assert v.fixations[1].start_s == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("t0", "t1", "expected_ms"),
    [
        pytest.param(0.0, 0.5, [500.0], id="inside-the-first"),
        pytest.param(0.5, 2.5, [500.0, 500.0], id="overlapping-both"),
        pytest.param(1.2, 1.8, [], id="between"),
    ],
)
def test_window_holds_the_overlapping_part_of_each_fixation(
    t0: float, t1: float, expected_ms: list[float]
) -> None:
    got = fixations_in_window(viewer(two_fixations()), t0, t1)
    assert [f.duration_ms for f in got] == pytest.approx(expected_ms)
    assert all(t0 * 1000 <= f.start_ms <= f.end_ms <= t1 * 1000 for f in got)


def test_window_heatmap_follows_the_moment() -> None:
    v = viewer(two_fixations())
    early = window_heatmap([v], 0.5, 1.0, (400, 200))
    late = window_heatmap([v], 2.5, 1.0, (400, 200))
    assert early.peak_px()[0] == pytest.approx(100, abs=early.cell_px)
    assert late.peak_px()[0] == pytest.approx(300, abs=late.cell_px)
    with pytest.raises(ValidationError):
        window_heatmap([v], 0.5, 0.0, (400, 200))


def test_window_counts_per_window() -> None:
    rows = window_counts([viewer(two_fixations()), viewer(two_fixations(), "s2")], 1.0, 3.0)
    assert [r["fixations"] for r in rows] == [2, 0, 2]
    assert [r["viewers"] for r in rows] == [2, 0, 2]
    assert rows[0]["fixated_ms"] == pytest.approx(2000.0)


def test_aoi_figures_stay_inside_the_aoi_time_range() -> None:
    right = AOI(name="right", kind="rect", x_px=200, y_px=0, w_px=200, h_px=200, start_s=1.5, end_s=3.0)
    everywhere = AOI(name="all", kind="rect", x_px=0, y_px=0, w_px=400, h_px=200, start_s=0.5)
    rep = video_aoi_report([right, everywhere], [viewer(two_fixations())], duration_s=3.0)
    m = {a["name"]: a for a in rep["sessions"][0]["aois"]}
    assert m["right"]["ttff_ms"] == pytest.approx(500.0)  # fixation at 2.0 s, AOI from 1.5 s
    assert m["right"]["dwell_ms"] == pytest.approx(1000.0)
    assert m["all"]["ttff_ms"] == pytest.approx(0.0)  # the first fixation is still on at 0.5 s
    assert m["all"]["dwell_ms"] == pytest.approx(1500.0)  # 0.5-1.0 s and 2.0-3.0 s
    agg = {a["name"]: a for a in rep["aois"]}
    assert (agg["right"]["start_s"], agg["right"]["end_s"]) == (1.5, 3.0)
    assert agg["all"]["end_s"] == 3.0 and agg["all"]["n_viewers"] == 1


def test_aoi_time_range_is_checked() -> None:
    with pytest.raises(ValueError):
        AOI(name="x", kind="rect", x_px=0, y_px=0, w_px=1, h_px=1, start_s=2.0, end_s=1.0)


def test_overlay_has_the_videos_frames_and_size(tmp_path: Path) -> None:
    src = tmp_path / "in.avi"
    w = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (400, 200))
    for k in range(45):
        w.write(np.full((200, 400, 3), k * 5, dtype=np.uint8))
    w.release()
    seen: list[int] = []
    for mode in ("heatmap", "points"):
        out = tmp_path / f"{mode}.mp4"
        n = render_overlay(
            src, out, [viewer(two_fixations())], mode=mode, progress=lambda d, t: seen.append(d)
        )
        cap = cv2.VideoCapture(str(out))
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
        cap.release()
        assert n == len(frames) == 45 and frames[0].shape == (200, 400, 3)
        # at 0.5 s the gaze is at video (100, 100): that spot is coloured, the far corner is not
        f = frames[15].astype(int)
        assert np.abs(f[100, 100] - 75).sum() > 60 and np.abs(f[190, 390] - 75).sum() < 15
    assert seen[-1] == 45
