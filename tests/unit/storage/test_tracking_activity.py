"""The tracking activity records (``storage.tracking_activity``) on every store: a connection marks its session
connected and, when done, disconnected only while the record names it (a taken-over connection never marks
its successor's session); the records list the sessions that had a connection; deleting the session deletes
its record (linked document)."""

from __future__ import annotations

import time

import pytest

from gazescope.domain import SessionInfo
from gazescope.storage import Store, tracking_activity


def _session(store: Store, sid: str) -> None:
    store.create_session(SessionInfo(id=sid, created_at_ms=time.time() * 1000.0))


def test_connected_then_disconnected(store: Store) -> None:
    _session(store, "s")
    before = tracking_activity.now_ms()
    tracking_activity.mark_connected(store, "s", "i:c1")
    current, _ = tracking_activity.get(store, "s")
    assert current is not None and current.connected and current.conn_id == "i:c1"
    assert current.since_ms >= before
    assert tracking_activity.mark_disconnected(store, "s", "i:c1", at_ms=before + 5.0)
    current, _ = tracking_activity.get(store, "s")
    assert current == tracking_activity.Activity("s", "i:c1", False, before + 5.0)
    assert not tracking_activity.mark_disconnected(store, "s", "i:c1")  # already disconnected: left as it was
    assert tracking_activity.list_all(store) == [current]


@pytest.mark.parametrize(
    "successor",
    [pytest.param("i:c2", id="same-process"), pytest.param("other:c9", id="other-process")],
)
def test_a_taken_over_connection_does_not_mark_its_successor(store: Store, successor: str) -> None:
    _session(store, "s")
    tracking_activity.mark_connected(store, "s", "i:c1")
    tracking_activity.mark_connected(store, "s", successor)
    assert not tracking_activity.mark_disconnected(store, "s", "i:c1")
    current, _ = tracking_activity.get(store, "s")
    assert current is not None and current.connected and current.conn_id == successor


def test_record_goes_with_the_session_and_with_clear(store: Store) -> None:
    _session(store, "a")
    _session(store, "b")
    tracking_activity.mark_connected(store, "a", "i:c1")
    tracking_activity.mark_connected(store, "b", "i:c2")
    store.delete_session("a")
    assert [r.session_id for r in tracking_activity.list_all(store)] == ["b"]
    tracking_activity.clear(store, "b")
    assert tracking_activity.list_all(store) == [] and tracking_activity.get(store, "b") == (None, None)
    assert not tracking_activity.mark_disconnected(store, "b", "i:c2")  # no record: nothing written


def test_malformed_records_are_skipped(store: Store) -> None:
    _session(store, "s")
    store.put_document(tracking_activity.COLLECTION, "s", {"session_id": "s", "connected": "yes"})
    assert tracking_activity.list_all(store) == []
    assert tracking_activity.get(store, "s")[0] is None
