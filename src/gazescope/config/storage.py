"""Store settings: SQLite or Redis, batching and backlog, and the folders beside the store
(:class:`StorageSettings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, model_validator


class StorageSettings(BaseModel):
    """The store (SQLite or Redis), its batching and backlog, and the folders beside it."""

    store: Literal["auto", "sqlite", "redis"] = Field(
        "auto", description="'auto' uses Redis when `redis_url` is set, otherwise SQLite."
    )
    db_path: Path = Field(Path("gazescope.db"), description="SQLite database file (WAL mode).")
    redis_url: str | None = Field(None, description="redis://host:port/db for the Redis store.")
    owner_ttl_s: float = Field(
        30.0,
        gt=0,
        description="Redis only: lifetime of the key naming the process that tracks a session, renewed every "
        "third of it; a crashed process stops counting as tracking after this (30 s: ten renewals a "
        "lifetime would be wasted, a minute of 'tracking' after a crash misleads dashboards).",
    )
    takeover_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Redis only: longest wait for another process to close and flush a session's tracking "
        "connection (takeover, end, delete); the closing side waits up to 5 s for its flush, so 10 s.",
    )
    session_lock_ttl_s: float = Field(
        60.0,
        gt=0,
        description="Redis only: lifetime and longest wait of the cross-process lock of a session (claim, "
        "end, delete); above a takeover plus a large report build.",
    )
    sample_batch_size: int = Field(30, ge=1, le=10_000, description="Samples written per store batch.")
    sample_flush_s: float = Field(
        1.0,
        gt=0,
        le=1.0,
        description="Longest time a processed sample waits unstored: the window of samples a client has "
        "received that a server kill -9 can lose (at most 1 s, as Redis AOF 'everysec').",
    )
    store_before_reply: bool = Field(
        False,
        description="Store each sample before replying with it, so a server kill -9 loses nothing a client "
        "received; off, samples are stored every sample_flush_s and the kill can lose that window. The "
        "README gives the measured cost of each.",
    )
    store_retry_s: float = Field(
        2.0, gt=0, description="Interval between retries of samples and session ends the store refused."
    )
    store_backlog_max_samples: int = Field(
        50_000,
        ge=0,
        description="Unstored samples held in memory while the store is down, per running connection and "
        "for all finished ones together; past it the oldest are dropped (logged as samples_lost). 50,000 "
        "is ~28 min of one 30 FPS stream and ~80 MB (1.6 KB a sample in memory).",
    )
    store_backlog_max_s: float = Field(
        900.0,
        gt=0,
        description="A finished session whose samples or end the store has refused for this long is given "
        "up (logged as samples_lost / session_end_lost): 15 minutes covers a store restart or failover.",
    )
    frame_index_reserve: int = Field(
        1000,
        ge=1,
        description="Frame indices a tracking connection reserves in the store ahead of use, so a restarted "
        "server never hands out one a client has already seen (one store write per this many frames).",
    )
    profiles_dir: Path = Field(
        Path("profiles"),
        description="Folder of calibration profile files (JSON) for the CLI's ProfileStore; the service keeps profiles in its store and only reads this folder as a fallback.",
    )
    stimulus_video_dir: Path = Field(
        Path("stimulus_videos"),
        description="Folder of stimulus video files kept beside the store's copy, so they can be served "
        "with range requests and decoded by OpenCV (rebuilt from the store when missing).",
    )

    @model_validator(mode="after")
    def _check_store(self) -> Self:
        if self.store == "redis" and not self.redis_url:
            raise ValueError("store='redis' needs redis_url (GAZESCOPE_REDIS_URL)")
        return self

    @property
    def store_kind(self) -> Literal["sqlite", "redis"]:
        """The store actually used: 'redis' when configured, else the embedded SQLite store."""
        if self.store == "auto":
            return "redis" if self.redis_url else "sqlite"
        return self.store
