"""Settings: the one place gazescope is configured.

Every field can be set through an environment variable ``GAZESCOPE_<FIELD>`` (case-insensitive) or a
``.env`` file in the working directory; values are validated when the settings load, and a bad value raises
``pydantic.ValidationError`` naming the field.

Fields are defined once, in one pydantic model per group (:class:`BlinkSettings`, :class:`AttentionSettings`,
:class:`ServerSettings` ...), one module per job: :mod:`~gazescope.config.server` (serving and security),
:mod:`~gazescope.config.limits` (request, frame and read bounds, quotas), :mod:`~gazescope.config.storage`,
:mod:`~gazescope.config.tracking` (landmarks, gaze, smoothing, blinks, attention),
:mod:`~gazescope.config.calibration`, :mod:`~gazescope.config.analytics` (video stimuli, data quality,
activity), :mod:`~gazescope.config.studies` and :mod:`~gazescope.config.seeds`. :class:`Settings` (:mod:`~gazescope.config.settings`) inherits
every group, so its fields and env names stay flat (``settings.blink_min_ms``, ``GAZESCOPE_BLINK_MIN_MS``),
and a ``Settings`` is accepted wherever a group is; ``settings.blinks`` and the other group properties give a
group on its own. Components take their group (``BlinkDetector(settings.blinks)``) and restate no default.
Import every name from here (``from gazescope.config import Settings``).

Thresholds carry their source in the field description. Defaults are chosen for 15-30 FPS webcam video
at 640x480.
"""

from __future__ import annotations

from gazescope.config.analytics import ActivitySettings, DataQualitySettings, VideoAnalyticsSettings
from gazescope.config.calibration import CalibrationSettings
from gazescope.config.limits import LimitSettings, MiB, QuotaSettings, ReadSettings
from gazescope.config.seeds import SeedSettings
from gazescope.config.server import LOOPBACK_HOSTS, SecuritySettings, ServerSettings
from gazescope.config.settings import WORKERS_NEED_REDIS, Settings, get_settings
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

__all__ = [
    "LOOPBACK_HOSTS",
    "WORKERS_NEED_REDIS",
    "ActivitySettings",
    "AttentionSettings",
    "BlinkSettings",
    "CalibrationSettings",
    "DataQualitySettings",
    "GazeSettings",
    "LandmarkSettings",
    "LimitSettings",
    "MiB",
    "QuotaSettings",
    "ReadSettings",
    "SecuritySettings",
    "SeedSettings",
    "ServerSettings",
    "Settings",
    "SmoothingSettings",
    "StorageSettings",
    "StudySettings",
    "TrackingSettings",
    "VideoAnalyticsSettings",
    "get_settings",
]
