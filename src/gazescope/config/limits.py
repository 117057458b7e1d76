"""Bounds on what clients send and read: request and frame sizes, rates and timeouts (:class:`LimitSettings`),
per-user quotas (:class:`QuotaSettings`) and reading stored sessions (:class:`ReadSettings`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

MiB = 1024 * 1024


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
