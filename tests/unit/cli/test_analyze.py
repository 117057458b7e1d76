"""``gazescope analyze`` on real recordings: samples, report and plots; a calibration profile maps gaze to the screen; bad input exits with a reason."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from gazescope.cli import app

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("cli_cwd")  # tests/unit/cli/conftest.py


def test_analyze_desk_video_writes_samples_report_and_plots(desk_video, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "gazescope.cli", "analyze", str(desk_video), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    with (out / "samples.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 842
    assert {"t_ms", "frame_index", "ear_left", "horizontal_ratio", "attention_state", "gaze_vector_x"} <= set(
        rows[0]
    )
    assert sum(r["face_detected"] == "True" for r in rows) >= 0.99 * 842
    report = json.loads((out / "report.json").read_text())
    for key in (
        "frames", "frames_with_face", "blink_count", "blink_rate_per_min", "eye_contact_pct", "attention_mean",
        "attention_state_s", "ms_per_frame_p50", "ms_per_frame_p95",
    ):  # fmt: skip
        assert key in report, key
    assert report["frames"] == 842 and report["frames_with_face"] >= 834
    assert report["blink_count"] >= 1
    assert set(report["attention_state_s"]) == {"focused", "looking_away", "eyes_closed", "drowsy", "absent"}
    assert abs(sum(report["attention_state_s"].values()) - 842 / 30) < 0.5
    html = (out / "report.html").read_text()
    assert "<img" in html and "data:image/png;base64," in html


def test_analyze_a_folder_of_images(data_dir, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    cap = cv2.VideoCapture(str(data_dir / "videos" / "change_lighting_640x480.wmv"))
    n = 0
    while n < 20:
        ok, frame = cap.read()
        if not ok:
            break
        cv2.imwrite(str(folder / f"{n:04d}.jpg"), frame)
        n += 1
    cap.release()
    res = runner.invoke(app, ["analyze", str(folder), "--out", str(tmp_path / "o"), "--fps", "15"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "o" / "samples.csv").open()))
    assert len(rows) == n
    assert float(rows[1]["t_ms"]) == pytest.approx(1000 / 15, abs=0.01)


def test_analyze_reports_an_unreadable_input(tmp_path):
    bad = tmp_path / "not_a_video.avi"
    bad.write_bytes(b"\x00" * 100)
    res = runner.invoke(app, ["analyze", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "error:" in res.output and "not_a_video.avi" in res.output
    res = runner.invoke(app, ["analyze", str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "does not exist" in res.output


def _fit_profile(data_dir: Path) -> str:
    """A real ridge profile from one webcam_dots session (16 dots), as the service would save it."""
    from gazescope.calibration.session import CalibrationSession
    from gazescope.config import Settings
    from gazescope.vision.pipeline import FrameAnalyzer

    root = data_dir / "gaze" / "webcam_dots"
    rows = [
        r
        for r in csv.DictReader((root / "labels.csv").open())
        if r["subject"] == "hy" and r["session"] == "1"
    ]
    cs = CalibrationSession(
        "9", int(rows[0]["screen_w"]), int(rows[0]["screen_h"]), "ridge", 0.0, min_samples_per_point=1
    )
    analyzer = FrameAnalyzer(Settings(), static=True)
    for i, r in enumerate(rows):
        rgb = cv2.cvtColor(cv2.imread(str(root / r["image"])), cv2.COLOR_BGR2RGB)
        cs.target_shown((float(r["x"]), float(r["y"])), t_ms=i * 1000.0)
        cs.add(analyzer.analyze(rgb), t_ms=i * 1000.0 + 500)
    analyzer.close()
    return cs.finish().calibration.to_json()


def test_analyze_with_a_calibration_profile_maps_gaze_to_the_screen(data_dir, desk_video, tmp_path):
    profile = json.loads(_fit_profile(data_dir))
    doc = tmp_path / "profile_doc.json"  # the shape GET /api/profiles/{id} answers
    doc.write_text(json.dumps({"id": "p1", "user_id": "hy", "profile": profile}))
    res = runner.invoke(
        app, ["analyze", str(desk_video), "--out", str(tmp_path / "o"), "--calibration", str(doc)]
    )
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((tmp_path / "o" / "samples.csv").open()))
    xs = [float(r["screen_x_px"]) for r in rows if r["screen_x_px"]]
    assert len(xs) >= 0.9 * len(rows)
    assert all(0 <= x < 1536 for x in xs)
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["has_gaze"] and report["fixation_count"] > 5
    html = (tmp_path / "o" / "report.html").read_text()
    assert html.count("data:image/png") == 5  # attention, timeline, heatmap, scanpath, gaze trail
    cal = next(c for c in report["data_quality"]["checks"] if c["name"] == "calibration_error")
    assert cal["status"] in ("pass", "fail") and cal["value"] == pytest.approx(
        100 * profile["accuracy"]["mean_error_px"] / 1536, abs=1e-3
    )
    assert report["activity"]["input"] == "screen"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = runner.invoke(
        app, ["analyze", str(desk_video), "--out", str(tmp_path / "o2"), "--calibration", str(bad)]
    )
    assert res.exit_code == 2 and "calibration profile" in res.output


def test_native_log_lines_stay_off_the_progress_bar(data_dir, tmp_path):
    """MediaPipe/TensorFlow Lite write absl lines ("W0000 ... inference_feedback_manager", "INFO: Created
    TensorFlow Lite XNNPACK delegate") straight to fd 2, into the progress bar: none reach stderr now, and
    the bar still does."""
    video = data_dir / "videos" / "change_lighting_640x480.wmv"
    proc = subprocess.run(
        [sys.executable, "-m", "gazescope.cli", "analyze", str(video), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.replace("\r", "\n").splitlines() if ln.strip()]
    assert lines and all(ln.startswith("analyze:") for ln in lines), lines
    assert "frames, face in" in proc.stdout
