"""The ``Store`` protocol and the validation both stores share.

A store keeps five kinds of things:

* **sessions** (:class:`~gazescope.domain.SessionInfo`), listed newest first;
* **samples** of a session: the dicts of :meth:`GazeSample.to_dict <gazescope.domain.GazeSample.to_dict>`,
  appended in batches and read back in insertion order (sample index 0, 1, 2, ...);
* one **report** (a JSON object) per session;
* generic JSON **documents** in named collections (calibration profiles, stimulus metadata, areas of
  interest (AOIs), events), and binary **blobs** for explicitly uploaded content (stimulus images);
* **studies** (JSON records indexed by the hash of their participant link token) and the **participant**
  records of each study (:mod:`gazescope.services.studies`).

A document whose ``session_id`` key names a session is *linked* to it: ``delete_session`` deletes it
together with the session, its samples and its report, so that no trace of the session remains.

Methods are synchronous; the API calls them from a thread pool (``asyncio.to_thread``), so every
implementation is safe to use from several threads at once. Errors come from the ``gazescope.errors``
family: :class:`SessionNotFoundError` for an unknown session, :class:`NotFoundError` for a missing
document or blob, :class:`ValidationError` for content that cannot be stored (nothing is written then),
:class:`StorageError` when the backend fails or is unreachable. ``update_session`` raises the built-in
``ValueError`` for a field name that ``SessionInfo`` does not have or that the store manages itself.

Implementations: :class:`gazescope.storage.sqlite.SQLiteStore` (embedded default) and
:class:`gazescope.storage.redis.RedisStore` (scale-out).
"""

from __future__ import annotations

import json
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any, Protocol, runtime_checkable

from gazescope.domain import ID_CHARS, MAX_ID_CHARS, SessionInfo
from gazescope.errors import NotFoundError, ValidationError

#: Session ids: 1-128 characters from ``[A-Za-z0-9_.-]`` (UUIDs, hex tokens, slugs). The restriction keeps
#: ids safe inside Redis key names and URLs.
#: ``\Z``, not ``$``: ``$`` also matches before a final newline (``"evil\n"``). The API's id type is
#: :data:`gazescope.domain.ResourceId`, the same rule.
SESSION_ID_RE = re.compile(rf"[{ID_CHARS}]{{1,{MAX_ID_CHARS}}}\Z")
#: Collection names: 1-64 characters from ``[A-Za-z0-9_.-]``.
COLLECTION_RE = re.compile(rf"[{ID_CHARS}]{{1,64}}\Z")
MAX_DOC_ID_CHARS = 256
MAX_BLOB_KEY_CHARS = 512

SESSION_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(SessionInfo))
#: Fields the store manages itself: ``id`` is the key, ``sample_count`` follows ``append_samples``.
MANAGED_FIELDS: frozenset[str] = frozenset({"id", "sample_count"})
UPDATABLE_FIELDS: frozenset[str] = frozenset(SESSION_FIELDS) - MANAGED_FIELDS


