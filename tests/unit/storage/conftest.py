"""Fixtures of the storage tests: every Store implementation, on real SQLite files and a real redis-server."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gazescope.domain import GazeSample
from gazescope.storage import RedisStore, SQLiteStore, Store


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """Each Store implementation: SQLiteStore on a fresh file, RedisStore with a key prefix of its own
    (the redis-server of tests/conftest.py may be shared with other tests); keys are removed afterwards."""
    if request.param == "sqlite":
        s: Store = SQLiteStore(tmp_path / "gazescope.db")
        yield s
        s.close()
        return
    url = request.getfixturevalue("redis_server")
    rs = RedisStore(url, prefix=f"gstest-{uuid.uuid4().hex[:8]}")
    yield rs
    admin = RedisStore(url, prefix=rs.prefix)
    for key in admin.client.scan_iter(match=f"{rs.prefix}:*"):
        admin.client.delete(key)
    admin.close()
    rs.close()


def _session_traces(store: Store, session_id: str) -> list[str]:
    """Every place where ``session_id`` is still stored, read straight from the backend (not via the Store
    API): SQLite rows of any table, Redis keys whose name contains it and index members equal to it."""
    found: list[str] = []
    if isinstance(store, SQLiteStore):
        with contextlib.closing(sqlite3.connect(store.path)) as conn:
            for table, column in (
                ("sessions", "id"),
                ("samples", "session_id"),
                ("reports", "session_id"),
                ("documents", "session_id"),
            ):
                n = conn.execute(
                    f"SELECT count(*) FROM {table} WHERE {column} = ?", (session_id,)
                ).fetchone()[0]
                if n:
                    found.append(f"{n} row(s) in {table}")
            n = conn.execute(
                "SELECT count(*) FROM documents WHERE body LIKE ?", (f"%{session_id}%",)
            ).fetchone()[0]
            if n:
                found.append(f"{n} document body(ies) naming it")
    elif isinstance(store, RedisStore):
        r = store.client
        for key in r.scan_iter(match=f"*{session_id}*", count=1000):
            found.append(f"key {key.decode()}")
        for key in r.scan_iter(match=f"{store.prefix}:*", count=1000):
            kind = r.type(key)
            if kind == b"zset" and r.zscore(key, session_id) is not None:
                found.append(f"member of {key.decode()}")
            elif kind == b"hash" and any(session_id.encode() in v for v in r.hvals(key)):
                found.append(f"value in hash {key.decode()}")
            elif kind == b"set" and any(session_id.encode() in m for m in r.smembers(key)):
                found.append(f"member of set {key.decode()}")
    else:  # pragma: no cover
        raise TypeError(type(store))
    return found


def _make_samples(n: int, first_frame: int = 0, **extra: object) -> list[dict]:
    """``n`` sample dicts as the tracker produces them (``GazeSample.to_dict()``), 30 FPS."""
    out = []
    for i in range(first_frame, first_frame + n):
        s = GazeSample(
            t_ms=i * 1000.0 / 30.0,
            frame_index=i,
            face_detected=True,
            face_count=1,
            confidence=0.9,
            pupil_left_px=(320.0 + i % 7, 240.0),
            pupil_right_px=(280.0, 241.0),
            horizontal_ratio=0.5,
            ear_left=0.3,
            ear_right=0.31,
            gaze_vector=(0.01 * (i % 10), -0.02),
            attention_state="focused",
        ).to_dict()
        s.update(extra)
        out.append(s)
    return out


@pytest.fixture
def session_traces():
    """``session_traces(store, session_id) -> list[str]``: what of the session the backend still holds."""
    return _session_traces


@pytest.fixture
def make_samples():
    """``make_samples(n, first_frame=0, **extra) -> list[dict]``: real ``GazeSample.to_dict()`` samples."""
    return _make_samples
