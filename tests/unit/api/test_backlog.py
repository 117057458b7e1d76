"""StoreBacklog: samples and session ends held while the store is down, on a real SQLite store and a real
Redis client whose server is away (a free port nobody listens on)."""

from __future__ import annotations

import asyncio
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gazescope.api.backlog import StoreBacklog
from gazescope.api.metrics import Metrics
from gazescope.api.state import AppState
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.storage import LocalLiveHub, RedisStore, SQLiteStore, Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _state(store: Store, **settings: object) -> AppState:
    return AppState(
        settings=Settings(**settings),
        store=store,
        hub=LocalLiveHub(),
        executor=ThreadPoolExecutor(1),
        metrics=Metrics(),
    )


def _samples(first: int, n: int) -> list[dict]:
    return [{"t_ms": float(i), "frame_index": i} for i in range(first, first + n)]


def test_held_samples_are_stored_once_the_store_answers(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "g.db")
    store.create_session(SessionInfo(id="s", created_at_ms=0.0))
    state = _state(store, store_retry_s=0.05)

    async def run() -> None:
        backlog: StoreBacklog = state.backlog
        backlog.hold("s", _samples(0, 5), dropped_frames=3)
        backlog.hold("s", _samples(5, 5), dropped_frames=4)
        await asyncio.wait_for(_until(lambda: not backlog.sessions()), 5)

    asyncio.run(run())
    assert [s["frame_index"] for s in store.get_samples("s")] == list(range(10))
    assert store.get_session("s").dropped_frames == 4


def test_bounds_drop_the_oldest_and_give_up_with_an_error_log(caplog) -> None:
    down = RedisStore(f"redis://127.0.0.1:{_free_port()}/0", socket_timeout_s=0.2)
    state = _state(down, store_retry_s=0.05, store_backlog_max_samples=8, store_backlog_max_s=0.3)

    async def run() -> None:
        backlog = state.backlog
        backlog.hold("a", _samples(0, 6), dropped_frames=None)
        backlog.hold("b", _samples(0, 6), dropped_frames=None)  # 12 > 8: the 4 oldest of "a" go
        assert backlog.held_samples == 8
        backlog.hold_end("b")
        with caplog.at_level(logging.WARNING, logger="gazescope"):
            await asyncio.wait_for(_until(lambda: not backlog.sessions()), 10)

    asyncio.run(run())
    down.close()
    lost = {(r.session_id, r.lost, r.reason) for r in caplog.records if r.getMessage() == "samples_lost"}
    assert lost == {
        ("a", 4, "store_backlog_max_samples"),
        ("a", 2, "store_backlog_max_s"),
        ("b", 6, "store_backlog_max_s"),
    }
    assert all(r.levelno == logging.ERROR for r in caplog.records if r.getMessage() == "samples_lost")
    assert [r.session_id for r in caplog.records if r.getMessage() == "session_end_lost"] == ["b"]


async def _until(cond) -> None:
    while not cond():
        await asyncio.sleep(0.02)
