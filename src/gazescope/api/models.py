"""Request and response models of the REST API (pydantic)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.dataclasses import dataclass as pydantic_dataclass

from gazescope.domain import ResourceId, SessionInfo, UserRef


class SessionCreate(BaseModel):
    """Body of ``POST /api/sessions`` (every field optional)."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserRef | None = Field(
        None, description="Who is tracked (1-256 characters, no control characters)."
    )
    label: str | None = Field(None, max_length=512, description="Free text shown in lists and reports.")
    screen_w_px: int | None = Field(None, gt=0, le=100_000, description="Viewport width in CSS pixels.")
    screen_h_px: int | None = Field(None, gt=0, le=100_000, description="Viewport height in CSS pixels.")
    stimulus_id: ResourceId | None = Field(None, description="Shown stimulus (an id of /api/stimuli).")
    calibration_id: UserRef | None = Field(None, description="Calibration used (1-256 characters).")


@pydantic_dataclass(frozen=True)
class SessionOut(SessionInfo):
    """A session as stored (the fields of :class:`~gazescope.domain.SessionInfo`, not restated here) and
    ``tracking``: whether a tracking WebSocket is connected now. Times are epoch milliseconds;
    ``ended_at_ms`` is null while it runs."""

    tracking: bool = False

    @classmethod
    def of(cls, info: SessionInfo, tracking: bool = False) -> SessionOut:
        return cls(**info.to_dict(), tracking=tracking)


class SamplesPage(BaseModel):
    """Samples of a session from sample index ``start``; ``total`` is the session's stored count;
    ``next`` the ``start`` of the following page (None after the last page)."""

    session_id: str
    start: int
    total: int
    samples: list[dict[str, Any]]
    next: int | None = None


class ErrorOut(BaseModel):
    """Error body: a human-readable ``detail`` and, for gazescope errors, a stable ``code``."""

    detail: Any
    code: str | None = None


class TokenCreate(BaseModel):
    """Body of ``POST /api/sessions/{id}/tokens``: lifetime (s; default ``Settings.session_token_default_ttl_s``,
    at most ``Settings.session_token_max_ttl_s``) and rights (``track``, ``live``, ``read``; default
    ``track`` and ``read``)."""

    model_config = ConfigDict(extra="forbid")

    ttl_s: int | None = Field(None, ge=1, le=30 * 86400)
    rights: list[Literal["track", "live", "read"]] | None = Field(None, min_length=1, max_length=3)


class TokenOut(BaseModel):
    """A minted session token: the bearer credential, its session, rights and expiry (epoch ms)."""

    token: str
    session_id: str
    rights: list[str]
    expires_at_ms: int
