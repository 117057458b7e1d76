"""``count_sessions`` and ``count_documents`` (the quotas of issue 20 read them) on both stores."""

from __future__ import annotations

import pytest

from gazescope.domain import SessionInfo
from gazescope.errors import ValidationError
from gazescope.storage import Store


def test_counts_follow_creates_and_deletes(store: Store) -> None:
    assert store.count_sessions() == 0
    for i in range(3):
        store.create_session(SessionInfo(id=f"s{i}", created_at_ms=1000.0 + i, user_id="u"))
    assert store.count_sessions() == 3
    store.delete_session("s1")
    assert store.count_sessions() == 2

    assert store.count_documents("things") == 0
    store.put_document("things", "a", {"x": 1})
    store.put_document("things", "b", {"x": 2})
    store.put_document("things", "a", {"x": 3})  # replaced, not added
    store.put_document("others", "a", {"x": 1})
    assert store.count_documents("things") == 2
    store.delete_document("things", "a")
    assert store.count_documents("things") == 1


def test_count_documents_refuses_a_bad_collection(store: Store) -> None:
    with pytest.raises(ValidationError):
        store.count_documents("no spaces")
