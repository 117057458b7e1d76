"""services.offline on a real recording (change_lighting_640x480.wmv, 88 frames at 15 fps): one sample a
frame, the report, and the files written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from gazescope.errors import VideoReadError
from gazescope.services.offline import analyze_video, write_outputs


def test_a_recording_gives_a_sample_a_frame_a_report_and_files(data_dir: Path, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    samples, report = analyze_video(
        data_dir / "videos" / "change_lighting_640x480.wmv", on_frame=lambda d, t: seen.append((d, t))
    )
    assert len(samples) == report["frames"] == len(seen) and seen[-1][0] == len(samples)
    assert [s["frame_index"] for s in samples] == list(range(len(samples)))
    assert report["frames_with_face"] >= 0.9 * len(samples) and report["source"].endswith(".wmv")
    assert all({"start_ms", "end_ms", "min_ear"} <= set(b) for b in report["blinks"])
    files = write_outputs(tmp_path / "out", samples, report)
    assert set(files) == {"samples", "report_json", "report_html"}
    with files["samples"].open() as fh:
        assert len(list(csv.DictReader(fh))) == len(samples)
    assert json.loads(files["report_json"].read_text())["frames"] == len(samples)
    assert "<html" in files["report_html"].read_text()


def test_an_unreadable_file_is_a_video_read_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(VideoReadError):
        analyze_video(bad)
