"""Settings of the seed protocols (:class:`SeedSettings`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gazescope.config.limits import MiB


class SeedSettings(BaseModel):
    """The seed-compatible endpoints (docs/seeds.md): seeds 002, 003 and 004."""

    seed002_idle_timeout_s: float = Field(
        1800.0,
        gt=0,
        description="Seed 002's /ws is closed after this long without a message: its users press Connect and "
        "may wait minutes before Start, so 30 minutes; dead peers are found by WebSocket pings instead.",
    )
    seed002_start_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seed 002's /ws is closed (1001) when it has sent neither init nor a frame within this "
        "long after opening: the seed's client sends init on open, so a silent connection only holds a "
        "slot (16 per address, 64 in all).",
    )
    seed003_canvas_w_px: int = Field(
        1920, gt=0, le=16_384, description="Width of seed 003's /upload heatmap canvas (the seed's 1920)."
    )
    seed003_canvas_h_px: int = Field(
        1080, gt=0, le=16_384, description="Height of seed 003's /upload heatmap canvas (the seed's 1080)."
    )
    seed003_max_points: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Most points one seed 003 /upload may carry (the page sends about 30 a second).",
    )
    seed003_session_gap_s: float = Field(
        60.0,
        gt=0,
        description="Seed 003 uploads from one client address go into one session while they come less than "
        "this far apart (the page posts every second; a minute's pause is a new visit).",
    )
    seed004_screen_w_px: int = Field(
        1600, ge=1, le=100_000, description="Screen width of seed 004's phone app (it sends none)."
    )
    seed004_screen_h_px: int = Field(
        720, ge=1, le=100_000, description="Screen height of seed 004's phone app (it sends none)."
    )
    seed004_mapper: str | None = Field(
        None,
        description="Mapper of seed 004's 'mini training'; unset: 'cnn' when PyTorch is importable, else "
        "'ridge'.",
    )
    seed004_cnn_time_budget_s: float = Field(
        20.0, gt=0, le=600, description="Training time limit of seed 004's cnn fit (the mapper's default)."
    )
    seed004_close_wait_s: float = Field(
        60.0,
        ge=0,
        le=600,
        description="How long a seed 004 connection whose client left during the fit waits for it, so the "
        "frames held meanwhile are still mapped and stored: the 20 s training plus feature extraction "
        "and PyTorch's first import on a busy machine.",
    )
    seed004_max_calibration_frames: int = Field(
        1800,
        ge=10,
        le=10_000,
        description="Calibration frames received after which seed 004's fit starts without waiting for a "
        "'P' frame or RequestVideoURL: the app's 9 dots x 4 s at 30 FPS send 1080, so 1800 (60 s) leaves "
        "room for a slower app; at 600 the fit started at the 5th dot and failed for lack of points.",
    )
    seed004_leave_one_out: bool = Field(
        False,
        description="Estimate the error of seed 004's fit by leave-one-out refits, one more fit per dot, "
        "when there are more dots than the mapper needs (cnn: more than 9; 16 dots would be 17 training "
        "budgets, past calibration_fit_timeout_s at the default 20 s budget); else on the training dots. "
        "The error is only logged and stored with the profile: the seed's app never sees it.",
    )
    seed004_hold_frames: int = Field(
        900,
        ge=1,
        le=10_000,
        description="Frames held (not dropped) per connection while seed 004's fit runs, mapped once it is "
        "done: 30 s at 30 FPS; older ones beyond are dropped and counted. Their bytes are bounded by "
        "seed004_hold_bytes.",
    )
    seed004_hold_bytes: int = Field(
        64 * MiB,
        ge=MiB,
        le=2048 * MiB,
        description="Bytes of frame messages held per connection while seed 004's fit runs (each held "
        "frame keeps its payload, up to max_message_bytes): 900 phone JPEGs of ~50 KB in base64 fit, "
        "where 900 messages of 2 MiB would be 1.8 GiB; older frames beyond are dropped and counted.",
    )
