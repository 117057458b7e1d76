"""Frame index reservations on SQLite and Redis: a connection that was taken over can neither lower a
newer connection's reservation by releasing nor by reserving, so no frame index is handed out twice."""

from __future__ import annotations

from gazescope.domain import SessionInfo
from gazescope.storage import Store, frame_indices


def _session(store: Store) -> str:
    store.create_session(SessionInfo(id="s1", created_at_ms=1_700_000_000_000.0))
    return "s1"


def test_release_lowers_the_reservation_of_the_connection_that_made_it(store: Store) -> None:
    sid = _session(store)
    frame_indices.reserve(store, sid, 1000)
    assert frame_indices.release(store, sid, 42, 1000) is True
    assert frame_indices.continuation(store, sid).next_frame_index == 42


def test_a_stale_release_keeps_a_newer_connections_reservation(store: Store) -> None:
    sid = _session(store)
    frame_indices.reserve(store, sid, 1000)  # old connection: indices 0..999 reserved
    frame_indices.reserve(store, sid, 2000)  # a newer connection (another instance) took over at 1000
    assert frame_indices.release(store, sid, 57, 1000) is False  # the old one leaves: replied up to 56
    assert frame_indices.continuation(store, sid).next_frame_index == 2000


def test_reserve_never_lowers_the_reservation(store: Store) -> None:
    sid = _session(store)
    frame_indices.reserve(store, sid, 2000)
    frame_indices.reserve(store, sid, 1500)  # a late renewal of a connection that was taken over
    assert frame_indices.continuation(store, sid).next_frame_index == 2000
    frame_indices.reserve(store, sid, 2500)
    assert frame_indices.continuation(store, sid).next_frame_index == 2500
