"""The composed :class:`Settings` (every group's fields, flat, read from ``GAZESCOPE_*``) and
:func:`get_settings`."""

from __future__ import annotations

from functools import lru_cache
from typing import Self, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gazescope.config.analytics import ActivitySettings, DataQualitySettings, VideoAnalyticsSettings
from gazescope.config.calibration import CalibrationSettings
from gazescope.config.limits import LimitSettings, QuotaSettings, ReadSettings
from gazescope.config.seeds import SeedSettings
from gazescope.config.server import LOOPBACK_HOSTS, SecuritySettings, ServerSettings
from gazescope.config.storage import StorageSettings
from gazescope.config.studies import StudySettings
from gazescope.config.tracking import (
    AttentionSettings,
    BlinkSettings,
    GazeSettings,
    LandmarkSettings,
    SmoothingSettings,
    TrackingSettings,
)

_G = TypeVar("_G", bound=BaseModel)


class Settings(  # bases listed last group first: pydantic orders fields from the last base
    StudySettings,
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

    @property
    def studies(self) -> StudySettings:
        return self._group(StudySettings)


#: Why several server processes refuse the embedded store.
WORKERS_NEED_REDIS = (
    "workers > 1 needs Redis (GAZESCOPE_REDIS_URL): the processes share sessions, tracking ownership and "
    "live observers through it; the SQLite store serves one process"
)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once from the environment (tests build their own ``Settings(...)``)."""
    return Settings()
