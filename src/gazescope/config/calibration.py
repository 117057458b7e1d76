"""Calibration settings: sampling of targets, fits and their limits, pooled profiles, clicks and drift
checks (:class:`CalibrationSettings`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CalibrationSettings(BaseModel):
    """Calibration: sampling of targets, fits and their limits, pooled profiles and clicks."""

    default_mapper: str = Field("ridge", description="Mapper used when a calibration names none.")
    calibration_settle_ms: float = Field(
        300.0, ge=0, description="Samples this soon after a target moves are skipped (saccade latency)."
    )
    calibration_samples_per_target: int = Field(
        5,
        ge=1,
        le=100,
        description="Usable samples a grid calibration target needs before it is done: 5 is about 1/3 s at "
        "15 FPS after the settle window, the length of one fixation (200-400 ms; Holmqvist et al., "
        "'Eye Tracking', OUP 2011, ch. 4).",
    )
    calibration_fit_threads: int = Field(
        1,
        ge=1,
        le=16,
        description="Threads that run calibration fits (their own pool: frames never wait behind a fit). "
        "It is also the most fits running at once: a calibration_finish beyond it is refused with "
        "'server_busy'.",
    )
    calibration_fit_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Wall-clock limit of one calibration fit, leave-one-out refits included; a fit past it "
        "is stopped and answered with 'calibration_timeout' (the calibration stays open).",
    )
    calibration_max_time_budget_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Largest time_budget_s a client may give the cnn mapper (larger values are clamped, "
        "and calibration_started says so); the cnn default is 20 s.",
    )
    calibration_preload_cnn: bool = Field(
        True,
        description="Import PyTorch (the cnn mapper) when the service starts, before it serves: about 2 s "
        "and 150 MB once, instead of at the first cnn calibration, where the import holds the interpreter "
        "lock and stalls every stream for those seconds. Ignored when PyTorch is not installed.",
    )
    calibration_max_epochs: int = Field(
        2000,
        ge=1,
        description="Largest 'epochs' a client may give the cnn mapper (clamped like time_budget_s).",
    )
    calibration_profile_max_sittings: int = Field(
        8,
        ge=1,
        le=50,
        description="A user's profile pools at most this many calibrations (sittings, same screen size; the "
        "newest kept). webcam_dots has 8 and 10 sittings a person; pooled they cut the error on a person's "
        "other sittings from 356 to 328 px (issue 14, `gazescope evaluate gaze --protocol profile`).",
    )
    calibration_profile_newest_weight: float = Field(
        2.0,
        gt=0,
        le=100,
        description="Weight of the newest sitting's rows in a pooled profile (earlier ones 1). On "
        "webcam_dots 1-3 score alike (328.3-328.7 px), 10 worse (332 px); 2 leans toward the newest "
        "sitting (a moved camera or new glasses show there first) at 0.1 px.",
    )
    calibration_click_weight: float = Field(
        3.0,
        gt=0,
        le=100,
        description="Weight of each click's row when a click refits the calibration (earlier sittings 1). "
        "`gazescope evaluate gaze --protocol online`: weight 3 scores 322 px, 1 scores 323.5 px (issue 14).",
    )
    calibration_max_clicks: int = Field(
        200, ge=1, le=10_000, description="Most click rows one stream keeps for refits (the oldest go)."
    )
    calibration_max_error_pct_width: float = Field(
        20.0,
        gt=0,
        le=100,
        description="Quality gate, in % of the screen width (0..100]: a calibration whose mean validation "
        "error is above it is stored as not accepted and is not reused by later sessions (nor pooled "
        "into later sittings) unless the user keeps it (calibration_keep). Webcam trackers in the field "
        "report 106 px (RealEye) to 172 px (WebGazer, Papoutsaki et al., IJCAI 2016), about 7-11 % of a "
        "1,500 px screen; 20 % is twice that band, the 'fair' grade's bound, still enough for coarse areas "
        "of interest (screen halves, quadrants).",
    )
    calibration_max_pending_targets: int = Field(
        256,
        ge=1,
        le=100_000,
        description="Most calibration_target announcements (count, 1..100,000) waiting for the frame that "
        "shows them; one more is refused with 'invalid_request' ('too many targets'). A client announces "
        "a target, then sends the frames showing it: the 9-49 dots of a grid or a pursuit path of a few "
        "hundred points fit, a client that announces without sending frames is bounded (issue 20).",
    )
    calibration_drift_max_samples: int = Field(
        90,
        ge=1,
        le=10_000,
        description="Most frames' features (count, 1..10,000) one drift check keeps, the newest winning: "
        "90 is 3 s at 30 FPS, several fixations on the dot (one fixation lasts 200-400 ms; Holmqvist et "
        "al., 'Eye Tracking', OUP 2011, ch. 4); a longer check scores its last 3 s.",
    )
    calibration_drift_max_frames: int = Field(
        30,
        ge=1,
        le=1_000,
        description="Most frames (count, 1..1,000) one drift check keeps for appearance mappers (cnn), "
        "which need the images: 30 is 1 s at 30 FPS, about 28 MB of 640x480 RGB, held in memory until the "
        "check ends.",
    )
