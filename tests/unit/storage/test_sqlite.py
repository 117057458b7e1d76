"""SQLiteStore beyond the shared contract: durability across a killed process, schema, pragmas, threads."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import gazescope
from gazescope.domain import SessionInfo
from gazescope.errors import StorageError
from gazescope.storage import base
from gazescope.storage.sqlite import SCHEMA_VERSION, SQLiteStore

SRC = Path(gazescope.__file__).resolve().parents[1]

WRITER = textwrap.dedent(
    """
    import sys
    from gazescope.domain import SessionInfo
    from gazescope.storage.sqlite import SQLiteStore

    store = SQLiteStore(sys.argv[1])
    store.create_session(SessionInfo(id="crash", created_at_ms=1.0, user_id="u"))
    store.put_document("events", "e0", {"session_id": "crash", "kind": "start"})
    frame = 0
    while True:  # write batches of 30 until killed; report each committed total
        batch = [{"t_ms": (frame + i) * 33.3, "frame_index": frame + i, "pad": "x" * 200} for i in range(30)]
        total = store.append_samples("crash", batch)
        frame += 30
        print(total, flush=True)
    """
)


def test_committed_samples_survive_a_killed_process(tmp_path: Path) -> None:
    """append_samples returns only after COMMIT; with WAL + synchronous=NORMAL the data survives SIGKILL."""
    db = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    last_committed = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            last_committed = int(line)
            if last_committed >= 900:
                break
        else:
            pytest.fail(f"writer exited early: {proc.stderr.read() if proc.stderr else ''}")
        os.kill(proc.pid, signal.SIGKILL)  # no chance to close, checkpoint or flush anything
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL
    assert last_committed >= 900
    assert (tmp_path / "crash.db-wal").exists()  # committed pages were still in the write-ahead log

    with SQLiteStore(db) as store:
        count = store.count_samples("crash")
        samples = store.get_samples("crash")
        info = store.get_session("crash")
        assert count >= last_committed  # everything reported as committed is there
        assert count % 30 == 0  # batches are atomic: never half a batch
        assert len(samples) == count == info.sample_count
        assert [s["frame_index"] for s in samples] == list(range(count))
        assert store.list_documents("events", session_id="crash") == [
            {"session_id": "crash", "kind": "start"}
        ]
        # and the database is usable again
        assert store.append_samples("crash", [{"t_ms": 0.0, "frame_index": count}]) == count + 1


def test_schema_and_pragmas(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "g.db") as store:
        assert store.schema_version() == SCHEMA_VERSION
        conn = store._conn()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        cols = [r[1] for r in conn.execute("PRAGMA table_info(sessions)")]
        assert tuple(cols) == base.SESSION_FIELDS  # one column per SessionInfo field
        sample_cols = [r[1] for r in conn.execute("PRAGMA table_info(samples)")]
        assert sample_cols == ["session_id", "seq", "frame_index", "t_ms", "body"]
        plan = " ".join(
            str(r[-1])
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT body FROM samples WHERE session_id = ? AND seq >= ? ORDER BY seq",
                ("s", 0),
            )
        )
        assert "INDEX" in plan.upper() and "TEMP B-TREE" not in plan.upper()  # indexed, no sort step
        plan = " ".join(
            str(r[-1])
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT body FROM samples WHERE session_id = ? AND t_ms > ?", ("s", 0.0)
            )
        )
        assert "samples_t" in plan


def test_reopen_keeps_data_and_two_stores_share_a_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "g.db"  # folders are created
    a = SQLiteStore(path)
    a.create_session(SessionInfo(id="s", created_at_ms=5.0))
    b = SQLiteStore(path)  # e.g. the CLI next to the server
    assert b.append_samples("s", [{"t_ms": 1.0, "frame_index": 0}]) == 1
    assert a.count_samples("s") == 1 and a.get_samples("s") == [{"t_ms": 1.0, "frame_index": 0}]
    a.close()
    b.close()
    with SQLiteStore(path) as c:
        assert c.get_session("s").sample_count == 1
        assert c.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    SQLiteStore(path).close()
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(StorageError, match="newer"):
        SQLiteStore(path)


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(StorageError, match=r"notes\.txt"):
        SQLiteStore(path)


def test_memory_store_is_shared_across_threads() -> None:
    with SQLiteStore(":memory:") as store:
        store.create_session(SessionInfo(id="m", created_at_ms=1.0))

        def write(k: int) -> int:
            return store.append_samples("m", [{"t_ms": float(k), "frame_index": k}])

        with ThreadPoolExecutor(4) as pool:
            totals = sorted(pool.map(write, range(40)))
        assert totals == list(range(1, 41))
        assert sorted(s["frame_index"] for s in store.get_samples("m")) == list(range(40))


def test_each_thread_reads_through_its_own_connection(tmp_path: Path) -> None:
    """Connection per thread (file databases), so WAL lets reads of several threads run side by side."""
    with SQLiteStore(tmp_path / "g.db") as store:
        store.create_session(SessionInfo(id="s", created_at_ms=1.0))
        barrier = threading.Barrier(3, timeout=10)

        def conn_id(_: int) -> int:
            barrier.wait()  # three threads at once, so the pool cannot serve every call from one thread
            return id(store._conn())

        with ThreadPoolExecutor(3) as pool:
            conns = set(pool.map(conn_id, range(3)))
        assert len(conns) == 3
        store.close()
        assert store.ping() is False
