"""The embedded store: one SQLite file through the standard library's ``sqlite3``.

Settings on every connection (SQLite documentation, https://www.sqlite.org/pragma.html and
https://www.sqlite.org/wal.html):

* ``journal_mode=WAL``: readers do not block the writer and the writer does not block readers;
* ``synchronous=NORMAL``: in WAL mode a committed transaction survives a crash of the application (the
  process may be killed at any moment); only an operating-system crash or power loss can roll back the
  last transactions before a checkpoint;
* ``foreign_keys=ON``: samples and reports are deleted with their session (``ON DELETE CASCADE``);
* ``secure_delete=ON``: deleted content is overwritten with zeros, so that a deleted session does not
  linger in free pages of the file;
* ``busy_timeout``: a writer in another process is waited for instead of failing at once.

Threads: each thread gets its own connection (``threading.local``), so that reads in several threads
run concurrently under WAL; write transactions are serialised inside the process by one lock and start with
``BEGIN IMMEDIATE`` (so that a read-then-write such as "next sample index" cannot interleave with another
writer, including one in another process). ``":memory:"`` databases exist per connection, so a memory store
uses one shared connection and the lock guards every call.

Layout: ``sessions`` (one column per ``SessionInfo`` field), ``samples`` (session_id, seq, frame_index,
t_ms, body JSON text; primary key (session_id, seq), indexes (session_id, t_ms) and (session_id,
frame_index)), ``reports``, ``documents``
(collection, doc_id, session_id, body JSON), ``blobs``, ``studies`` (id, created_at_ms, token_hash unique,
body JSON), ``study_participants`` (study_id, id, created_at_ms, body JSON; deleted with their study) and
``schema_version`` (one row).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gazescope.domain import SessionInfo
from gazescope.errors import NotFoundError, SessionNotFoundError, StorageError, ValidationError
from gazescope.storage import base

#: Schema migrations: version -> statements that bring the previous version to it.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            created_at_ms REAL NOT NULL,
            user_id TEXT,
            label TEXT,
            screen_w_px INTEGER,
            screen_h_px INTEGER,
            stimulus_id TEXT,
            calibration_id TEXT,
            ended_at_ms REAL,
            status TEXT NOT NULL,
            sample_count INTEGER NOT NULL DEFAULT 0,
            dropped_frames INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX sessions_created ON sessions (created_at_ms DESC, id DESC)",
        "CREATE INDEX sessions_user ON sessions (user_id, created_at_ms DESC)",
        "CREATE INDEX sessions_stimulus ON sessions (stimulus_id, created_at_ms DESC)",
        """CREATE TABLE samples (
            session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            frame_index INTEGER,
            t_ms REAL,
            body TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        )""",
        "CREATE INDEX samples_t ON samples (session_id, t_ms)",
        """CREATE TABLE reports (
            session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
            body TEXT NOT NULL,
            saved_at_ms REAL NOT NULL
        )""",
        """CREATE TABLE documents (
            collection TEXT NOT NULL,
            doc_id TEXT NOT NULL,
            session_id TEXT,
            body TEXT NOT NULL,
            PRIMARY KEY (collection, doc_id)
        )""",
        "CREATE INDEX documents_session ON documents (session_id)",
        "CREATE TABLE blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL)",
    ),
    # which of a batch's frame indices a session has, for idempotent appends (not UNIQUE: a database
    # written before version 2 may hold frame indices reused after a crash)
    2: ("CREATE INDEX samples_frame ON samples (session_id, frame_index)",),
    # studies and their participants (services/studies.py); the token hash is the link's lookup key
    3: (
        """CREATE TABLE studies (
            id TEXT PRIMARY KEY,
            created_at_ms REAL NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX studies_created ON studies (created_at_ms DESC, id DESC)",
        """CREATE TABLE study_participants (
            study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
            id TEXT NOT NULL,
            created_at_ms REAL NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (study_id, id)
        )""",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)

