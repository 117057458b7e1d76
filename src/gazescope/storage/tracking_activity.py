"""The tracking activity of running sessions: which have a tracking connection, and since when they have
none, so that sessions whose tab was closed (or whose server crashed) can be ended after
``Settings.session_abandon_after_s`` (:mod:`gazescope.services.abandoned`).

A document ``tracking_activity/{session_id}`` (linked to the session, deleted with it) holds
:class:`Activity`: the connection that last claimed the session, whether it is connected, and since when
(epoch ms). The tracking connection writes it when it claims the session (:func:`mark_connected`) and when
it has finished (:func:`mark_disconnected`, a compare-and-set on its own connection id, so a connection
that was taken over never marks its successor's session as disconnected); ending the session deletes it
(:func:`clear`). The collection is thus the index of sessions that had a tracking connection and are not
ended: the sweep reads it, never every session.

Any store works (plain documents and ``replace_document``); every function raises the store's errors
(``StorageError``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gazescope.errors import NotFoundError
from gazescope.storage.base import Store

#: Collection of the activity documents (one per session, id = session id).
COLLECTION = "tracking_activity"


@dataclass(frozen=True, slots=True)
class Activity:
    """The tracking activity of one session.

    ``conn_id``: the connection that last claimed it (``"{instance}:{conn}"``); ``connected``: whether
    that connection was serving when last written; ``since_ms``: epoch ms of the claim, or of the end of
    the connection (when ``connected`` is False).
    """

    session_id: str
    conn_id: str
    connected: bool
    since_ms: float

    def to_doc(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "conn_id": self.conn_id,
            "connected": self.connected,
            "since_ms": self.since_ms,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Activity | None:
        """The activity in ``doc``; None when a field is missing or of the wrong type."""
        sid, conn, connected, since = (doc.get(k) for k in ("session_id", "conn_id", "connected", "since_ms"))
        if not (isinstance(sid, str) and isinstance(conn, str) and isinstance(connected, bool)):
            return None
        if not isinstance(since, int | float) or isinstance(since, bool):
            return None
        return cls(sid, conn, connected, float(since))


def now_ms() -> float:
    """Epoch milliseconds now (shared by the processes of one machine or of synchronised clocks)."""
    return round(time.time() * 1000.0, 3)


def get(store: Store, session_id: str) -> tuple[Activity | None, dict[str, Any] | None]:
    """The session's activity and the raw document it was read from (both None when there is none)."""
    try:
        doc = store.get_document(COLLECTION, session_id)
    except NotFoundError:
        return None, None
    return Activity.from_doc(doc), doc


def mark_connected(store: Store, session_id: str, conn_id: str) -> None:
    """Record that ``conn_id`` serves the session from now (replacing whatever was recorded)."""
    store.put_document(COLLECTION, session_id, Activity(session_id, conn_id, True, now_ms()).to_doc())


def mark_disconnected(store: Store, session_id: str, conn_id: str, *, at_ms: float | None = None) -> bool:
    """Record that ``conn_id`` stopped serving the session at ``at_ms`` (default now), only while the
    record still names ``conn_id`` (a newer connection's record is left alone; compare-and-set). True when
    written."""
    current, doc = get(store, session_id)
    if current is None or current.conn_id != conn_id or not current.connected:
        return False
    when = now_ms() if at_ms is None else at_ms
    new = Activity(session_id, conn_id, False, when).to_doc()
    return store.replace_document(COLLECTION, session_id, new, expected=doc)


def list_all(store: Store) -> list[Activity]:
    """Every recorded activity (the sessions that had a tracking connection and were not ended)."""
    found = (Activity.from_doc(d) for d in store.list_documents(COLLECTION))
    return [a for a in found if a is not None]


def clear(store: Store, session_id: str) -> None:
    """Forget the session's activity (it was ended)."""
    store.delete_document(COLLECTION, session_id)
