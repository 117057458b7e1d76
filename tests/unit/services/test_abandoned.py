"""Abandoned sessions (issue 19: closed tabs left sessions ``active`` for ever): a session whose tracking
connection ended and that no connection took up again for ``session_abandon_after_s`` is ended with its
report; one served by a connection (here or in another process) is not; a record left ``connected`` by a
crashed server starts the timeout when the loss is seen. On SQLite and on a real Redis, whose ownership
(``RedisOwnership``) tells what other processes serve and lets one process only end a session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gazescope.api.metrics import Metrics
from gazescope.api.state import AppState
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.services import abandoned, lifecycle
from gazescope.storage import (
    LocalLiveHub,
    LocalOwnership,
    RedisOwnership,
    RedisStore,
    SQLiteStore,
    Store,
    tracking_activity,
)
from gazescope.storage.ownership import SessionOwnership


class Backend:
    """A store and a way to make the ownership of one more server process on it."""

    def __init__(self, kind: str, store: Store, url: str | None) -> None:
        self.kind = kind
        self.store = store
        self.url = url

    def ownership(self) -> SessionOwnership:
        if self.url is None:
            return LocalOwnership()
        return RedisOwnership(self.url, prefix=self.store.prefix)  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        store: Store = SQLiteStore(tmp_path / "abandon.db")
        yield Backend("sqlite", store, None)
    else:
        url = request.getfixturevalue("redis_server")
        store = RedisStore(url, prefix=f"gs-abandon-{time.monotonic_ns()}")
        yield Backend("redis", store, url)
    store.close()


def make_state(backend: Backend, **settings: object) -> AppState:
    return AppState(
        settings=Settings(**settings),  # type: ignore[arg-type]
        store=backend.store,
        hub=LocalLiveHub(),
        executor=ThreadPoolExecutor(2),
        metrics=Metrics(),
        ownership=backend.ownership(),
    )


def session_with_samples(store: Store, sid: str, n: int = 20) -> None:
    store.create_session(SessionInfo(id=sid, created_at_ms=time.time() * 1000.0))
    samples = [{"t_ms": 33.3 * i, "frame_index": i, "face_detected": True} for i in range(n)]
    store.append_samples(sid, samples)


def run(coro):
    return asyncio.run(coro)


async def _started(state: AppState) -> AppState:
    await state.ownership.start(state.stop_local)
    return state


async def _close(*states: AppState) -> None:
    for s in states:
        await s.ownership.close()
        s.executor.shutdown(wait=True)


def test_session_disconnected_longer_than_the_timeout_is_ended_with_its_report(backend: Backend) -> None:
    store = backend.store
    session_with_samples(store, "gone")
    session_with_samples(store, "recent")
    session_with_samples(store, "never-connected")
    long_ago = tracking_activity.now_ms() - 600_000.0
    tracking_activity.mark_connected(store, "gone", "i:c1")
    assert tracking_activity.mark_disconnected(store, "gone", "i:c1", at_ms=long_ago)
    tracking_activity.mark_connected(store, "recent", "i:c2")
    assert tracking_activity.mark_disconnected(store, "recent", "i:c2")

    async def go() -> list[str]:
        state = await _started(make_state(backend, session_abandon_after_s=300))
        try:
            return await abandoned.end_abandoned_sessions(state)
        finally:
            await _close(state)

    assert run(go()) == ["gone"]
    info = store.get_session("gone")
    assert info.status == "ended" and info.ended_at_ms is not None
    report = store.get_report("gone")
    assert report is not None and report["session_id"] == "gone" and report["frames"] == 20
    assert tracking_activity.get(store, "gone") == (None, None)  # no longer a candidate
    assert store.get_session("recent").status == "active"
    assert store.get_session("never-connected").status == "active"
    assert [a.session_id for a in tracking_activity.list_all(store)] == ["recent"]


def test_session_served_by_another_process_is_not_ended(backend: Backend) -> None:
    """A newer connection took the session up (a reload, a takeover): the record of the old one is
    stale, but the session is served, so it stays active."""
    store = backend.store
    session_with_samples(store, "s")
    tracking_activity.mark_connected(store, "s", "i:old")
    tracking_activity.mark_disconnected(store, "s", "i:old", at_ms=tracking_activity.now_ms() - 600_000.0)

    async def go() -> tuple[list[str], str]:
        state = await _started(make_state(backend, session_abandon_after_s=1))
        other = backend.ownership() if backend.url else state.ownership  # one process: its own ownership
        await other.start(state.stop_local)
        try:
            await other.claim("s", "new")
            ended = await abandoned.end_abandoned_sessions(state)
            status = store.get_session("s").status
            await other.release("s", "new")
            return ended, status
        finally:
            if other is not state.ownership:
                await other.close()
            await _close(state)

    ended, status = run(go())
    assert ended == [] and status == "active"


def test_a_connection_taken_over_never_marks_its_successor_disconnected(backend: Backend) -> None:
    store = backend.store
    session_with_samples(store, "s")
    tracking_activity.mark_connected(store, "s", "i:old")
    tracking_activity.mark_connected(store, "s", "i:new")  # the newer connection claimed the session
    assert not tracking_activity.mark_disconnected(store, "s", "i:old")
    current, _ = tracking_activity.get(store, "s")
    assert current is not None and current.connected and current.conn_id == "i:new"


def test_record_left_connected_by_a_crashed_server_is_ended_after_the_timeout(backend: Backend) -> None:
    """The server died with the connection open: its record still says connected. The first pass of a
    (restarted) server sees no one serves it and starts the timeout; a later pass ends the session."""
    store = backend.store
    session_with_samples(store, "crashed")
    tracking_activity.mark_connected(store, "crashed", "dead-instance:c1")

    async def go() -> tuple[list[str], bool, list[str]]:
        state = await _started(make_state(backend, session_abandon_after_s=0.2))
        try:
            first = await abandoned.end_abandoned_sessions(state)
            current, _ = tracking_activity.get(store, "crashed")
            marked = current is not None and not current.connected
            await asyncio.sleep(0.3)
            return first, marked, await abandoned.end_abandoned_sessions(state)
        finally:
            await _close(state)

    first, marked, second = run(go())
    assert first == [] and marked
    assert second == ["crashed"]
    assert store.get_session("crashed").status == "ended"
    assert store.get_report("crashed") is not None


def test_two_server_processes_end_a_session_once(backend: Backend) -> None:
    if backend.url is None:
        pytest.skip("several server processes share a Redis store only")
    store = backend.store
    for i in range(4):
        session_with_samples(store, f"s{i}")
        tracking_activity.mark_connected(store, f"s{i}", f"i:c{i}")
        tracking_activity.mark_disconnected(
            store, f"s{i}", f"i:c{i}", at_ms=tracking_activity.now_ms() - 600_000.0
        )

    async def go() -> tuple[list[str], list[str]]:
        a = await _started(make_state(backend, session_abandon_after_s=1))
        b = await _started(make_state(backend, session_abandon_after_s=1))
        try:
            ra, rb = await asyncio.gather(
                abandoned.end_abandoned_sessions(a), abandoned.end_abandoned_sessions(b)
            )
            return ra, rb
        finally:
            await _close(a, b)

    ra, rb = run(go())
    assert sorted(ra + rb) == ["s0", "s1", "s2", "s3"]  # each ended by exactly one process
    assert all(store.get_session(f"s{i}").status == "ended" for i in range(4))


def test_ending_a_session_forgets_its_activity(backend: Backend) -> None:
    store = backend.store
    session_with_samples(store, "s")
    tracking_activity.mark_connected(store, "s", "i:c")
    tracking_activity.mark_disconnected(store, "s", "i:c")

    async def go() -> None:
        state = await _started(make_state(backend))
        try:
            await lifecycle.end_session(state, "s")
        finally:
            await _close(state)

    run(go())
    assert tracking_activity.list_all(store) == []


def test_zero_disables_the_sweep(backend: Backend) -> None:
    store = backend.store
    session_with_samples(store, "s")
    tracking_activity.mark_connected(store, "s", "i:c")
    tracking_activity.mark_disconnected(store, "s", "i:c", at_ms=0.0)

    async def go() -> list[str]:
        state = make_state(backend, session_abandon_after_s=0)
        try:
            await asyncio.wait_for(abandoned.sweep_abandoned_sessions(state), 1.0)  # returns at once
            return await abandoned.end_abandoned_sessions(state)
        finally:
            state.executor.shutdown(wait=True)

    assert run(go()) == []
    assert store.get_session("s").status == "active"


@pytest.mark.parametrize(
    ("after_s", "interval_s"),
    [
        pytest.param(300.0, 30.0, id="default"),
        pytest.param(1.0, 0.25, id="short"),
        pytest.param(0.1, 0.25, id="tiny"),
    ],
)
def test_sweep_interval(after_s: float, interval_s: float) -> None:
    assert abandoned.sweep_interval_s(Settings(session_abandon_after_s=after_s)) == interval_s
