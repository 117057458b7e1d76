"""``gazescope.analyze_video`` returns what ``gazescope analyze`` computes, typed."""

from __future__ import annotations

import csv
import json

import pytest

import gazescope
from gazescope.errors import VideoReadError


def test_the_desk_video_gives_typed_samples_blinks_and_the_report(desk_video, tmp_path) -> None:
    calls = []
    result = gazescope.analyze_video(desk_video, on_frame=lambda done, total: calls.append((done, total)))
    assert len(result.samples) == 842 and result.fps == pytest.approx(30.0)
    assert all(isinstance(s, gazescope.GazeSample) for s in result.samples)
    assert result.samples[30].t_ms == pytest.approx(1000.0)
    assert len(result.blinks) == result.samples[-1].blink_count == result.report["blink_count"] == 3
    assert result.report["frames_with_face"] == 842
    assert calls[-1][0] == 842

    files = result.write(tmp_path / "out")
    rows = list(csv.DictReader(files["samples"].open()))
    assert len(rows) == 842
    assert json.loads(files["report_json"].read_text())["blink_count"] == 3
    assert files["report_html"].stat().st_size > 0


def test_a_missing_file_says_so(tmp_path) -> None:
    with pytest.raises(VideoReadError, match="does not exist"):
        gazescope.analyze_video(tmp_path / "nope.mp4")
