"""Serving settings: the bound address, processes and threads, keep-alive (:class:`ServerSettings`), and
who may reach the server (:class:`SecuritySettings`)."""

from __future__ import annotations

import json
import os
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

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
