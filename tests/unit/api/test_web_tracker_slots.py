"""The web client's in-flight frame slots (src/gazescope/web/js/tracker.js), run in Node: an error that
answers a frame frees a slot whatever its code; an error that answers a text message does not."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

TRACKER_JS = Path(__file__).resolve().parents[3] / "src" / "gazescope" / "web" / "js" / "tracker.js"

SCRIPT = """
import { TrackingClient } from %s;
const out = {};
for (const code of %s) {
  const c = new TrackingClient();
  c.inFlight = [{ index: 0, sentAt: 0 }, { index: 1, sentAt: 0 }];
  c._onMessage({ type: "error", code, message: "x" });
  out[code] = c.inFlight.length;
}
console.log(JSON.stringify(out));
"""


def slots_left_after_error(codes: list[str]) -> dict[str, int]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = SCRIPT % (json.dumps(TRACKER_JS.as_uri()), json.dumps(codes))
    run = subprocess.run(
        [node, "--experimental-detect-module", "--no-warnings", "--input-type=module", "-e", script],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_frame_errors_free_a_slot_and_replies_to_text_messages_do_not() -> None:
    frame_codes = [
        "bad_frame",
        "frame_too_large",
        "internal_error",
        "calibration_error",
        "landmark_backend_error",
    ]
    text_codes = ["no_calibration", "calibration_busy", "not_enough_data", "invalid_request", "bad_message"]
    left = slots_left_after_error(frame_codes + text_codes)
    assert {c: left[c] for c in frame_codes} == dict.fromkeys(frame_codes, 1)
    assert {c: left[c] for c in text_codes} == dict.fromkeys(text_codes, 2)
