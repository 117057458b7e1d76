"""The GazeTracking-compatible layer on real frames: its methods, their None answers without a face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from gazescope import GazeTracking


def test_gazetracking_methods_on_the_desk_video(desk_video) -> None:
    cap = cv2.VideoCapture(str(desk_video))
    seen = {"left": 0, "right": 0, "center": 0, "blinking": 0}
    with GazeTracking(fps=30) as gaze:
        assert gaze.annotated_frame() is None
        for _ in range(400):
            ok, frame = cap.read()
            assert ok
            gaze.refresh(frame)
            if gaze.pupils_located:
                flags = [gaze.is_left(), gaze.is_right(), gaze.is_center()]
                assert flags.count(True) == 1
                seen["left"] += flags[0]
                seen["right"] += flags[1]
                seen["center"] += flags[2]
                assert 0.0 <= gaze.horizontal_ratio() <= 1.0 and 0.0 <= gaze.vertical_ratio() <= 1.0
                lx, ly = gaze.pupil_left_coords()
                assert isinstance(lx, int) and 0 <= lx < 640 and 0 <= ly < 480
            seen["blinking"] += bool(gaze.is_blinking())
        annotated = gaze.annotated_frame()
        x, y = gaze.pupil_right_coords()
    assert annotated.shape == frame.shape and annotated is not frame
    assert not np.array_equal(annotated, frame)
    assert tuple(annotated[y, x]) == (0, 255, 0)  # GazeTracking's green cross (BGR)
    assert seen["blinking"] > 0 and seen["center"] > 0 and seen["left"] + seen["right"] > 0


def test_without_a_face_every_answer_is_none() -> None:
    blank = np.zeros((240, 320, 3), np.uint8)
    with GazeTracking() as gaze:
        gaze.refresh(blank)
        answers = [
            gaze.is_blinking(), gaze.is_right(), gaze.is_left(), gaze.is_center(), gaze.horizontal_ratio(),
            gaze.vertical_ratio(), gaze.pupil_left_coords(), gaze.pupil_right_coords(),
        ]  # fmt: skip
        assert gaze.pupils_located is False
        assert np.array_equal(gaze.annotated_frame(), blank)
    assert answers == [None] * 8


def test_a_frame_that_is_not_an_image_is_refused() -> None:
    from gazescope.errors import ValidationError

    with GazeTracking() as gaze, pytest.raises(ValidationError):
        gaze.refresh("frame.jpg")
