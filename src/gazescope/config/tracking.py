"""Tracking settings: the landmark backend (:class:`LandmarkSettings`), gaze and eye contact
(:class:`GazeSettings`), smoothing, blinks and attention, and :class:`TrackingSettings`, all a stream's
tracker reads."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator


class LandmarkSettings(BaseModel):
    """The landmark backend and its detector thresholds (``vision.landmarks``, ``vision.pipeline``)."""

    landmark_backend: Literal["mediapipe", "dlib"] = Field(
        "mediapipe", description="'mediapipe' (Face Mesh with iris) or 'dlib' (68 points, extra `dlib`)."
    )
    min_detection_confidence: float = Field(0.5, ge=0, le=1, description="Face Mesh detector threshold.")
    min_tracking_confidence: float = Field(0.5, ge=0, le=1, description="Face Mesh tracking threshold.")
    face_count_interval: int = Field(
        15,
        ge=1,
        description="Faces are counted by MediaPipe Face Detection every this many frames (the count is "
        "carried in between), so that counting costs little.",
    )
    small_face_fallback: bool = Field(
        True,
        description="When Face Mesh finds no face, look again with MediaPipe's full-range face detector and "
        "run Face Mesh on an upscaled crop (small or distant faces; costs only on such frames).",
    )
    # --- on-device tracking (issue 22) ---
    face_mesh_vendor_dir: Path | None = Field(
        None,
        description="Folder holding the browser's Face Mesh files (npm @mediapipe/face_mesh, fetched by "
        "`gazescope vendor`, served at /app/vendor/face_mesh/); None: web/vendor/face_mesh inside the "
        "installed package (outside git).",
    )
    face_mesh_fetch_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="Timeout in seconds of each network step of `gazescope vendor` (npm pack or the HTTPS "
        "download of the ~7.4 MB registry tarball); offline, the fetch fails after it and the app sends frames.",
    )


class GazeSettings(BaseModel):
    """Gaze direction and eye contact (``vision.gaze``; read by ``tracking.tracker``)."""

    direction_right_threshold: float = Field(
        0.35, ge=0, le=1, description="horizontal_ratio at or below this is 'right' (GazeTracking)."
    )
    direction_left_threshold: float = Field(
        0.65, ge=0, le=1, description="horizontal_ratio at or above this is 'left' (GazeTracking)."
    )
    eye_contact_cone_deg: float = Field(
        18.0,
        gt=0,
        le=90,
        description="Half-angle of the cone around the person's neutral gaze toward the device "
        "(tracking.neutral) inside which gaze counts as eye contact. At webcam resolutions the lens cannot "
        "be told from a point a few degrees below it (shared/data/attention LABELS.md), so this is 'looking "
        "at the camera or the screen around it'; chosen with `gazescope evaluate attention --protocol loso`.",
    )
    camera_offset_pitch_deg: float = Field(
        0.0, description="Pitch of the camera seen from the user (negative when the camera is below eyes)."
    )
    eye_contact_window_s: float = Field(30.0, gt=0, description="Window of the rolling eye-contact %.")

    @model_validator(mode="after")
    def _check_directions(self) -> Self:
        if self.direction_right_threshold >= self.direction_left_threshold:
            raise ValueError("direction_right_threshold must be below direction_left_threshold")
        return self


class SmoothingSettings(BaseModel):
    """One Euro smoothing of gaze ratios, angles and screen points (``tracking.filters``)."""

    one_euro_min_cutoff: float = Field(
        1.0, gt=0, description="One Euro filter minimum cutoff in Hz (Casiez et al., CHI 2012)."
    )
    one_euro_beta: float = Field(0.3, ge=0, description="One Euro filter speed coefficient.")
    one_euro_d_cutoff: float = Field(1.0, gt=0, description="One Euro derivative cutoff in Hz.")


class BlinkSettings(BaseModel):
    """The causal blink detector (``tracking.blinks``) and the blink rate."""

    blink_threshold_ratio: float = Field(
        0.75,
        gt=0,
        lt=1,
        description="A blink starts when EAR falls below this fraction of the person's open-eye EAR "
        "(running baseline); cf. the 0.75 x median EAR reference of the data README.",
    )
    blink_release_ratio: float = Field(
        0.85, gt=0, lt=1.2, description="A blink ends when EAR rises above this fraction of the baseline."
    )
    blink_min_ms: float = Field(
        50.0, ge=0, description="Shortest blink (Caffier et al. 2003: blinks last 100-400 ms)."
    )
    blink_max_ms: float = Field(
        800.0,
        gt=0,
        description="Longest closure (threshold crossing to release) still counted as a blink; slow blinks "
        "annotated in ZJU Eyeblink reach ~660 ms measured this way. Longer is eye closure or lowered lids.",
    )
    blink_depth_ratio: float = Field(
        0.7,
        gt=0,
        lt=1,
        description="A blink's minimum EAR must reach this fraction of the baseline (squints stay above).",
    )
    blink_reopen_max_ms: float = Field(
        300.0, gt=0, description="A blink reopens within this time from the lower half of its closure."
    )
    blink_lowered_dip_ratio: float = Field(
        0.8,
        gt=0,
        lt=1,
        description="Inside a closure longer than blink_max_ms, a dip to this fraction of its median EAR "
        "at its onset or end is a blink (gaze-evoked blinks around looking down).",
    )
    blink_baseline_window_s: float = Field(
        10.0, gt=0, description="Window of the running open-eye EAR baseline."
    )
    blink_near_eye_yaw_deg: float = Field(
        25.0,
        gt=0,
        le=90,
        description="With the head turned this far (degrees of yaw) or more, blinks are read from the eye "
        "nearer the camera only: the far eye is foreshortened and half hidden by the nose and glasses, and "
        "its EAR dips while it stays open (multi_face frames 295 and 310, yaw -27 and -39: far eye 0.05-0.09, "
        "near eye 0.16-0.17 of an open 0.19). Below it, the mean of both eyes.",
    )
    blink_rebase_openness: float = Field(
        0.5,
        gt=0,
        lt=1,
        description="A closure longer than blink_max_ms whose median EAR stays above this fraction of the "
        "baseline is not closed eyes but a new open level (lids lowered, glasses, a baseline taken while "
        "the head was turned): it ends without a state and the baseline restarts from it. Closed eyes "
        "measure about 0.35 of the open EAR in Face Mesh (bottoms of ZJU and TalkingFace blinks); lowered "
        "lids 0.55-0.8 (desk_webcam looking down); chosen with `gazescope evaluate blink --protocol loso`.",
    )
    blink_rate_window_s: float = Field(60.0, gt=0, description="Window of the blink rate per minute.")

    @model_validator(mode="after")
    def _check_blinks(self) -> Self:
        if self.blink_release_ratio <= self.blink_threshold_ratio:
            raise ValueError("blink_release_ratio must be above blink_threshold_ratio")
        if self.blink_min_ms >= self.blink_max_ms:
            raise ValueError("blink_min_ms must be below blink_max_ms")
        return self


class AttentionSettings(BaseModel):
    """PERCLOS and the attention score and state (``tracking.attention``)."""

    perclos_window_s: float = Field(
        60.0, gt=0, description="PERCLOS window (Wierwille et al. 1994; Dinges & Grace 1998: 1 minute)."
    )
    perclos_closed_fraction: float = Field(
        0.8, gt=0, lt=1, description="P80: an eye counts as closed when at least 80% closed."
    )
    drowsy_perclos: float = Field(
        0.15, gt=0, lt=1, description="PERCLOS P80 at or above this is drowsy (Wierwille et al. 1994)."
    )
    eyes_closed_after_s: float = Field(
        2.0,
        gt=0,
        description="A lid closure this long (seconds) is 'eyes_closed'. Between blink_max_ms and this, the "
        "closure is lowered lids: a look down (at a desk, keyboard or phone) covers the iris as a closure "
        "does in Face Mesh's landmarks (TalkingFace frames 227-277: EAR 0.06-0.09 against 0.25-0.30 open, as "
        "in ZJU blinks), and is 'looking_away'. Glances away from a display last up to about 2 s (NHTSA "
        "Visual-Manual Driver Distraction Guidelines, 2013: single glances of 2 s or less).",
    )
    lowered_lids_after_ms: float = Field(
        400.0,
        gt=0,
        description="A lid closure longer than this (milliseconds, threshold crossing onward) is shown as "
        "lowered lids ('looking_away', is_blinking false) until eyes_closed_after_s; a closure that then "
        "reopens within blink_max_ms still counts as a blink. Alert blinks last 100-400 ms (Caffier et al. "
        "2003); ZJU Eyeblink's fully closed runs last at most 0.53 s.",
    )
    absent_after_s: float = Field(1.0, ge=0, description="No face for this long is 'absent'.")
    looking_away_deg: float = Field(
        21.0,
        gt=0,
        le=90,
        description="Gaze further than this (degrees) from the person's neutral direction (tracking.neutral) "
        "is looking away. A 15.6-inch laptop screen seen from 60 cm spans about +-15 degrees around its "
        "centre; chosen with `gazescope evaluate attention --protocol loso` (docs/attention.md).",
    )
    looking_away_release_deg: float = Field(
        18.9,
        gt=0,
        le=90,
        description="Hysteresis: a look away ends when the gaze comes back within this angle of the neutral "
        "(below looking_away_deg, so noise at the edge does not flicker the state).",
    )
    looking_away_after_s: float = Field(
        0.0,
        ge=0,
        description="Looking away for this long changes the state. Glances at a second screen or a phone "
        "last 0.3-1.5 s in the labelled desk video, so a second would miss most of them.",
    )
    attention_return_after_s: float = Field(
        0.0, ge=0, description="Looking back for this long ends a look away (keeps one glance one span)."
    )
    attention_pitch_weight: float = Field(
        1.5,
        ge=0,
        le=5,
        description="Weight of the vertical part of the gaze's angle from the neutral (looking away, eye "
        "contact): webcam landmarks compress vertical eye rotation (the lids cover the iris's top and "
        "bottom; eyes rolled up in desk_webcam 105-114 read 10 degrees). Chosen with `gazescope evaluate "
        "attention --protocol loso`.",
    )
    attention_neutral_window_s: float = Field(
        60.0, gt=0, description="Window of the person's neutral gaze (tracking.neutral), seconds."
    )
    attention_neutral_max_deg: float = Field(
        20.0,
        gt=0,
        le=90,
        description="The neutral gaze is kept within this angle of the camera axis: the device's screen "
        "lies around the camera, so a person's neutral beyond it is looking away, not a bias.",
    )
    lid_pitch_gain_deg: float = Field(
        30.0,
        ge=0,
        le=120,
        description="Degrees of downward gaze per unit of lost eye openness (EAR / the person's open EAR), "
        "added to the iris-based gaze pitch: the upper lid follows the eye's vertical rotation (lid-eye "
        "coordination; Becker & Fuchs, Exp. Brain Res. 1988), while the iris landmarks barely move when "
        "the eyes look down under lowered lids (desk_webcam 135-147). Chosen with `gazescope evaluate "
        "attention --protocol loso`.",
    )
    closed_iris_drop: float = Field(
        0.035,
        ge=0,
        description="A closure counts as closed eyes (is_blinking) only when the iris landmarks have dropped "
        "this far (eye widths) below the person's resting place: Face Mesh cannot see a covered iris and "
        "its estimate follows the lid down (0.03-0.09 in the labelled ZJU and desk blinks), while an iris "
        "under lowered lids stays (< 0.03 in the desk video's looks down).",
    )
    attention_smoothing_s: float = Field(2.0, gt=0, description="Time constant of the attention score EMA.")


class TrackingSettings(AttentionSettings, BlinkSettings, SmoothingSettings, GazeSettings):
    """Everything one stream's :class:`~gazescope.tracking.tracker.GazeTracker` reads: gaze and eye
    contact, smoothing, blinks and attention."""
