"""Frames held by :meth:`TrackingConnection.hold_frames` are bounded in bytes too (seed 004's
``Settings.seed004_hold_bytes``), not only in count."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from gazescope.api.metrics import Metrics
from gazescope.api.seeds import seed004
from gazescope.api.state import AppState
from gazescope.api.tracking import TrackingConnection
from gazescope.api.wire import Inbound
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.storage import create_live_hub
from gazescope.storage.sqlite import SQLiteStore

MIB = 1024 * 1024


class QuietWebSocket:
    application_state = None

    async def send_text(self, text):
        return None

    async def close(self, **kw):
        return None


def _frame(n_bytes: int) -> Inbound:
    return Inbound("frame", payload="x" * n_bytes, body={"seed004": "calibration", "target_px": (10.0, 10.0)})


def test_seed004_held_frames_are_bounded_in_bytes_and_the_oldest_are_dropped(tmp_path):
    async def scenario():
        settings = Settings(seed004_hold_frames=900, seed004_hold_bytes=2 * MIB)
        store = SQLiteStore(tmp_path / "g.db")
        info = store.create_session(SessionInfo(id="s1", created_at_ms=time.time() * 1000))
        state = AppState(
            settings=settings, store=store, hub=create_live_hub(settings),
            executor=ThreadPoolExecutor(1), metrics=Metrics(),
        )  # fmt: skip
        conn = TrackingConnection(state, QuietWebSocket(), info, seed004.Seed004Wire("dispatcher"), "seed004")
        await seed004._start(conn)  # holds frames (nothing processes them here)
        dropped = [j.frame_index for k in range(5) for j in conn._enqueue(_frame(600 * 1024))]
        return dropped, [j.frame_index for j in conn._waiting], conn.dropped

    dropped, waiting, count = asyncio.run(scenario())
    assert waiting == [2, 3, 4]  # 3 x 600 KiB fit in 2 MiB, 4 do not; the 2 oldest were dropped
    assert dropped == [0, 1] and count == 2