@runtime_checkable
class Store(Protocol):
    """Persistent storage of sessions, samples, reports, documents and blobs (see module docstring)."""

    # --- sessions ------------------------------------------------------------------------------------
    def create_session(self, info: SessionInfo) -> SessionInfo:
        """Store a new session and return it as stored.

        Raises ``ValidationError`` (code ``session_exists``) when the id is taken, ``ValidationError``
        when a field has the wrong type, the id is not 1-128 characters of ``[A-Za-z0-9_.-]``, or
        ``sample_count`` is not 0.
        """
        ...

    def get_session(self, session_id: str) -> SessionInfo:
        """The stored session; ``SessionNotFoundError`` when there is none."""
        ...

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
        """Sessions newest first (``created_at_ms`` descending, then id descending).

        Filters combine with AND; ``since_ms <= created_at_ms <= until_ms`` (epoch ms, both inclusive).
        ``limit`` >= 0 and ``offset`` >= 0, else ``ValidationError``.
        """
        ...

    def count_sessions(self) -> int:
        """Number of stored sessions (every status)."""
        ...

    def update_session(self, session_id: str, **fields: Any) -> SessionInfo:
        """Set the given ``SessionInfo`` fields and return the updated session.

        Raises ``ValueError`` for a name that is not a ``SessionInfo`` field or is ``id`` /
        ``sample_count`` (managed by the store), ``ValidationError`` for a value of the wrong type,
        ``SessionNotFoundError`` for an unknown session.
        """
        ...

    def delete_session(self, session_id: str) -> None:
        """Remove every trace of the session: the session, its samples, its report and its linked
        documents. ``SessionNotFoundError`` when there is no such session."""
        ...

    # --- samples -------------------------------------------------------------------------------------
    def append_samples(self, session_id: str, samples: list[dict[str, Any]]) -> int:
        """Append sample dicts (``GazeSample.to_dict()``) in their order, atomically; return the session's
        new total sample count (also its ``sample_count``).

        Idempotent by ``frame_index``: a sample whose ``frame_index`` the session already has, or that
        repeats one earlier in the batch, is a replay (e.g. a batch retried after its commit's reply was
        lost) and is skipped as already stored. Samples without ``frame_index`` are always appended.

        Raises ``SessionNotFoundError`` for an unknown session and ``ValidationError`` when a sample is
        not a JSON object (NaN/inf are refused) or has a non-integer ``frame_index`` or non-numeric
        ``t_ms``; nothing of the batch is stored then.
        """
        ...

    def get_samples(
        self, session_id: str, *, start: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Samples in insertion order from sample index ``start`` (0-based), at most ``limit`` of them
        (all when None). ``SessionNotFoundError`` for an unknown session."""
        ...

    def count_samples(self, session_id: str) -> int:
        """Number of stored samples; ``SessionNotFoundError`` for an unknown session."""
        ...

    # --- reports -------------------------------------------------------------------------------------
    def save_report(self, session_id: str, report: dict[str, Any]) -> None:
        """Store (replace) the session's report, a JSON object. ``SessionNotFoundError`` /
        ``ValidationError`` as for samples."""
        ...

    def get_report(self, session_id: str) -> dict[str, Any] | None:
        """The session's report, or None before one is saved; ``SessionNotFoundError`` for an unknown
        session."""
        ...

    # --- documents -----------------------------------------------------------------------------------
    def put_document(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        """Store (replace) JSON object ``doc`` under ``collection``/``doc_id``. A string ``session_id``
        key links it to that session (see ``delete_session``)."""
        ...

    def replace_document(
        self, collection: str, doc_id: str, doc: dict[str, Any], *, expected: dict[str, Any] | None
    ) -> bool:
        """Compare-and-set: store ``doc`` as :meth:`put_document` does, but only when the stored document
        equals ``expected`` (None: when there is none), atomically (no other writer in between). True when
        stored, False when the stored document differs."""
        ...

    def get_document(self, collection: str, doc_id: str) -> dict[str, Any]:
        """The document; ``NotFoundError`` when there is none."""
        ...

    def list_documents(self, collection: str, **equals_filters: Any) -> list[dict[str, Any]]:
        """Documents of ``collection`` whose top-level keys equal every filter value (a missing key equals
        None), ordered by document id."""
        ...

    def count_documents(self, collection: str) -> int:
        """Number of documents in ``collection``; ``ValidationError`` for an invalid collection name."""
        ...

    def delete_document(self, collection: str, doc_id: str) -> bool:
        """Delete a document; True when it existed."""
        ...

    # --- blobs ---------------------------------------------------------------------------------------
    def put_blob(self, key: str, data: bytes) -> None:
        """Store (replace) bytes under ``key``. Only for content a user explicitly uploaded."""
        ...

    def get_blob(self, key: str) -> bytes:
        """The stored bytes; ``NotFoundError`` when there are none."""
        ...

    def delete_blob(self, key: str) -> bool:
        """Delete a blob; True when it existed."""
        ...

    # --- studies -------------------------------------------------------------------------------------
    def save_study(self, study: dict[str, Any]) -> None:
        """Store (create or replace) a study record: a JSON object with ``id`` (the id rule of sessions),
        ``created_at_ms`` (number) and ``token_hash`` (the hex SHA-256 of its participant link token,
        indexed for :meth:`find_study_by_token_hash`; replacing it revokes the old one). ``ValidationError``
        when one of these is missing or malformed, or the token hash is another study's."""
        ...

    def get_study(self, study_id: str) -> dict[str, Any]:
        """The study record; ``NotFoundError`` (code ``study_not_found``) when there is none."""
        ...

    def find_study_by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        """The study whose current ``token_hash`` this is, else None."""
        ...

    def list_studies(self) -> list[dict[str, Any]]:
        """Every study record, newest first (``created_at_ms`` descending, then id descending)."""
        ...

    def delete_study(self, study_id: str) -> None:
        """Delete the study record, its token index and its participant records (not their sessions).
        ``NotFoundError`` (code ``study_not_found``) when there is none."""
        ...

    def save_participant(self, study_id: str, participant: dict[str, Any]) -> None:
        """Store (create or replace) a participant record of the study: a JSON object with ``id`` (the
        id rule) and ``created_at_ms``. ``NotFoundError`` (``study_not_found``) for an unknown study,
        ``ValidationError`` for a malformed record."""
        ...

    def get_participant(self, study_id: str, participant_id: str) -> dict[str, Any]:
        """The participant record; ``NotFoundError`` (code ``participant_not_found``) when the study has
        none of that id (or the study is unknown)."""
        ...

    def list_participants(self, study_id: str) -> list[dict[str, Any]]:
        """The study's participant records, oldest first (``created_at_ms``, then id); empty for an unknown
        study."""
        ...

    # --- lifecycle -----------------------------------------------------------------------------------
    def ping(self) -> bool:
        """True when the backend is reachable and answers."""
        ...

    def close(self) -> None:
        """Release connections; later calls raise ``StorageError``."""
        ...


# --- validation shared by the implementations ------------------------------------------------------------


def check_session_id(session_id: object) -> str:
    """``session_id`` when it is 1-128 characters of ``[A-Za-z0-9_.-]``, else ``ValidationError``."""
    if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
        raise ValidationError(
            f"invalid session id {session_id!r}: use 1-128 characters of letters, digits, '_', '.', '-'"
        )
    return session_id


def is_valid_session_id(session_id: object) -> bool:
    """True when ``session_id`` could name a stored session (lookups of other ids find nothing)."""
    return isinstance(session_id, str) and SESSION_ID_RE.match(session_id) is not None


def check_collection(collection: object) -> str:
    """``collection`` when it is 1-64 characters of ``[A-Za-z0-9_.-]``, else ``ValidationError``."""
    if not isinstance(collection, str) or not COLLECTION_RE.match(collection):
        raise ValidationError(
            f"invalid collection name {collection!r}: use 1-64 characters of letters, digits, '_', '.', '-'"
        )
    return collection


def check_doc_id(doc_id: object) -> str:
    """``doc_id`` when it is a non-empty string of at most 256 characters, else ``ValidationError``."""
    if not isinstance(doc_id, str) or not 0 < len(doc_id) <= MAX_DOC_ID_CHARS or "\x00" in doc_id:
        raise ValidationError(f"invalid document id {doc_id!r}: use 1-{MAX_DOC_ID_CHARS} characters")
    return doc_id


#: ``expected`` of a document write that replaces whatever is stored (``put_document``).
UNCHECKED = object()


class DocumentWrites:
    """``put_document`` and ``replace_document`` of a store, over its ``_put_document(collection, doc_id,
    doc, expected)`` (``expected`` :data:`UNCHECKED`: replace whatever is stored)."""

    def _put_document(self, collection: str, doc_id: str, doc: dict[str, Any], expected: object) -> bool:
        raise NotImplementedError

    def put_document(self, collection: str, doc_id: str, doc: dict[str, Any]) -> None:
        """See :meth:`Store.put_document`."""
        self._put_document(collection, doc_id, doc, UNCHECKED)

    def replace_document(
        self, collection: str, doc_id: str, doc: dict[str, Any], *, expected: dict[str, Any] | None
    ) -> bool:
        """See :meth:`Store.replace_document`."""
        return self._put_document(collection, doc_id, doc, expected)


def document_body(collection: object, doc_id: object, doc: object) -> str:
    """The JSON body of document ``doc`` after checking its collection and id (``ValidationError``)."""
    check_collection(collection)
    check_doc_id(doc_id)
    return dumps_json(doc, f"document {collection}/{doc_id}")


def check_blob_key(key: object) -> str:
    """``key`` when it is a non-empty string of at most 512 characters, else ``ValidationError``."""
    if not isinstance(key, str) or not 0 < len(key) <= MAX_BLOB_KEY_CHARS or "\x00" in key:
        raise ValidationError(f"invalid blob key {key!r}: use 1-{MAX_BLOB_KEY_CHARS} characters")
    return key


def check_blob_data(data: object) -> bytes:
    """``data`` as ``bytes`` (``bytearray``/``memoryview`` accepted), else ``ValidationError``."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise ValidationError(f"blob data must be bytes, not {type(data).__name__}")


def check_paging(limit: object, offset: object) -> tuple[int, int]:
    """(limit, offset) when both are non-negative ints, else ``ValidationError``."""
    for name, v in (("limit", limit), ("offset", offset)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValidationError(f"{name} must be an integer >= 0, got {v!r}")
    return typing.cast(int, limit), typing.cast(int, offset)


def check_sample_range(start: object, limit: object) -> tuple[int, int | None]:
    """(start, limit) when start is an int >= 0 and limit None or an int >= 0, else ``ValidationError``."""
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise ValidationError(f"start must be an integer >= 0, got {start!r}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        raise ValidationError(f"limit must be None or an integer >= 0, got {limit!r}")
    return start, limit


def dumps_json(obj: object, what: str) -> str:
    """Compact JSON of a dict; ``ValidationError`` naming ``what`` when ``obj`` is not a JSON object
    (NaN and infinities are refused: they are not JSON)."""
    if not isinstance(obj, Mapping):
        raise ValidationError(f"{what} must be a JSON object (dict), not {type(obj).__name__}")
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} is not JSON-serialisable: {exc}") from exc


def encode_samples(samples: object) -> list[tuple[int | None, float | None, str]]:
    """Check a batch of sample dicts and return ``(frame_index, t_ms, json)`` per sample, in order.

    Raises ``ValidationError`` naming the first bad sample: not a dict, not JSON-serialisable,
    ``frame_index`` not an int, ``t_ms`` not a finite number. Missing ``frame_index``/``t_ms`` are None.
    """
    if not isinstance(samples, list | tuple):
        raise ValidationError(f"samples must be a list of dicts, not {type(samples).__name__}")
    out: list[tuple[int | None, float | None, str]] = []
    for i, s in enumerate(samples):
        body = dumps_json(s, f"sample {i} of the batch")
        fi = s.get("frame_index")
        if fi is not None and (not isinstance(fi, int) or isinstance(fi, bool)):
            raise ValidationError(f"sample {i} of the batch: frame_index must be an integer, got {fi!r}")
        t = s.get("t_ms")
        if t is not None and (not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t)):
            raise ValidationError(f"sample {i} of the batch: t_ms must be a finite number, got {t!r}")
        out.append((fi, None if t is None else float(t), body))
    return out


def batch_frame_indices(rows: list[tuple[int | None, float | None, str]]) -> list[int]:
    """The distinct ``frame_index`` values of :func:`encode_samples` rows (to look up which are stored)."""
    return sorted({row[0] for row in rows if row[0] is not None})


def drop_replays(
    rows: list[tuple[int | None, float | None, str]], stored: set[int]
) -> list[tuple[int | None, float | None, str]]:
    """The rows of :func:`encode_samples` that are not replays: a row is a replay when its ``frame_index``
    is in ``stored`` (the batch's frame indices the session already has) or repeats one earlier in the
    batch. Rows without ``frame_index`` are kept."""
    kept: list[tuple[int | None, float | None, str]] = []
    seen = set(stored)
    for row in rows:
        fi = row[0]
        if fi is not None:
            if fi in seen:
                continue
            seen.add(fi)
        kept.append(row)
    return kept


def loads_json_list(bodies: list[str] | list[bytes]) -> list[dict[str, Any]]:
    """Parse many JSON object texts at once (one ``json.loads`` of the joined array, faster than one call
    per row for tens of thousands of samples)."""
    if not bodies:
        return []
    if isinstance(bodies[0], bytes):
        return json.loads(b"[" + b",".join(bodies) + b"]")
    return json.loads("[" + ",".join(bodies) + "]")


def _field_kinds() -> dict[str, tuple[type, ...]]:
    hints = typing.get_type_hints(SessionInfo)
    kinds: dict[str, tuple[type, ...]] = {}
    for name in SESSION_FIELDS:
        hint = hints[name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds[name] = tuple(a for a in args if isinstance(a, type))
    return kinds


_FIELD_KINDS = _field_kinds()


def _check_value(name: str, value: Any) -> Any:
    kinds = _FIELD_KINDS[name]
    if value is None:
        if type(None) in kinds:
            return None
    elif isinstance(value, bool):
        if bool in kinds:
            return value
    elif float in kinds and isinstance(value, int | float):
        if math.isfinite(value):
            return float(value)
    elif int in kinds and isinstance(value, int):
        if value >= 0:
            return value
    elif str in kinds and isinstance(value, str):
        return value
    allowed = " or ".join("None" if k is type(None) else k.__name__ for k in kinds)
    if int in kinds:
        allowed += " (>= 0)"
    raise ValidationError(f"session field {name!r} must be {allowed}, got {value!r}")


def normalize_session(info: SessionInfo) -> SessionInfo:
    """``info`` with its values type-checked (ints accepted for float fields, converted).

    Raises ``ValidationError`` for a bad id or a value of the wrong type (or a negative count).
    """
    if not isinstance(info, SessionInfo):
        raise ValidationError(f"expected a SessionInfo, not {type(info).__name__}")
    check_session_id(info.id)
    return SessionInfo(**{name: _check_value(name, getattr(info, name)) for name in SESSION_FIELDS})


def check_update_fields(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Type-checked copy of the ``update_session`` keyword arguments.

    Raises ``ValueError`` for names outside ``SessionInfo`` or managed by the store (``id``,
    ``sample_count``), ``ValidationError`` for values of the wrong type.
    """
    unknown = sorted(set(changes) - set(SESSION_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown session field(s) {', '.join(unknown)}; updatable: {', '.join(sorted(UPDATABLE_FIELDS))}"
        )
    managed = sorted(set(changes) & MANAGED_FIELDS)
    if managed:
        raise ValueError(
            f"session field(s) {', '.join(managed)} are managed by the store and cannot be updated"
        )
    return {name: _check_value(name, v) for name, v in changes.items()}


def apply_update(info: SessionInfo, changes: Mapping[str, Any]) -> SessionInfo:
    """``info`` with already-checked ``changes`` applied."""
    return replace(info, **changes)


def matches(doc: Mapping[str, Any], filters: Mapping[str, Any]) -> bool:
    """True when every filter value equals ``doc``'s value for that key (missing key = None)."""
    return all(doc.get(k) == v for k, v in filters.items())


def linked_session(doc: Mapping[str, Any]) -> str | None:
    """The session id a document is linked to: its ``session_id`` value when that is a string."""
    sid = doc.get("session_id")
    return sid if isinstance(sid, str) else None


# --- studies ---------------------------------------------------------------------------------------------

_TOKEN_HASH_RE = re.compile(r"[0-9a-f]{64}\Z")


def study_not_found(study_id: object) -> NotFoundError:
    """The error of an unknown study."""
    return NotFoundError(f"no study {study_id!r}", code="study_not_found")


def participant_not_found(study_id: object, participant_id: object) -> NotFoundError:
    """The error of an unknown participant of a study."""
    return NotFoundError(
        f"study {study_id!r} has no participant {participant_id!r}", code="participant_not_found"
    )


def _created(record: Mapping[str, Any], what: str) -> float:
    created = record.get("created_at_ms")
    if not isinstance(created, int | float) or isinstance(created, bool) or not math.isfinite(created):
        raise ValidationError(f"{what}: created_at_ms must be a finite number, got {created!r}")
    return float(created)


def study_record(study: object) -> tuple[str, float, str, str]:
    """``(id, created_at_ms, token_hash, json)`` of a study record after checking it (``ValidationError``
    naming the bad key)."""
    body = dumps_json(study, "study record")
    assert isinstance(study, Mapping)
    sid = study.get("id")
    if not is_valid_session_id(sid):
        raise ValidationError(f"study record: invalid id {sid!r} (1-128 of letters, digits, '_', '.', '-')")
    token_hash = study.get("token_hash")
    if not isinstance(token_hash, str) or not _TOKEN_HASH_RE.match(token_hash):
        raise ValidationError("study record: token_hash must be 64 lowercase hex digits (SHA-256)")
    return typing.cast(str, sid), _created(study, "study record"), token_hash, body


def participant_record(participant: object) -> tuple[str, float, str]:
    """``(id, created_at_ms, json)`` of a participant record after checking it (``ValidationError``)."""
    body = dumps_json(participant, "participant record")
    assert isinstance(participant, Mapping)
    pid = participant.get("id")
    if not is_valid_session_id(pid):
        raise ValidationError(f"participant record: invalid id {pid!r}")
    return typing.cast(str, pid), _created(participant, "participant record"), body
