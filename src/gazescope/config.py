"""Settings: the one place gazescope is configured.

Every field can be set through an environment variable ``GAZESCOPE_<FIELD>`` (case-insensitive) or a
``.env`` file in the working directory; values are validated when the settings load, and a bad value raises
``pydantic.ValidationError`` naming the field.

Fields are defined once, in one pydantic model per group (:class:`BlinkSettings`, :class:`AttentionSettings`,
:class:`ServerSettings` ...). :class:`Settings` inherits every group, so its fields and env names stay flat
(``settings.blink_min_ms``, ``GAZESCOPE_BLINK_MIN_MS``), and a ``Settings`` is accepted wherever a group is;
``settings.blinks`` and the other group properties give a group on its own. Components take their group
(``BlinkDetector(settings.blinks)``) and restate no default.

Thresholds carry their source in the field description. Defaults are chosen for 15-30 FPS webcam video
at 640x480.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1024 * 1024
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class ServerSettings(BaseModel):
    """Serving: the bound address, processes and threads, WebSocket keep-alive."""

    host: str = Field("127.0.0.1", description="Interface `gazescope serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port of `gazescope serve`.")
    forwarded_allow_ips: str | None = Field(
        None,
        description="Proxies (comma-separated addresses or networks, or '*') whose X-Forwarded-For and "
        "X-Forwarded-Proto `gazescope serve` trusts; the client address (per-client connection caps, logs) "
        "is then the forwarded one. Unset: uvicorn's FORWARDED_ALLOW_IPS when that is set, else no proxy "
        "is trusted (uvicorn's own default trusts 127.0.0.1, so any local process could pose as many "
        "clients). The compose deployment sets it for its nginx.",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes `gazescope serve` runs on the one port (uvicorn workers); above 1 "
        "needs Redis, which they share: one process a core uses every core for frames.",
    )
    worker_healthcheck_timeout_s: int = Field(
        60,
        ge=1,
        le=3600,
        description="With workers > 1: seconds a server process may take to answer uvicorn's health check "
        "before it is killed and restarted. uvicorn's 5 s is shorter than a cold start (importing OpenCV, "
        "MediaPipe and the app holds the interpreter) on a busy 2-core machine, where workers were "
        "restarted in a loop and the server never answered; a hung worker is replaced after this long.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    idle_timeout_s: float = Field(
        120.0, gt=0, description="A tracking WebSocket that sends nothing for this long is closed (1001)."
    )
    session_abandon_after_s: float = Field(
        300.0,
        ge=0,
        description="Seconds after its last tracking connection ended (a closed tab, a lost network, a "
        "crashed server) that a session still active and not reconnected is ended with its report, as "
        "`POST /api/sessions/{id}/end` would; 0 never. 300 s (5 min) lets a page reload, a network drop "
        "or a participant's pause between stimuli reconnect and continue the session; checked every "
        "quarter of it (at most 30 s). Sessions that never had a tracking connection are left alone.",
    )
    worker_threads: int = Field(
        2, ge=1, le=64, description="Threads that run frame processing off the event loop."
    )
    frame_processes: int | None = Field(
        None,
        ge=0,
        le=64,
        description="Worker processes that decode frames and run the landmark graphs, each owning the "
        "streams assigned to it (each costs ~2 s of CPU to start and its share of the graphs' memory). "
        "0: frames run in worker_threads inside the server process. Unset: one per core when the server "
        "is one process (workers 1) on 2 or more cores, else 0 (see frame_process_count).",
    )
    frame_queue_size: int = Field(
        1,
        ge=1,
        le=64,
        description="Frames waiting per connection while one is processed; when full the oldest waiting "
        "frame is dropped (newest wins).",
    )
    ws_ping_interval_s: float = Field(
        20.0,
        gt=0,
        description="uvicorn sends a WebSocket ping this often; a peer that does not answer within "
        "ws_ping_timeout_s is closed, so idle-but-alive connections (seed 002) are told apart from dead ones "
        "(uvicorn's own default).",
    )
    ws_ping_timeout_s: float = Field(20.0, gt=0, description="Wait for a ping's pong (uvicorn's default).")
    ws_per_message_deflate: bool = Field(
        False,
        description="Offer WebSocket permessage-deflate (uvicorn's default is on). Off: frames are JPEG, "
        "already compressed; their base64 text deflates by about a quarter (32.5 to 23.8 kB a desk-video "
        "frame) for about 1 ms of the client's CPU and 0.1 ms of the server's event loop a frame, and samples "
        "are small (docs/performance.md).",
    )

    @property
    def frame_process_count(self) -> int:
        """Frame worker processes a server process starts: ``frame_processes`` if set, else the cores this
        process may run on (``os.sched_getaffinity``) when ``workers`` is 1 and there are 2 or more, else 0
        (measured on 2 cores: README, "Capacity")."""
        if self.frame_processes is not None:
            return self.frame_processes
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return cores if self.workers == 1 and cores >= 2 else 0


class SecuritySettings(BaseModel):
    """Who may call the server: origins, Host values and the API token (``api/security.py``)."""

    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins allowed to open WebSockets and make CORS requests, besides the server's own "
        "origin and http(s)://localhost / 127.0.0.1 on any port. '*' allows every origin.",
    )
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host header values the server answers (comma-separated; '*' any). Empty: when bound to a "
        "loopback address, only localhost, 127.0.0.1, ::1 and the hosts of allowed_origins, which stops "
        "DNS-rebinding pages from reaching a local server (Starlette TrustedHostMiddleware); when bound to "
        "another address, any host (set this, or api_token, when exposing the server).",
    )
    api_token: SecretStr | None = Field(
        None,
        description="When set, REST calls need `Authorization: Bearer <token>` (or `?token=`), and "
        "WebSockets need `?token=<token>`. Never logged.",
    )
    token_secret: SecretStr | None = Field(
        None,
        description="HMAC-SHA256 key of the session tokens (POST /api/sessions/{id}/tokens, docs/tokens.md). "
        "Unset: derived from api_token, or random per process (with a warning: tokens then work only on "
        "the process that minted them, so set it when running several workers or instances). Never logged.",
    )
    session_token_default_ttl_s: int = Field(
        3600,
        ge=1,
        le=7 * 86400,
        description="Lifetime (s) of a session token minted without `ttl_s`: one hour, an interview's length.",
    )
    session_token_max_ttl_s: int = Field(
        86400,
        ge=1,
        le=30 * 86400,
        description="Longest lifetime (s) a session token may be minted with (a day); longer asks get 422.",
    )

    @field_validator("allowed_origins", "trusted_hosts", mode="before")
    @classmethod
    def _split_origins(cls, v: object) -> object:
        if isinstance(v, str):
            v = v.strip()
            if v.startswith("["):
                return json.loads(v)  # a JSON list (NoDecode: the env value arrives raw)
            return [o.strip().rstrip("/") for o in v.split(",") if o.strip()]
        return v


class LimitSettings(BaseModel):
    """What one client can make the server spend (README "Reliability and limits"; ``api/limits.py``)."""

    max_message_bytes: int = Field(
        2 * MiB, ge=1024, description="Largest WebSocket message accepted; larger closes with code 1009."
    )
    max_body_bytes: int = Field(
        2 * MiB,
        ge=1024,
        description="Largest request body of the JSON (and other non-multipart) routes; a larger one is "
        "refused with 413 before it is read (from Content-Length, or counted while a chunked body streams). "
        "2 MiB holds the largest legitimate bodies: 10,000 gaze points (~0.5 MB) or a cnn profile (~0.6 MB).",
    )
    max_json_items: int = Field(
        200_000,
        ge=100,
        description="Most JSON values (numbers, strings, list items, object members) in one request body, "
        "counted before the body is validated; more is refused with 413.",
    )
    max_connections: int = Field(
        64,
        ge=1,
        description="Most open WebSockets (tracking, live and the seeds' routes together); the next one is "
        "refused with HTTP 503 at the handshake. A tracking stream costs about 33 MiB once it has "
        "processed a frame (README, Limits).",
    )
    max_connections_per_client: int = Field(
        16,
        ge=1,
        description="Most open WebSockets from one client address (the TCP peer, or the X-Forwarded-For "
        "client when the peer is a trusted proxy: forwarded_allow_ips, none by default; an untrusted proxy "
        "counts as one client); the next one is refused with HTTP 503 at the handshake.",
    )
    http_header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Longest time (s) a client may take to send a request's line and headers, from the "
        "connection's start or the first byte of a next request on a kept-alive one; then the connection is "
        "closed (api/http_guard.py; as nginx's client_header_timeout, 60 s by default there). A browser "
        "sends its headers in one packet; 10 s allows a slow mobile link.",
    )
    max_open_connections: int | None = Field(
        None,
        ge=1,
        description="Most open client connections (HTTP and WebSocket) of one server process; one accepted "
        "past it is closed at once and logged (http_connection_refused). Unset: the soft RLIMIT_NOFILE "
        "less 256 descriptors kept for the store, workers and logs (768 under the common limit of 1,024).",
    )
    live_max_frame_pixels: int = Field(
        1920 * 1080,
        ge=16 * 16,
        description="Largest live frame (width x height, read from the header before decoding). "
        "1920x1080 (Full HD) is the highest video mode of common USB webcams (e.g. Logitech C920/C922, "
        "1080p30 per their specifications; UVC 1.5); browsers send 640x480 by default. Offline images "
        "(stimuli, `gazescope analyze`) keep the max_frame_width x max_frame_height limit.",
    )
    frame_decode_budget_ms: float = Field(
        250.0,
        gt=0,
        description="Decode time (ms) one tracking connection may use per second (a token bucket holding "
        "at most one second's worth). A 640x480 webcam JPEG decodes in ~0.5 ms and a 1920x1080 one in ~4 ms "
        "on a 2-core machine (15-120 ms per second at 30 FPS); the costliest allowed frame, an 8-bit "
        "1920x1080 PNG, in 20-27 ms. A connection over budget waits before its next frame (waiting frames "
        "are replaced by newer ones and counted as dropped), so one sender of costly frames cannot "
        "monopolise the worker threads.",
    )
    max_frame_bytes: int = Field(2 * MiB, ge=1024, description="Largest encoded frame accepted.")
    max_frame_width: int = Field(4096, ge=16, description="Largest frame width in pixels (from header).")
    max_frame_height: int = Field(4096, ge=16, description="Largest frame height in pixels (from header).")
    max_stimulus_bytes: int = Field(
        16 * MiB,
        ge=1024,
        description="Largest uploaded stimulus image (JPEG/PNG, POST /api/stimuli); its pixel size is "
        "limited by max_frame_width/max_frame_height. 16 MiB holds a lossless 4K screenshot.",
    )
    max_stimulus_video_bytes: int = Field(
        64 * MiB,
        ge=1024,
        description="Largest uploaded stimulus video (MP4/WebM, POST /api/stimuli): about 2 minutes of "
        "1080p H.264 at 4 Mbit/s; its frame size is limited by max_frame_width/max_frame_height.",
    )
    # --- landmarks mode (issue 22) ---
    landmarks_max_image_px: int = Field(
        4096,
        ge=16,
        le=65535,
        description="Largest image width or height (px) a landmarks message may state (docs/protocol.md, "
        "'Landmarks instead of frames'); its smallest is 1. 4096 is max_frame_width's default (a 4K camera).",
    )
    landmarks_xy_margin_norm: float = Field(
        0.5,
        ge=0,
        le=10,
        description="How far (in image widths/heights) a landmark's normalised x or y may lie outside 0..1: "
        "MediaPipe Face Mesh extrapolates points of a face cut by the border a little beyond the image, so "
        "the accepted range is [-0.5, 1.5] by default; further out is a bad_landmarks error.",
    )
    landmarks_max_abs_z: float = Field(
        5.0,
        gt=0,
        le=1000,
        description="Largest |z| of a landmark (MediaPipe's relative depth, in image widths, about ±0.1 on "
        "a face filling the frame); larger is a bad_landmarks error.",
    )


class QuotaSettings(BaseModel):
    """Rate limits of writes, quotas on stored totals, document sizes and the free-disk watermark
    (docs/operations.md, "Limits"; ``api/ratelimit.py``, ``services/quotas.py``)."""

    rate_limit_writes_per_s: float = Field(
        10.0,
        ge=0,
        description="Writes (POST/PUT/PATCH/DELETE REST calls, seed 003's /upload) one client address may "
        "make per second on average: a token bucket refilled at this rate; an empty bucket is answered 429 "
        "with Retry-After. 0 turns the limit off. 10/s is ten times the web app's busiest flow (a gaze "
        "batch a second) and stops a script at 10 sessions a second instead of ~500.",
    )
    rate_limit_burst: int = Field(
        60,
        ge=1,
        description="Writes one client address may make at once before rate_limit_writes_per_s applies "
        "(the bucket's size): a page creating a session, a profile and AOIs in one go stays far below it.",
    )
    rate_limit_bytes_per_s: int = Field(
        4 * MiB,
        ge=0,
        description="Request-body bytes of writes (by Content-Length) one client address may send per second "
        "on average: a second token bucket, so large uploads cannot fill the disk at the request rate "
        "(16 MiB stimuli at 10 a second were 160 MiB/s). 0 turns it off. 4 MiB/s is eight 0.5 MB gaze "
        "batches a second.",
    )
    rate_limit_bytes_burst: int = Field(
        128 * MiB,
        ge=1024,
        description="Request-body bytes one client address may send at once before rate_limit_bytes_per_s "
        "applies: two of the largest stimulus videos (max_stimulus_video_bytes). A larger single body counts "
        "as this much.",
    )
    rate_limit_max_clients: int = Field(
        10_000,
        ge=1,
        description="Client addresses whose buckets are kept (a few hundred bytes each); past it full "
        "buckets are forgotten first, then the oldest.",
    )
    max_document_bytes: int = Field(
        1 * MiB,
        ge=1024,
        description="Largest stored profile document (its JSON, accuracy figures included); larger is "
        "refused with 422 document_too_large. A cnn profile is ~0.6 MB, a polynomial one ~10 KB.",
    )
    max_sessions: int = Field(
        100_000,
        ge=1,
        description="Sessions stored at once (REST, seeds and implicit tracking sessions); the next create "
        "is refused with 507 quota_exceeded until some are deleted.",
    )
    max_stimuli: int = Field(
        1_000, ge=1, description="Stimuli (images and videos) stored at once; the next upload gets 507."
    )
    max_stimuli_total_bytes: int = Field(
        4 * 1024 * MiB,
        ge=1024,
        description="Total bytes of stored stimulus files (4 GiB: 64 of the largest videos); an upload that "
        "would pass it gets 507.",
    )
    max_profiles: int = Field(
        10_000, ge=1, description="Calibration profiles stored at once; the next one gets 507."
    )
    min_free_disk_bytes: int = Field(
        256 * MiB,
        ge=0,
        description="SQLite store only: below this much free space on the database's file system, REST "
        "writes and seed 003 uploads are refused with 503 storage_full (DELETEs still pass, to free space); "
        "tracking goes on replying. 0 turns the check off. Redis holds its data in memory: set its "
        "maxmemory instead.",
    )


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
    eyes_closed_after_s: float = Field(1.0, gt=0, description="Continuous closure that is 'eyes_closed'.")
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


# bases in reverse order, as for Settings below
class ReadSettings(BaseModel):
    """Reading stored sessions: sample pages, export chunks, the per-session sample cap (issue 20)."""

    samples_page_default: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Samples in a GET /api/sessions/{id}/samples page without `limit`: about 2 MB of JSON, "
        "five and a half minutes at 30 FPS.",
    )
    samples_page_max: int = Field(
        50_000,
        ge=1,
        le=1_000_000,
        description="Largest `limit` of a samples page (larger asks get 422): about 9 MB of JSON "
        "(~180 bytes a sample); the CSV export streams every sample without this bound.",
    )
    export_chunk_samples: int = Field(
        5_000,
        ge=100,
        le=100_000,
        description="Samples read from the store per chunk of a streamed CSV export (about 0.4 MB of CSV).",
    )
    max_samples_per_session: int = Field(
        2_000_000,
        ge=1,
        le=100_000_000,
        description="Samples stored per session; past it tracking goes on replying but stores nothing more "
        "(logged once as samples_capped, counted in gazescope_refused_total{reason=samples_capped}) and "
        "POST .../gaze answers 409 samples_capped. 2,000,000 is 18.5 hours at 30 FPS (~360 MB in the store).",
    )


class TrackingSettings(AttentionSettings, BlinkSettings, SmoothingSettings, GazeSettings):
    """Everything one stream's :class:`~gazescope.tracking.tracker.GazeTracker` reads: gaze and eye
    contact, smoothing, blinks and attention."""


_G = TypeVar("_G", bound=BaseModel)


class Settings(  # bases listed last group first: pydantic orders fields from the last base
    ReadSettings,
    ActivitySettings,
    DataQualitySettings,
    SeedSettings,
    VideoAnalyticsSettings,
    CalibrationSettings,
    TrackingSettings,
    LandmarkSettings,
    StorageSettings,
    QuotaSettings,
    LimitSettings,
    SecuritySettings,
    ServerSettings,
    BaseSettings,
):
    """Validated gazescope configuration (env prefix ``GAZESCOPE_``): every group's fields, flat."""

    model_config = SettingsConfigDict(
        env_prefix="GAZESCOPE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.workers > 1 and self.store_kind != "redis":
            raise ValueError(WORKERS_NEED_REDIS)
        return self

    @property
    def effective_trusted_hosts(self) -> list[str]:
        """The Host values answered (see ``trusted_hosts``); ``["*"]`` means any."""
        if self.trusted_hosts:
            return list(self.trusted_hosts)
        if self.host not in LOOPBACK_HOSTS and not self.host.startswith("127."):
            return ["*"]
        extra = [urlsplit(o).hostname for o in self.allowed_origins if o != "*"]
        if "*" in self.allowed_origins:
            return ["*"]
        return sorted({"localhost", "127.0.0.1", "::1", "[::1]", self.host, *(h for h in extra if h)})

    def _group(self, group: type[_G]) -> _G:
        # values were validated when these settings loaded: copied, not checked again
        return group.model_construct(**{name: getattr(self, name) for name in group.model_fields})

    @property
    def server(self) -> ServerSettings:
        return self._group(ServerSettings)

    @property
    def security(self) -> SecuritySettings:
        return self._group(SecuritySettings)

    @property
    def limits(self) -> LimitSettings:
        return self._group(LimitSettings)

    @property
    def quotas(self) -> QuotaSettings:
        return self._group(QuotaSettings)

    @property
    def storage(self) -> StorageSettings:
        return self._group(StorageSettings)

    @property
    def landmarks(self) -> LandmarkSettings:
        return self._group(LandmarkSettings)

    @property
    def tracking(self) -> TrackingSettings:
        return self._group(TrackingSettings)

    @property
    def gaze(self) -> GazeSettings:
        return self._group(GazeSettings)

    @property
    def smoothing(self) -> SmoothingSettings:
        return self._group(SmoothingSettings)

    @property
    def blinks(self) -> BlinkSettings:
        return self._group(BlinkSettings)

    @property
    def attention(self) -> AttentionSettings:
        return self._group(AttentionSettings)

    @property
    def calibration(self) -> CalibrationSettings:
        return self._group(CalibrationSettings)

    @property
    def video_analytics(self) -> VideoAnalyticsSettings:
        return self._group(VideoAnalyticsSettings)

    @property
    def seeds(self) -> SeedSettings:
        return self._group(SeedSettings)

    @property
    def data_quality(self) -> DataQualitySettings:
        return self._group(DataQualitySettings)

    @property
    def activity(self) -> ActivitySettings:
        return self._group(ActivitySettings)

    @property
    def reads(self) -> ReadSettings:
        return self._group(ReadSettings)


#: Why several server processes refuse the embedded store.
WORKERS_NEED_REDIS = (
    "workers > 1 needs Redis (GAZESCOPE_REDIS_URL): the processes share sessions, tracking ownership and "
    "live observers through it; the SQLite store serves one process"
)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment (tests build their own ``Settings(...)``)."""
    return Settings()
