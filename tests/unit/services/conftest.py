"""Fixtures of the services tests: a real SQLite store in a temporary folder, a real stimulus image, and
sessions holding client gaze points stored the way ``POST /api/sessions/{id}/gaze`` stores them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from gazescope.domain import SessionInfo
from gazescope.services import gaze_points
from gazescope.services.stimuli import (
    StimulusData,
    decode_stimulus_image,
    load_stimulus,
    store_image_stimulus,
)
from gazescope.storage.frame_indices import continuation
from gazescope.storage.sqlite import SQLiteStore
from support.gaze_plans import H, W, points


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "services.db")
    yield s
    s.close()


@pytest.fixture
def photo(data_dir: Path) -> bytes:
    """A real JPEG (480p, one face)."""
    return (data_dir / "images" / "obama-480p.jpg").read_bytes()


@pytest.fixture
def make_session(store: SQLiteStore) -> Callable[..., SessionInfo]:
    """``make_session(sid, plan, **fields)``: a running session (screen :data:`W` x :data:`H` unless
    given) with the client gaze points of ``plan`` stored as samples."""

    def make(sid: str, plan: Sequence[tuple[float, float]] = (), **fields: Any) -> SessionInfo:
        fields.setdefault("screen_w_px", W)
        fields.setdefault("screen_h_px", H)
        info = store.create_session(SessionInfo(id=sid, created_at_ms=time.time() * 1000.0, **fields))
        if plan:
            # a session without a screen size holds samples of the tracker, in a W x H screen
            screen = gaze_points.GazeScreen(W, H, False)
            if info.screen_w_px:
                screen = gaze_points.gaze_screen(info, None, None)
            samples = gaze_points.gaze_samples(points(plan), screen, continuation(store, sid))
            store.append_samples(sid, samples)
        return store.get_session(sid)

    return make


@pytest.fixture
def make_stimulus(store: SQLiteStore) -> Callable[..., StimulusData]:
    """``make_stimulus(image_bytes, aois=None)``: a stored image stimulus (with AOIs when given)."""
    from gazescope.services.stimuli import replace_aois

    def make(data: bytes, aois: list[dict[str, Any]] | None = None) -> StimulusData:
        facts = decode_stimulus_image(data, 10_000_000, 4096, 4096)
        doc = store_image_stimulus(store, data, facts, "stimulus")
        stim = load_stimulus(store, doc["id"])
        if aois:
            replace_aois(store, stim, aois)
        return load_stimulus(store, doc["id"])

    return make


@pytest.fixture
def screen_png() -> bytes:
    """A plain grey PNG of the screen's size (W x H)."""
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((H, W, 3), 220, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
