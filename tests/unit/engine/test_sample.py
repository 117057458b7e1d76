"""The engine's typed sample (engine/sample.py) and the hooks that add to it (engine/hooks.py)."""

from __future__ import annotations

import logging
import math

import pytest

from gazescope.domain import FrameFeatures, GazeSample
from gazescope.engine.hooks import ConnectionHooks
from gazescope.engine.sample import SampleExtras, TrackedSample
from gazescope.engine.wire import Inbound
from gazescope.tracking.video_clock import VideoMoment


def _sample() -> GazeSample:
    return GazeSample(t_ms=12.3456789, frame_index=4, face_detected=True, confidence=math.nan, blink_count=2)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="none"),
        pytest.param(VideoMoment("vid1", 1.234567).to_fields(), id="video"),
        pytest.param({"calibration_target_px": [100.0, 200.5]}, id="calibration-target"),
    ],
)
def test_to_dict_is_the_sample_dict_with_the_hook_fields_after_it(fields: dict[str, object]) -> None:
    """The JSON the engine stores and sends is what it was when the sample was a merged dict."""
    tracked = TrackedSample(_sample(), SampleExtras.from_fields(fields))
    old = _sample().to_dict()
    old.update(fields)
    assert tracked.to_dict() == old
    assert list(tracked.to_dict()) == list(old)


def test_a_hook_field_that_is_not_an_extra_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="screen_x_px"):
        SampleExtras.from_fields({"screen_x_px": 3.0})


def test_hooks_run_after_observers_later_hooks_win_and_a_failing_one_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = ConnectionHooks(logging.getLogger("test-hooks"), "s1")
    order: list[str] = []
    hooks.add_frame_user(
        lambda i, ff, s, rgb: order.append("hook") or {"stimulus_id": "a"}, hook=True, needs_image=False
    )
    hooks.add_frame_user(lambda ff, s, rgb: order.append("observer"), hook=False, needs_image=False)
    hooks.add_frame_user(lambda i, ff, s, rgb: {"bogus": 1}, hook=True, needs_image=lambda: True)
    hooks.add_frame_user(
        lambda i, ff, s, rgb: {"stimulus_id": "b", "video_t_s": 2.0}, hook=True, needs_image=False
    )
    ff = FrameFeatures(face_detected=False, face_count=0, image_size=(640, 480))
    with caplog.at_level(logging.ERROR, "test-hooks"):
        extras = hooks.processed(Inbound("frame"), ff, _sample(), None)
    assert order == ["observer", "hook"]
    assert extras == SampleExtras(stimulus_id="b", video_t_s=2.0)
    assert "frame hook failed" in caplog.text
    assert hooks.wants_image() and hooks.has_frame_users
