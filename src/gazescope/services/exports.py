"""Sample exports read from the store in bounded chunks, so a session of millions of samples is never held
in memory whole (issue 20, defect 4)."""

from __future__ import annotations

from collections.abc import Iterator

from gazescope.analytics.export import samples_to_csv
from gazescope.storage.base import Store


def sample_range(store: Store, session_id: str, start: int, limit: int | None) -> tuple[int, int]:
    """``(total, end)``: the session's stored sample count now and the end (exclusive) of the range from
    ``start`` of at most ``limit`` samples (all stored now when None). Raises ``SessionNotFoundError``."""
    total = store.count_samples(session_id)
    end = total if limit is None else min(total, start + limit)
    return total, max(start, end)


def csv_chunks(store: Store, session_id: str, start: int, end: int, chunk: int) -> Iterator[str]:
    """CSV text of samples ``[start, end)`` (``analytics.export.samples_to_csv`` columns): the header,
    then one piece per store read of at most ``chunk`` samples. Blocking (store calls): iterate it in a
    thread (Starlette's ``StreamingResponse`` does for a plain iterator). Stops early when the session
    has fewer samples than ``end`` (deleted meanwhile: ``SessionNotFoundError`` ends it)."""
    yield samples_to_csv([], header=True)
    i = start
    while i < end:
        page = store.get_samples(session_id, start=i, limit=min(chunk, end - i))
        if not page:
            return
        yield samples_to_csv(page, header=False)
        i += len(page)
