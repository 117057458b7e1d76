"""The clocks that stamp samples with the video shown and its time (tracking.video_clock)."""

from __future__ import annotations

import pytest

from gazescope.tracking.video_clock import Playlist, VideoClock


def test_playlist_plays_videos_back_to_back() -> None:
    p = Playlist([("a", 2.0), ("b", 1.0)], start_t_ms=1000.0)
    assert p.at(500.0) is None
    assert p.at(1500.0).to_fields() == {"stimulus_id": "a", "video_t_s": 0.5}
    assert p.at(3500.0).to_fields() == {"stimulus_id": "b", "video_t_s": 0.5}
    assert p.at(4100.0) is None


def test_video_clock_extrapolates_while_playing_and_stands_when_paused() -> None:
    c = VideoClock()
    assert c.at(0.0) is None
    c.report("v", 10.0, 1000.0, playing=True, duration_s=12.0)
    assert c.at(2000.0).video_t_s == pytest.approx(11.0)
    assert c.at(9000.0).video_t_s == pytest.approx(12.0)  # clamped to the duration
    c.report("v", 4.0, 3000.0, playing=False, duration_s=12.0)
    assert c.at(8000.0).video_t_s == pytest.approx(4.0)
