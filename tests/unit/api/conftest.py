"""In-process API tests (Starlette's TestClient): its WebSocket requests always carry ``Host: testserver``,
so these tests add that name to the trusted hosts. Host checking itself is tested in
test_api_validation.py with explicit settings."""

from __future__ import annotations

from typing import Any

import pytest

from gazescope.domain import GazeSample


@pytest.fixture(autouse=True)
def _testclient_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAZESCOPE_TRUSTED_HOSTS", "localhost,127.0.0.1,testserver")


@pytest.fixture
def sample_dict() -> dict[str, Any]:
    """A processed frame's sample (as stored) with a face, a left gaze and eye contact."""
    return GazeSample(
        t_ms=100.0,
        frame_index=3,
        face_detected=True,
        confidence=0.8,
        pupil_left_px=(330.0, 200.0),
        pupil_right_px=(290.0, 201.0),
        horizontal_ratio=0.7,
        vertical_ratio=0.5,
        direction="left",
        ear_left=0.3,
        ear_right=0.28,
        gaze_vector=(0.1, -0.2),
        eye_contact=True,
        eye_contact_pct=42.0,
        attention_score=0.9,
    ).to_dict()
