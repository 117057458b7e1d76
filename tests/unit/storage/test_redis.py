"""RedisStore beyond the shared contract: key layout, unreachable servers, URL redaction, factories."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.errors import StorageError, ValidationError
from gazescope.storage import (
    LocalLiveHub,
    RedisLiveHub,
    RedisStore,
    SQLiteStore,
    create_live_hub,
    create_store,
)
from gazescope.storage.redis import redact_url
from support.servers import free_port


def _closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    return free_port()


@pytest.fixture
def rstore(redis_server: str):
    s = RedisStore(redis_server, prefix=f"gstest-{uuid.uuid4().hex[:8]}")
    yield s
    for key in s.client.scan_iter(match=f"{s.prefix}:*"):
        s.client.delete(key)
    s.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:hunter2@cache.local:6380/2", "redis://:***@cache.local:6380/2"),
        ("redis://app:hunter2@cache.local/1", "redis://app:***@cache.local/1"),
        ("rediss://app:hunter2@[::1]:6379", "rediss://app:***@[::1]:6379"),
        ("redis://cache.local:6379/0?password=hunter2&db=1", "redis://cache.local:6379/0?password=***&db=1"),
        ("unix:///run/redis.sock?db=3", "unix:///run/redis.sock?db=3"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert "hunter2" not in redact_url(url)


def test_unreachable_server_raises_storage_error_without_password() -> None:
    port = _closed_port()
    store = RedisStore(f"redis://app:hunter2@127.0.0.1:{port}/0", socket_timeout_s=1.0)
    assert store.ping() is False
    with pytest.raises(StorageError) as err:
        store.create_session(SessionInfo(id="s", created_at_ms=1.0))
    msg = str(err.value)
    assert f"127.0.0.1:{port}" in msg and "app:***@" in msg
    assert "hunter2" not in msg and "hunter2" not in repr(store)
    assert err.value.code == "storage_error"
    with pytest.raises(StorageError, match=str(port)):
        store.get_samples("s")
    store.close()


def test_bad_url_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="invalid Redis URL"):
        RedisStore("http://:hunter2@example.org/")


def test_key_layout(rstore: RedisStore, make_samples) -> None:
    r, p = rstore.client, rstore.prefix
    rstore.create_session(SessionInfo(id="k1", created_at_ms=1000.0, user_id="alice", stimulus_id="img"))
    rstore.append_samples("k1", make_samples(30))
    rstore.append_samples("k1", make_samples(5, first_frame=30))
    rstore.save_report("k1", {"ok": True})
    rstore.put_document("aois", "a", {"session_id": "k1"})
    rstore.put_blob("stimuli/img.png", b"\x89PNG")

    assert r.type(f"{p}:session:k1") == b"hash"
    assert r.hget(f"{p}:session:k1", "sample_count") == b"35"
    assert r.type(f"{p}:samples:k1") == b"stream"
    assert r.xlen(f"{p}:samples:k1") == 35
    entries = r.xrange(f"{p}:samples:k1", count=2)
    assert [e[0] for e in entries] == [b"0-1", b"0-2"]  # entry id = sample index + 1
    assert entries[1][1][b"frame_index"] == b"1" and float(entries[1][1][b"t_ms"]) == pytest.approx(1000 / 30)
    for index in (f"{p}:sessions", f"{p}:sessions:user:alice", f"{p}:sessions:stimulus:img"):
        assert r.zscore(index, "k1") == 1000.0
    assert r.type(f"{p}:report:k1") == b"string"
    assert r.type(f"{p}:docs:aois") == b"hash"
    assert r.smembers(f"{p}:session_docs:k1") == {b'["aois", "a"]'}
    assert r.get(f"{p}:blob:stimuli/img.png") == b"\x89PNG"

    rstore.delete_session("k1")
    remaining = sorted(k.decode() for k in r.scan_iter(match=f"{p}:*"))
    assert remaining == [f"{p}:blob:stimuli/img.png"]  # blobs belong to stimuli, not sessions


def test_prefixes_isolate_deployments(redis_server: str) -> None:
    a = RedisStore(redis_server, prefix=f"gstest-{uuid.uuid4().hex[:8]}")
    b = RedisStore(redis_server, prefix=f"gstest-{uuid.uuid4().hex[:8]}")
    try:
        a.create_session(SessionInfo(id="same", created_at_ms=1.0, label="a"))
        b.create_session(SessionInfo(id="same", created_at_ms=2.0, label="b"))
        assert a.get_session("same").label == "a" and b.get_session("same").label == "b"
        a.delete_session("same")
        assert b.get_session("same").label == "b"
    finally:
        for s in (a, b):
            for key in s.client.scan_iter(match=f"{s.prefix}:*"):
                s.client.delete(key)
            s.close()


def test_factories(tmp_path: Path, redis_server: str) -> None:
    sqlite_settings = Settings(store="auto", db_path=tmp_path / "f.db", redis_url=None)
    store = create_store(sqlite_settings)
    assert isinstance(store, SQLiteStore) and store.path == str(tmp_path / "f.db") and store.ping()
    store.close()
    assert isinstance(create_live_hub(sqlite_settings), LocalLiveHub)

    redis_settings = Settings(store="auto", redis_url=redis_server)
    store = create_store(redis_settings)
    assert isinstance(store, RedisStore) and store.ping()
    store.close()
    assert isinstance(create_live_hub(redis_settings), RedisLiveHub)

    forced = Settings(store="sqlite", db_path=tmp_path / "g.db", redis_url=redis_server)
    store = create_store(forced)
    assert isinstance(store, SQLiteStore)
    store.close()
