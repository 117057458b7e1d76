"""CSV exports: samples round trip, events, and the pymovements gaze CSV read back by pymovements."""

from __future__ import annotations

import csv
import io

import pytest

from gazescope.analytics.events import EventParams, detect_events
from gazescope.analytics.export import events_to_csv, pymovements_csv, read_samples_csv, samples_to_csv
from gazescope.domain import SAMPLE_CSV_COLUMNS, GazeSample
from gazescope.errors import ValidationError


def real_samples() -> list[dict]:
    a = GazeSample(
        t_ms=0.0, frame_index=0, face_detected=True, face_count=1, confidence=0.93, pupil_left_px=(320.5, 240.25),
        pupil_right_px=(280.0, 241.0), horizontal_ratio=0.512345, vertical_ratio=0.47, direction="center",
        ear_left=0.301, ear_right=0.298, yaw_deg=-3.5, pitch_deg=2.25, roll_deg=0.1, gaze_yaw_deg=1.0,
        gaze_pitch_deg=-2.0, gaze_vector=(0.02, -0.04), eye_contact=True, eye_contact_pct=87.5,
        blink_rate_per_min=14.0, perclos=0.04, attention_score=0.81, attention_state="focused",
        screen_x_px=812.4, screen_y_px=400.0, on_screen=True, head_in_range=True, processing_ms=21.7,
    )  # fmt: skip
    b = GazeSample(
        t_ms=33.333333, frame_index=1, face_detected=False, attention_state="absent", dropped_frames=2
    )
    return [a.to_dict(), b.to_dict()]


def test_samples_csv_round_trip():
    samples = real_samples()
    text = samples_to_csv(samples)
    header = next(csv.reader(io.StringIO(text)))
    assert tuple(header) == SAMPLE_CSV_COLUMNS
    back = read_samples_csv(text)
    assert back == samples
    assert GazeSample.from_dict(back[0]) == GazeSample.from_dict(samples[0])


def test_samples_csv_errors():
    with pytest.raises(ValidationError, match="t_ms"):
        read_samples_csv("a,b\n1,2\n")
    with pytest.raises(ValidationError, match="line 2, column face_detected"):
        read_samples_csv("t_ms,face_detected\n0,maybe\n")


def test_events_csv(scene_samples):
    ev = detect_events(scene_samples, params=EventParams(threshold_px=50))
    rows = list(csv.DictReader(io.StringIO(events_to_csv(ev.fixations))))
    assert len(rows) == 4 and float(rows[0]["duration_ms"]) == 250 and float(rows[1]["x_px"]) == 500
    sac = list(csv.DictReader(io.StringIO(events_to_csv(ev.saccades))))
    assert sac[0]["amplitude_deg"] == ""  # None without geometry
    blink_rows = list(csv.DictReader(io.StringIO(events_to_csv(ev.blinks))))
    assert blink_rows[0]["start_ms"] == "500.0"
    assert events_to_csv([]) == ""
    with pytest.raises(ValidationError):
        events_to_csv([ev.fixations[0], ev.saccades[0]])


def test_pymovements_reads_the_gaze_csv(tmp_path, scene_samples):
    pm = pytest.importorskip("pymovements")
    path = tmp_path / "gaze.csv"
    path.write_text(pymovements_csv(scene_samples))
    exp = pm.Experiment(
        screen_width_px=1920, screen_height_px=1080, screen_width_cm=53.0, screen_height_cm=30.0,
        distance_cm=60.0, origin="upper left", sampling_rate=20.0,
    )  # fmt: skip
    gaze = pm.gaze.from_csv(
        path, time_column="time", time_unit="ms", pixel_columns=["x_px", "y_px"], experiment=exp
    )
    df = gaze.samples
    assert df.height == len(scene_samples)
    assert df["time"].to_list() == [s["t_ms"] for s in scene_samples]
    pixels = df["pixel"].to_list()
    assert pixels[0] == [98.0, 100.0]
    assert pixels[10] == [None, None]  # the blink sample
    gaze.pix2deg()
    assert "position" in gaze.samples.columns