_SESSION_COLUMNS = ", ".join(base.SESSION_FIELDS)


def _not_found(session_id: object) -> SessionNotFoundError:
    return SessionNotFoundError(f"session {session_id!r} not found")


class SQLiteStore(base.DocumentWrites):
    """:class:`~gazescope.storage.base.Store` in a SQLite file (WAL mode); see the module docstring.

    ``path``: database file (its folder is created) or ``":memory:"`` (tests). ``busy_timeout_s``: how long
    a write waits for a writer in another process before ``StorageError``.

    Raises ``StorageError`` when the file cannot be opened, is not a SQLite database, or was written by a
    newer gazescope (schema version above :data:`SCHEMA_VERSION`).
    """

    def __init__(self, path: str | Path = ":memory:", *, busy_timeout_s: float = 10.0) -> None:
        self._path = str(path)
        self._memory = self._path == ":memory:"
        self._busy_timeout_s = float(busy_timeout_s)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._lock = threading.RLock()
        self._closed = False
        self._shared: sqlite3.Connection | None = None
        if not self._memory:
            try:
                Path(self._path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the folder of SQLite database {self._path}: {exc}"
                ) from exc
        self._migrate()

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"

    @property
    def path(self) -> str:
        """The database file (or ``":memory:"``)."""
        return self._path

    # --- connections and transactions ----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._busy_timeout_s,
                isolation_level=None,  # autocommit; transactions are explicit BEGIN ... COMMIT
                check_same_thread=False,  # close() closes every thread's connection
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA secure_delete=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_s * 1000)}")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database {self._path}: {exc}") from exc
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StorageError(f"{self!r} is closed")
        if self._memory:
            if self._shared is None:
                self._shared = self._connect()
            return self._shared
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """A transaction: ``BEGIN IMMEDIATE`` under the process lock for writes, a deferred ``BEGIN`` (one
        consistent snapshot) for reads. sqlite3 errors become ``StorageError``."""
        need_lock = write or self._memory
        if need_lock:
            self._lock.acquire()
        try:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as exc:
                raise StorageError(f"SQLite database {self._path}: {exc}") from exc
            try:
                yield conn
            except BaseException as exc:
                if conn.in_transaction:
                    conn.rollback()
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"SQLite database {self._path}: {exc}") from exc
                raise
            else:
                try:
                    conn.commit()
                except sqlite3.Error as exc:
                    raise StorageError(f"SQLite database {self._path}: commit failed: {exc}") from exc
        finally:
            if need_lock:
                self._lock.release()

    def _migrate(self) -> None:
        with self._tx(write=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            if current > SCHEMA_VERSION:
                raise StorageError(
                    f"SQLite database {self._path} has schema version {current}, newer than this gazescope "
                    f"understands ({SCHEMA_VERSION}); upgrade gazescope"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS[version]:
                    conn.execute(stmt)
            if current < SCHEMA_VERSION:
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    def schema_version(self) -> int:
        """The schema version stored in the database."""
        with self._tx(write=False) as conn:
            return int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    @staticmethod
    def _row_to_session(row: tuple[Any, ...]) -> SessionInfo:
        return SessionInfo(**dict(zip(base.SESSION_FIELDS, row, strict=True)))

    @staticmethod
    def _require_session(conn: sqlite3.Connection, session_id: str) -> int:
        """The session's sample_count; ``SessionNotFoundError`` when it does not exist."""
        row = conn.execute("SELECT sample_count FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None:
            raise _not_found(session_id)
        return int(row[0])

    # --- sessions ------------------------------------------------------------------------------------

    def create_session(self, info: SessionInfo) -> SessionInfo:
        info = base.normalize_session(info)
        if info.sample_count != 0:
            raise ValidationError(f"a new session has sample_count 0, got {info.sample_count}")
        values = tuple(getattr(info, f) for f in base.SESSION_FIELDS)
        marks = ", ".join("?" for _ in values)
        with self._tx(write=True) as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (info.id,)).fetchone():
                raise ValidationError(f"session {info.id!r} already exists", code="session_exists")
            conn.execute(f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES ({marks})", values)
        return info

    def get_session(self, session_id: str) -> SessionInfo:
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._tx(write=False) as conn:
            row = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        if row is None:
            raise _not_found(session_id)
        return self._row_to_session(row)

    def list_sessions(
        self,
        *,
        user_id: str | None = None,
        stimulus_id: str | None = None,
        since_ms: float | None = None,
        until_ms: float | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[SessionInfo]:
        limit, offset = base.check_paging(limit, offset)
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("user_id", user_id), ("stimulus_id", stimulus_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since_ms is not None:
            where.append("created_at_ms >= ?")
            params.append(float(since_ms))
        if until_ms is not None:
            where.append("created_at_ms <= ?")
            params.append(float(until_ms))
        sql = f"SELECT {_SESSION_COLUMNS} FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at_ms DESC, id DESC LIMIT ? OFFSET ?"
        with self._tx(write=False) as conn:
            rows = conn.execute(sql, (*params, limit, offset)).fetchall()
        return [self._row_to_session(r) for r in rows]

    def count_sessions(self) -> int:
        with self._tx(write=False) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def update_session(self, session_id: str, **fields: Any) -> SessionInfo:
        changes = base.check_update_fields(fields)
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._tx(write=True) as conn:
            row = conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise _not_found(session_id)
            if changes:
                assignments = ", ".join(f"{name} = ?" for name in changes)
                conn.execute(
                    f"UPDATE sessions SET {assignments} WHERE id = ?", (*changes.values(), session_id)
                )
        return base.apply_update(self._row_to_session(row), changes)

    def delete_session(self, session_id: str) -> None:
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._tx(write=True) as conn:
            self._require_session(conn, session_id)
            conn.execute("DELETE FROM documents WHERE session_id = ?", (session_id,))
            # samples and reports go with the session (ON DELETE CASCADE); deleted explicitly as well so
            # that a database opened without foreign_keys cannot keep them.
            conn.execute("DELETE FROM samples WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM reports WHERE session_id = ?", (session_id,))
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # --- samples -------------------------------------------------------------------------------------

    def append_samples(self, session_id: str, samples: list[dict[str, Any]]) -> int:
        rows = base.encode_samples(samples)  # validated before anything is written
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._tx(write=True) as conn:
            count = self._require_session(conn, session_id)
            wanted = base.batch_frame_indices(rows)
            if wanted:
                stored = {
                    r[0]
                    for r in conn.execute(
                        "SELECT frame_index FROM samples WHERE session_id = ? AND frame_index BETWEEN ? AND ?",
                        (session_id, wanted[0], wanted[-1]),
                    )
                }
                rows = base.drop_replays(rows, stored)
            if rows:
                conn.executemany(
                    "INSERT INTO samples (session_id, seq, frame_index, t_ms, body) VALUES (?, ?, ?, ?, ?)",
                    [(session_id, count + i, fi, t, body) for i, (fi, t, body) in enumerate(rows)],
                )
                count += len(rows)
                conn.execute("UPDATE sessions SET sample_count = ? WHERE id = ?", (count, session_id))
        return count

    def get_samples(
        self, session_id: str, *, start: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        start, limit = base.check_sample_range(start, limit)
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._tx(write=False) as conn:
            self._require_session(conn, session_id)
            bodies = [
                r[0]
                for r in conn.execute(
                    "SELECT body FROM samples WHERE session_id = ? AND seq >= ? ORDER BY seq LIMIT ?",
                    (session_id, start, -1 if limit is None else limit),
                )
            ]
        return base.loads_json_list(bodies)

    def count_samples(self, session_id: str) -> int:
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._tx(write=False) as conn:
            return self._require_session(conn, session_id)

    # --- reports -------------------------------------------------------------------------------------

    def save_report(self, session_id: str, report: dict[str, Any]) -> None:
        body = base.dumps_json(report, "report")
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._tx(write=True) as conn:
            self._require_session(conn, session_id)
            conn.execute(
                "INSERT INTO reports (session_id, body, saved_at_ms) VALUES (?, ?, ?) "
                "ON CONFLICT (session_id) DO UPDATE SET body = excluded.body, "
                "saved_at_ms = excluded.saved_at_ms",
                (session_id, body, time.time() * 1000.0),
            )

    def get_report(self, session_id: str) -> dict[str, Any] | None:
        if not base.is_valid_session_id(session_id):
            raise _not_found(session_id)
        with self._tx(write=False) as conn:
            self._require_session(conn, session_id)
            row = conn.execute("SELECT body FROM reports WHERE session_id = ?", (session_id,)).fetchone()
        return None if row is None else base.loads_json_list([row[0]])[0]

    # --- documents -----------------------------------------------------------------------------------

    def _put_document(self, collection: str, doc_id: str, doc: dict[str, Any], expected: object) -> bool:
        """Store ``doc``; unless ``expected`` is ``base.UNCHECKED``, only when the stored one equals it."""
        body = base.document_body(collection, doc_id, doc)
        with self._tx(write=True) as conn:  # BEGIN IMMEDIATE: the compare and the write are one transaction
            if expected is not base.UNCHECKED:
                row = conn.execute(
                    "SELECT body FROM documents WHERE collection = ? AND doc_id = ?", (collection, doc_id)
                ).fetchone()
                if (None if row is None else base.loads_json_list([row[0]])[0]) != expected:
                    return False
            conn.execute(
                "INSERT INTO documents (collection, doc_id, session_id, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (collection, doc_id) DO UPDATE SET session_id = excluded.session_id, "
                "body = excluded.body",
                (collection, doc_id, base.linked_session(doc), body),
            )
        return True

    def get_document(self, collection: str, doc_id: str) -> dict[str, Any]:
        base.check_collection(collection)
        with self._tx(write=False) as conn:
            row = conn.execute(
                "SELECT body FROM documents WHERE collection = ? AND doc_id = ?", (collection, doc_id)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no document {doc_id!r} in collection {collection!r}")
        return base.loads_json_list([row[0]])[0]

    def list_documents(self, collection: str, **equals_filters: Any) -> list[dict[str, Any]]:
        base.check_collection(collection)
        sql = "SELECT body FROM documents WHERE collection = ?"
        params: list[Any] = [collection]
        sid = equals_filters.get("session_id")
        if isinstance(sid, str):  # indexed column; the remaining filters are applied to the parsed JSON
            sql += " AND session_id = ?"
            params.append(sid)
        sql += " ORDER BY doc_id"
        with self._tx(write=False) as conn:
            bodies = [r[0] for r in conn.execute(sql, params)]
        return [d for d in base.loads_json_list(bodies) if base.matches(d, equals_filters)]

    def count_documents(self, collection: str) -> int:
        base.check_collection(collection)
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT COUNT(*) FROM documents WHERE collection = ?", (collection,))
            return int(row.fetchone()[0])

    def delete_document(self, collection: str, doc_id: str) -> bool:
        base.check_collection(collection)
        with self._tx(write=True) as conn:
            cur = conn.execute(
                "DELETE FROM documents WHERE collection = ? AND doc_id = ?", (collection, doc_id)
            )
            return cur.rowcount > 0

    # --- blobs ---------------------------------------------------------------------------------------

    def put_blob(self, key: str, data: bytes) -> None:
        base.check_blob_key(key)
        payload = base.check_blob_data(data)
        with self._tx(write=True) as conn:
            conn.execute(
                "INSERT INTO blobs (key, data) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                (key, payload),
            )

    def get_blob(self, key: str) -> bytes:
        base.check_blob_key(key)
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT data FROM blobs WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise NotFoundError(f"no blob {key!r}")
        return bytes(row[0])

    def delete_blob(self, key: str) -> bool:
        base.check_blob_key(key)
        with self._tx(write=True) as conn:
            return conn.execute("DELETE FROM blobs WHERE key = ?", (key,)).rowcount > 0

    # --- studies -------------------------------------------------------------------------------------

    def save_study(self, study: dict[str, Any]) -> None:
        sid, created, token_hash, body = base.study_record(study)
        with self._tx(write=True) as conn:
            row = conn.execute("SELECT id FROM studies WHERE token_hash = ?", (token_hash,)).fetchone()
            if row is not None and row[0] != sid:
                raise ValidationError("study record: token_hash belongs to another study")
            conn.execute(
                "INSERT INTO studies (id, created_at_ms, token_hash, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, body = excluded.body",
                (sid, created, token_hash, body),
            )

    def get_study(self, study_id: str) -> dict[str, Any]:
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT body FROM studies WHERE id = ?", (study_id,)).fetchone()
        if row is None:
            raise base.study_not_found(study_id)
        return base.loads_json_list([row[0]])[0]

    def find_study_by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT body FROM studies WHERE token_hash = ?", (token_hash,)).fetchone()
        return None if row is None else base.loads_json_list([row[0]])[0]

    def list_studies(self) -> list[dict[str, Any]]:
        with self._tx(write=False) as conn:
            bodies = [
                r[0] for r in conn.execute("SELECT body FROM studies ORDER BY created_at_ms DESC, id DESC")
            ]
        return base.loads_json_list(bodies)

    def delete_study(self, study_id: str) -> None:
        with self._tx(write=True) as conn:
            if conn.execute("DELETE FROM studies WHERE id = ?", (study_id,)).rowcount == 0:
                raise base.study_not_found(study_id)

    def save_participant(self, study_id: str, participant: dict[str, Any]) -> None:
        pid, created, body = base.participant_record(participant)
        with self._tx(write=True) as conn:
            if conn.execute("SELECT 1 FROM studies WHERE id = ?", (study_id,)).fetchone() is None:
                raise base.study_not_found(study_id)
            conn.execute(
                "INSERT INTO study_participants (study_id, id, created_at_ms, body) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (study_id, id) DO UPDATE SET body = excluded.body",
                (study_id, pid, created, body),
            )

    def get_participant(self, study_id: str, participant_id: str) -> dict[str, Any]:
        with self._tx(write=False) as conn:
            row = conn.execute(
                "SELECT body FROM study_participants WHERE study_id = ? AND id = ?",
                (study_id, participant_id),
            ).fetchone()
        if row is None:
            raise base.participant_not_found(study_id, participant_id)
        return base.loads_json_list([row[0]])[0]

    def list_participants(self, study_id: str) -> list[dict[str, Any]]:
        with self._tx(write=False) as conn:
            bodies = [
                r[0]
                for r in conn.execute(
                    "SELECT body FROM study_participants WHERE study_id = ? ORDER BY created_at_ms, id",
                    (study_id,),
                )
            ]
        return base.loads_json_list(bodies)

    # --- lifecycle -----------------------------------------------------------------------------------

    def ping(self) -> bool:
        """True when the database answers ``SELECT 1``; False when closed or failing."""
        try:
            with self._tx(write=False) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except StorageError:
            return False

    def close(self) -> None:
        """Close every thread's connection (idempotent); later calls raise ``StorageError``."""
        with self._lock:
            self._closed = True
            with self._conns_lock:
                conns, self._conns = self._conns, []
            for conn in conns:
                with contextlib.suppress(sqlite3.Error):  # a broken connection
                    conn.close()
            self._shared = None

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
