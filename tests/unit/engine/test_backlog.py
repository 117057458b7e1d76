"""StoreBacklog: samples and session ends held while the store is down, on a real SQLite store and a real
Redis client whose server is away (a free port nobody listens on)."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gazescope.api.app import create_app
from gazescope.api.metrics import Metrics
from gazescope.api.state import AppState
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.engine.backlog import StoreBacklog
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


def test_a_held_end_that_keeps_failing_is_given_up_after_store_backlog_max_s(tmp_path: Path, caplog) -> None:
    """Only the session's end fails (a trigger refuses to mark it ended); its samples are all stored, so
    every retry stores nothing, and that must not restart the store_backlog_max_s clock."""
    store = SQLiteStore(tmp_path / "g.db")
    store.create_session(SessionInfo(id="s", created_at_ms=0.0))
    store.append_samples("s", _samples(0, 5))
    with sqlite3.connect(tmp_path / "g.db") as db:
        db.execute(
            "CREATE TRIGGER refuse_end BEFORE UPDATE ON sessions WHEN NEW.status = 'ended' "
            "BEGIN SELECT RAISE(ABORT, 'injected: ending fails'); END"
        )
    # max_s well above one attempt (a report build): only the failures adding up can pass it
    state = _state(store, store_retry_s=0.05, store_backlog_max_s=3.0)

    async def run() -> None:
        backlog = state.backlog
        backlog.hold_end("s")
        with caplog.at_level(logging.WARNING, logger="gazescope"):
            await asyncio.wait_for(_until(lambda: not backlog.sessions()), 20)

    asyncio.run(run())
    assert store.get_session("s").status == "active"
    lost = [(r.session_id, r.reason) for r in caplog.records if r.getMessage() == "session_end_lost"]
    assert lost == [("s", "store_backlog_max_s")]


async def _until(cond) -> None:
    while not cond():
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    "route", [pytest.param("gaze", id="post-gaze"), pytest.param("seed003", id="seed003")]
)
def test_posted_points_are_numbered_after_the_samples_the_backlog_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str
) -> None:
    """After an outage the backlog holds a finished connection's samples; points posted then must take
    frame indices after those, or the idempotent appends drop one side (real app, real SQLite)."""
    monkeypatch.setenv("GAZESCOPE_TRUSTED_HOSTS", "testserver")
    settings = Settings(db_path=tmp_path / "g.db", profiles_dir=tmp_path / "p", store_retry_s=600.0)
    points = [{"t_ms": 1000.0 + 40 * k, "x_px": 100.0 + k, "y_px": 200.0} for k in range(8)]
    with TestClient(create_app(settings)) as client:
        backlog = client.app.state.gs.backlog
        if route == "gaze":
            sid = client.post("/api/sessions", json={"screen_w_px": 800, "screen_h_px": 600}).json()["id"]
            first = 0
        else:
            r = client.post("/upload", json={"points": [{"x": 1.0, "y": 2.0}] * 3})
            sid, first = r.headers["X-Gazescope-Session"], 3

        async def hold() -> None:  # the store refused these when their connection ended
            backlog.hold(sid, [{"t_ms": float(i), "frame_index": i} for i in range(first, first + 5)], None)

        client.portal.call(hold)
        if route == "gaze":
            r = client.post(f"/api/sessions/{sid}/gaze", json={"points": points})
        else:
            r = client.post("/upload", json={"points": [{"x": p["x_px"], "y": p["y_px"]} for p in points]})
        assert r.status_code == 200, r.text
    store = SQLiteStore(tmp_path / "g.db")
    try:
        indices = [s["frame_index"] for s in store.get_samples(sid)]
    finally:
        store.close()
    assert indices == list(range(first + 5 + len(points)))  # held and posted: all kept, none reused
