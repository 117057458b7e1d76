"""Analytics settings: video stimuli and their pool (:class:`VideoAnalyticsSettings`), the data-quality
card (:class:`DataQualitySettings`) and activity recognition (:class:`ActivitySettings`)."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from gazescope.config.limits import MiB


class VideoAnalyticsSettings(BaseModel):
    """Video stimuli: gaze overlay renders and the analytics pool (issue 12)."""

    video_overlay_max_frames: int = Field(
        18_000,
        ge=1,
        description="Longest video (frames) whose gaze overlay MP4 is rendered on request: 10 minutes at "
        "30 FPS, about 3 minutes of one worker thread at ~10 ms a frame.",
    )
    video_overlay_cache_bytes: int = Field(
        2048 * MiB,
        ge=MiB,
        le=1024 * 1024 * MiB,
        description="Size bound of the rendered overlay MP4s kept under <stimulus_video_dir>/overlays; "
        "beyond it the least recently used are deleted after each render (rendered again on request): "
        "a few 10-minute overlays at a few hundred MB each.",
    )
    analytics_threads: int = Field(
        1,
        ge=1,
        le=16,
        description="Threads of the analytics pool (overlay renders, video inspection on upload, reports and "
        "figures of stored sessions), "
        "apart from worker_threads' tracking pool so a render of minutes never delays live frames: one "
        "leaves the other cores of a small machine to tracking.",
    )
    analytics_max_queued: int = Field(
        8,
        ge=0,
        le=100,
        description="Analytics jobs (video renders, and the reports, figures and event exports of stored "
        "sessions) waiting beyond the running ones; more are refused at once with 503 analytics_busy, "
        "since a render can take minutes and a long queue only answers after the clients' timeouts. 8 lets "
        "a report page's few figures queue; a waiting job holds no samples. The same overlay asked for "
        "again while it renders waits for that render.",
    )


class DataQualitySettings(BaseModel):
    """Pass/fail thresholds of the data-quality card of every session report (``analytics.quality``)."""

    quality_min_fps: float = Field(
        10.0,
        gt=0,
        le=240,
        description="Least effective frame rate (processed frames / session duration, frames/s). Below 10 a "
        "100 ms blink (the shortest, Caffier et al. 2003) falls between frames and a 200 ms fixation "
        "(Holmqvist et al. 2011, ch. 4) holds one or two samples, fewer than I-DT's 100 ms window needs to "
        "find it (Salvucci & Goldberg 2000).",
    )
    quality_min_face_share: float = Field(
        0.8,
        ge=0,
        le=1,
        description="Least share (0-1) of processed frames with a face. Reason: with more than a fifth of the "
        "frames faceless, focus, eye-contact and blink figures describe less than 4/5 of the session (the "
        "missing time is 'absent', not measured); eye-tracking studies commonly exclude recordings with "
        "more than 20-30 % data loss (a convention, not a standard).",
    )
    quality_max_calibration_error_pct_width: float = Field(
        20.0,
        gt=0,
        le=100,
        description="Largest calibration validation error (mean, % of the screen width) that passes: the "
        "'fair' limit of the calibration grades (calibration.session: webcam trackers in the field reach "
        "6-12 % of the width, RealEye 106 px to WebGazer 172 px, Papoutsaki et al. IJCAI 2016; twice that "
        "still separates screen halves or quadrants). Checked only when a calibration was applied.",
    )
    quality_max_dropped_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Largest share (0-1) of received frames dropped under load (newest wins, dropped / "
        "(processed + dropped)). Reason: a tenth of the frames lost means the server or the link did not "
        "keep up, intervals become irregular and short events (blinks) are missed; below it the loss only "
        "lowers the effective rate, which quality_min_fps checks.",
    )


class ActivitySettings(BaseModel):
    """Activity recognition from gaze (``analytics.activity``): reading, scanning, idle in sliding windows
    of fixations (after Campbell & Maglio, PUI 2001; Bulling et al., IEEE TPAMI 2011)."""

    activity_window_s: float = Field(
        5.0,
        gt=0.5,
        le=120,
        description="Window (s) classified at a time: two lines of text at reading speed (a line of 8-12 "
        "fixations of 200-250 ms, Rayner 1998), so a reading window holds at least one return sweep; Bulling "
        "et al. 2011 classify windows of a few seconds too.",
    )
    activity_step_s: float = Field(
        1.0, gt=0, le=60, description="Step (s) between the report's windows (each labels one step)."
    )
    activity_fixation_dispersion_deg: float = Field(
        1.0,
        gt=0,
        le=10,
        description="I-DT dispersion threshold (deg, (max x - min x) + (max y - min y)) of the fixations the "
        "activity is read from: about 1 degree (Salvucci & Goldberg 2000; Blignaut 2009), half a reading "
        "step, so consecutive words are separate fixations.",
    )
    activity_min_fixation_ms: float = Field(
        100.0, ge=0, le=1000, description="I-DT minimum fixation duration (ms; Salvucci & Goldberg 2000)."
    )
    activity_max_transition_gap_ms: float = Field(
        600.0,
        gt=0,
        description="Two fixations further apart in time than this (lost data, a blink) are not a saccade "
        "between them (ms): a saccade lasts 20-100 ms, a blink 100-400 ms.",
    )
    activity_forward_min_deg: float = Field(
        0.5,
        gt=0,
        description="Least rightward step (deg) that is a forward reading saccade: a 2-letter word at 60 cm.",
    )
    activity_forward_max_deg: float = Field(
        5.0,
        gt=0,
        description="Largest forward reading saccade (deg): reading saccades average 7-9 letter spaces "
        "(about 2 deg) and rarely exceed 20 (about 5 deg; Rayner 1998, Psychol. Bull.).",
    )
    activity_return_min_deg: float = Field(
        4.0,
        gt=0,
        description="Least leftward step (deg) that is a return sweep to the next line (a line is 10 or more "
        "degrees; shorter leftward steps are regressions, Rayner 1998: 10-15 % of saccades).",
    )
    activity_vertical_tolerance_deg: float = Field(
        1.5,
        gt=0,
        description="Largest vertical change (deg) of a reading step or regression; a return sweep may go "
        "down by up to twice this (the next line). Unused when only the horizontal angle is known.",
    )
    activity_reading_min_forward_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Least share of a window's saccades that are forward reading steps for 'reading' "
        "(Campbell & Maglio 2001 accumulate evidence from forward steps and return sweeps; Rayner 1998: "
        "85-90 % of reading saccades go forward, so a half leaves room for noise).",
    )
    activity_reading_min_forward: int = Field(
        4,
        ge=1,
        description="Least forward reading steps in a window for 'reading': a line of text is read in 8-12 "
        "fixations (Rayner 1998), so a window of a line or more holds several.",
    )
    activity_reading_min_returns: int = Field(
        1, ge=0, description="Least return sweeps in a window for 'reading' (Campbell & Maglio 2001)."
    )
    activity_reading_max_other_share: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Largest share of a window's saccades that are neither reading steps, regressions nor "
        "return sweeps (large jumps) for 'reading'.",
    )
    activity_idle_max_saccade_rate_hz: float = Field(
        1.0,
        ge=0,
        description="At most this many saccades per second of valid gaze is 'idle' (fixations of a second "
        "or more; reading and visual search make 3-4 a second, fixations lasting 200-300 ms, Rayner 1998).",
    )
    activity_min_valid_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Least share of a window's time with a gaze estimate (face found, eyes open) to "
        "classify it; below (the first seconds of a stream, spans without a face), the window has no "
        "activity of its own. A half: a reading window then still spans a line.",
    )
    activity_px_per_deg: float = Field(
        37.8,
        gt=0,
        description="Screen px per degree when a session has no screen size in cm and viewing distance: a "
        "CSS pixel is 1/96 inch (37.8 px/cm, W3C CSS Values) and at 57.3 cm 1 cm subtends 1 degree.",
    )

    @model_validator(mode="after")
    def _check_activity(self) -> Self:
        if self.activity_forward_min_deg >= self.activity_forward_max_deg:
            raise ValueError("activity_forward_min_deg must be below activity_forward_max_deg")
        if self.activity_step_s > self.activity_window_s:
            raise ValueError("activity_step_s must not exceed activity_window_s")
        return self
