"""MediaPipe's native log lines stay out of a library user's stderr; the user's own lines do not."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gazescope.library.quiet import NATIVE_NOISE

SCRIPT = """
import sys, cv2, gazescope
cap = cv2.VideoCapture(sys.argv[1])
with gazescope.Tracker(fps=30) as tracker:
    for i in range(30):
        ok, frame = cap.read()
        tracker.process(frame)
        if i == 10:
            print("user line", file=sys.stderr)
print("done")
"""


@pytest.mark.parametrize(
    ("line", "noise"),
    [
        pytest.param(b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n", True, id="tflite-info"),
        pytest.param(
            b"W0000 00:00:1796654744.393979    9403 inference_feedback_manager.cc:114] Feedback ...\n",
            True,
            id="absl-warning",
        ),
        pytest.param(b"E0000 00:00:1796654744.393979    9403 graph.cc:1] failed\n", False, id="absl-error"),
        pytest.param(b"Traceback (most recent call last):\n", False, id="python"),
    ],
)
def test_noise_pattern(line: bytes, noise: bool) -> None:
    assert bool(NATIVE_NOISE.match(line)) is noise


def test_tracking_a_video_prints_no_native_log_line(desk_video) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(desk_video)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
    assert out.stderr.splitlines() == ["user line"]
