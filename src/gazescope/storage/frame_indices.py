"""Frame indices of a session that are never handed out twice, across reconnects and server crashes.

A tracking connection numbers frames 0, 1, 2, ... per session and replies with a sample before the sample
is stored, so a server killed between the two has shown the client indices the store never saw. To never
give such an index to a new frame after a restart, the connection *reserves* indices in the store before
it uses them: a document ``frame_indices/{session_id}`` (linked to the session, deleted with it) holds
``reserved_below``, and a new connection starts at or above it.

Any store works; the reservation is one ``put_document`` per ``Settings.frame_index_reserve`` frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gazescope.errors import NotFoundError
from gazescope.storage.base import Store

#: Collection of the reservation documents (one per session, id = session id).
COLLECTION = "frame_indices"


@dataclass(frozen=True, slots=True)
class Continuation:
    """Where a session continues: its next free ``frame_index`` and its last stored sample ({} if none)."""

    next_frame_index: int
    last_sample: dict[str, Any]


def continuation(store: Store, session_id: str) -> Continuation:
    """The next ``frame_index`` no frame of ``session_id`` has had: above its last stored sample's, its
    sample count, and every reserved one. Raises the store's errors (``SessionNotFoundError``,
    ``StorageError``)."""
    count = store.count_samples(session_id)
    last: dict[str, Any] = {}
    nxt = count
    if count:
        last = (store.get_samples(session_id, start=count - 1, limit=1) or [{}])[0]
        fi = last.get("frame_index")
        if isinstance(fi, int) and not isinstance(fi, bool):
            nxt = max(nxt, fi + 1)
    try:
        reserved = store.get_document(COLLECTION, session_id).get("reserved_below")
    except NotFoundError:
        reserved = None
    if isinstance(reserved, int) and not isinstance(reserved, bool):
        nxt = max(nxt, reserved)
    return Continuation(nxt, last)


def reserve(store: Store, session_id: str, below: int) -> None:
    """Record that frame indices below ``below`` may have been handed out (``StorageError`` on failure)."""
    store.put_document(COLLECTION, session_id, {"session_id": session_id, "reserved_below": int(below)})
