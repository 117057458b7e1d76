"""Quotas on stored totals, stored document sizes and the free-disk watermark (docs/operations.md, "Limits").

Each check raises before anything is written and names the setting that bounds it:

* :func:`check_new_session`, :func:`check_new_stimulus`, :func:`check_new_profile`: a create that would pass
  ``Settings.max_sessions``, ``max_stimuli`` / ``max_stimuli_total_bytes`` or ``max_profiles`` raises
  :class:`~gazescope.errors.QuotaExceededError` (HTTP 507); a profile document larger than
  ``max_document_bytes`` raises :class:`~gazescope.errors.ValidationError` ``document_too_large`` (422).
* :func:`free_disk_refusal`: the reason writes are refused when the SQLite store's file system has less
  than ``min_free_disk_bytes`` free (the API answers 503 ``storage_full``), else None.

The checks read counts, then the write follows: concurrent creates can pass a quota by the number of
requests in flight (the rate limit bounds those), never by more.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from gazescope.config import QuotaSettings, StorageSettings
from gazescope.errors import QuotaExceededError, ValidationError
from gazescope.services.stimuli import STIMULI
from gazescope.storage.base import Store
from gazescope.storage.profiles import PROFILES


def check_new_session(store: Store, quotas: QuotaSettings) -> None:
    """Raise :class:`QuotaExceededError` when ``max_sessions`` sessions are stored already."""
    if store.count_sessions() >= quotas.max_sessions:
        raise QuotaExceededError(
            f"{quotas.max_sessions} sessions are stored, the most allowed (GAZESCOPE_MAX_SESSIONS); "
            "delete some first"
        )


def check_new_stimulus(store: Store, quotas: QuotaSettings, nbytes: int) -> None:
    """Raise :class:`QuotaExceededError` when ``max_stimuli`` stimuli are stored already, or when a file of
    ``nbytes`` would take the stored stimuli past ``max_stimuli_total_bytes``."""
    docs = store.list_documents(STIMULI)
    if len(docs) >= quotas.max_stimuli:
        raise QuotaExceededError(
            f"{quotas.max_stimuli} stimuli are stored, the most allowed (GAZESCOPE_MAX_STIMULI); "
            "delete some first"
        )
    total = sum(int(d.get("bytes") or 0) for d in docs)
    if total + nbytes > quotas.max_stimuli_total_bytes:
        raise QuotaExceededError(
            f"stored stimuli take {total} bytes; {nbytes} more would pass "
            f"GAZESCOPE_MAX_STIMULI_TOTAL_BYTES={quotas.max_stimuli_total_bytes}; delete some first"
        )


def check_new_profile(store: Store, quotas: QuotaSettings, document: dict[str, object]) -> None:
    """Raise ``ValidationError`` (``document_too_large``) when the profile ``document`` (as stored) is
    larger than ``max_document_bytes`` as JSON, :class:`QuotaExceededError` when ``max_profiles`` profiles
    are stored already."""
    size = len(json.dumps(document, separators=(",", ":")).encode())
    if size > quotas.max_document_bytes:
        raise ValidationError(
            f"the profile document is {size} bytes as JSON, over GAZESCOPE_MAX_DOCUMENT_BYTES="
            f"{quotas.max_document_bytes}",
            code="document_too_large",
        )
    if store.count_documents(PROFILES) >= quotas.max_profiles:
        raise QuotaExceededError(
            f"{quotas.max_profiles} profiles are stored, the most allowed (GAZESCOPE_MAX_PROFILES); "
            "delete some first"
        )


def free_disk_refusal(quotas: QuotaSettings, storage: StorageSettings) -> str | None:
    """Why writes are refused now: the SQLite store's file system (the folder of ``db_path``) has less than
    ``min_free_disk_bytes`` free; None when it has enough, the check is off (0) or the store is Redis."""
    if quotas.min_free_disk_bytes <= 0 or storage.store_kind != "sqlite":
        return None
    folder = Path(storage.db_path).resolve().parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None  # the store reports its own failures
    if free >= quotas.min_free_disk_bytes:
        return None
    return (
        f"the store's disk has {free} bytes free, under GAZESCOPE_MIN_FREE_DISK_BYTES="
        f"{quotas.min_free_disk_bytes}: writes are refused until space is freed"
    )
