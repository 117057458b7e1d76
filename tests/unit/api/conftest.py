"""In-process API tests (Starlette's TestClient): its WebSocket requests always carry ``Host: testserver``,
so these tests add that name to the trusted hosts. Host checking itself is tested in
test_api_validation.py with explicit settings.

``make_client(**settings_overrides)`` builds the app on a SQLite file, a profiles folder and a stimulus-video
folder in the test's tmp_path; ``client`` is one such client, started (lifespan run) for the whole test.
``new_session`` (tests/support/api.py) creates a session through the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gazescope.api.app import create_app
from gazescope.config import Settings
from gazescope.domain import GazeSample

MakeClient = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> MakeClient:
    """``make_client(base_url=..., **settings_overrides)``: a TestClient of ``create_app(Settings(...))`` on
    ``tmp_path/gazescope.db`` with ``tmp_path/profiles`` and ``tmp_path/videos`` (the same for every client
    of the test), not yet started: use it as
    ``with make_client(max_connections=1) as client:`` so its lifespan runs and ends in the test."""

    def make(*, base_url: str = "http://testserver", **overrides: Any) -> TestClient:
        overrides.setdefault("db_path", tmp_path / "gazescope.db")
        overrides.setdefault("profiles_dir", tmp_path / "profiles")
        overrides.setdefault("stimulus_video_dir", tmp_path / "videos")
        return TestClient(create_app(Settings(**overrides)), base_url=base_url)

    return make


@pytest.fixture
def client(make_client: MakeClient) -> Iterator[TestClient]:
    """A started TestClient with default settings (plus the trusted ``testserver`` host)."""
    with make_client() as c:
        yield c


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
