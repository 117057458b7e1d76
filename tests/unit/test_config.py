"""Settings groups (``gazescope.config``): flat fields and env names, group views, validators per group."""

from __future__ import annotations

import pydantic
import pytest

from gazescope.config import (
    BlinkSettings,
    GazeSettings,
    LandmarkSettings,
    Settings,
    StorageSettings,
    TrackingSettings,
)


def test_every_field_belongs_to_exactly_one_group():
    groups = [b for b in Settings.__mro__ if issubclass(b, pydantic.BaseModel) and b.__doc__]
    leaves = [
        g
        for g in groups
        if g.__module__.startswith("gazescope.config.") and g.__bases__ == (pydantic.BaseModel,)
    ]
    owned = [f for g in leaves for f in g.model_fields]
    assert sorted(owned) == sorted(Settings.model_fields)
    assert len(owned) == len(set(owned))


def test_flat_env_names_reach_the_group_views(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GAZESCOPE_BLINK_MIN_MS", "40")
    monkeypatch.setenv("GAZESCOPE_LANDMARK_BACKEND", "dlib")
    s = Settings()
    assert s.blink_min_ms == 40.0
    assert isinstance(s.blinks, BlinkSettings) and s.blinks.blink_min_ms == 40.0
    assert isinstance(s.landmarks, LandmarkSettings) and s.landmarks.landmark_backend == "dlib"
    assert isinstance(s.tracking, TrackingSettings) and s.tracking.blink_min_ms == 40.0
    assert isinstance(s, BlinkSettings) and isinstance(s, TrackingSettings)


def test_group_defaults_are_the_settings_defaults():
    s = Settings()
    assert s.blinks == BlinkSettings()
    assert s.tracking == TrackingSettings()


@pytest.mark.parametrize(
    ("group", "kwargs", "message"),
    [
        pytest.param(BlinkSettings, {"blink_min_ms": 900.0}, "blink_min_ms must be below", id="blink-bounds"),
        pytest.param(
            BlinkSettings,
            {"blink_release_ratio": 0.7},
            "blink_release_ratio must be above",
            id="blink-release",
        ),
        pytest.param(
            GazeSettings, {"direction_right_threshold": 0.7}, "direction_right_threshold", id="directions"
        ),
        pytest.param(StorageSettings, {"store": "redis"}, "needs redis_url", id="redis-url"),
        pytest.param(Settings, {"blink_min_ms": 900.0}, "blink_min_ms must be below", id="settings-blink"),
        pytest.param(Settings, {"workers": 2}, "workers > 1 needs Redis", id="settings-workers"),
    ],
)
def test_validators_run_on_the_group_and_on_settings(group, kwargs, message):
    with pytest.raises(pydantic.ValidationError, match=message):
        group(**kwargs)
