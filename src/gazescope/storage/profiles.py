"""Calibration profiles and calibration records: the one repository, on any :class:`Store`.

* :class:`ProfileRepository`: profiles as documents of :data:`PROFILES` (shared by every server on one
  Redis), and the session-linked records of calibrations, applied profiles and drift checks
  (:data:`RESULTS`, deleted with their session). Document shapes: ``docs/protocol.md`` ("REST").
* :class:`ProfileStore`: the same profile JSON as one file per profile in a folder, for library and CLI use
  without a server; the service only reads such a folder, as a fallback for a session's accuracy.

A profile document has no ``session_id`` on purpose: deleting the session it was made in must not delete
the person's calibration.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import tempfile
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from gazescope.calibration.profile import FittedCalibration
from gazescope.config import Settings
from gazescope.errors import (
    CalibrationError,
    NotFoundError,
    ProfileNotFoundError,
    StorageError,
    ValidationError,
)
from gazescope.storage.base import SESSION_ID_RE, Store

#: Store collection of calibration profiles (not linked to any session).
PROFILES = "calibration_profiles"
#: Store collection of calibration results, applied profiles and drift checks, linked to their session.
RESULTS = "calibration_results"
#: What a record of :data:`RESULTS` is of: a fitted calibration, an applied profile, a drift check.
RecordKind = Literal["calibration", "applied", "drift"]
#: Ids of profiles: 1-128 characters of letters, digits, ``_ . -`` (the store's id rule).
ID_RE = SESSION_ID_RE


def check_profile_id(profile_id: object) -> str:
    """``profile_id`` when it is 1-128 characters of ``[A-Za-z0-9_.-]``.

    Raises:
        ValidationError: any other value.
    """
    if not isinstance(profile_id, str) or not ID_RE.match(profile_id):
        raise ValidationError(
            f"invalid profile id {str(profile_id)[:64]!r}: use 1-128 characters of letters, digits, '_', '.', '-'"
        )
    return profile_id


class ProfileDocument(BaseModel):
    """A stored profile: summary fields plus ``profile`` (:meth:`FittedCalibration.to_dict`).

    ``created_at_ms``: epoch ms; ``screen_w_px``/``screen_h_px``: the screen it was made on;
    ``source_session_id``: the session it was fitted in (None for imported profiles); ``accepted``: False
    for a calibration that failed the quality gate (:mod:`gazescope.calibration.quality`) and that the
    user has not kept: :meth:`ProfileRepository.latest` (reuse by later sessions, pooling) skips it.
    Documents stored before the gate existed read as accepted.
    """

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    id: str
    profile_id: str
    user_id: str | None = None
    created_at_ms: float = 0.0
    mapper: str | None = None
    layout: str | None = None
    screen_w_px: int | None = None
    screen_h_px: int | None = None
    accuracy: dict[str, Any] = {}
    grade: str | None = None
    source_session_id: str | None = None
    accepted: bool = True
    profile: dict[str, Any] | None = None

    @classmethod
    def of(
        cls, cal: FittedCalibration, *, source_session_id: str | None = None, accepted: bool = True
    ) -> ProfileDocument:
        """The document of a fitted calibration (``accepted``: see the class).

        Raises:
            CalibrationError: a field of the profile is not of its type (e.g. a ``layout`` object).
        """
        acc = dict(cal.accuracy)
        return _document(
            dict(
                id=cal.profile_id,
                profile_id=cal.profile_id,
                user_id=cal.user_id,
                created_at_ms=round(float(cal.created_at_ms), 3),
                mapper=cal.mapper_name,
                layout=cal.layout,
                screen_w_px=int(cal.screen_w_px),
                screen_h_px=int(cal.screen_h_px),
                accuracy=acc,
                grade=acc.get("grade"),
                source_session_id=source_session_id,
                accepted=accepted,
                profile=cal.to_dict(),
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """The document as stored and served."""
        return self.model_dump()

    def summary(self) -> dict[str, Any]:
        """The document without the fitted mapper (for listings)."""
        return self.model_dump(exclude={"profile"})

    def calibration(self) -> FittedCalibration:
        """The profile's :class:`FittedCalibration`.

        Raises:
            CalibrationError: no ``profile`` object, or one :meth:`FittedCalibration.from_dict` refuses.
        """
        if not isinstance(self.profile, dict):
            raise CalibrationError("the stored calibration profile has no 'profile' object")
        return FittedCalibration.from_dict(self.profile)


def _document(doc: dict[str, Any]) -> ProfileDocument:
    try:
        return ProfileDocument.model_validate(doc)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise CalibrationError(f"malformed calibration profile: {where}: {err['msg']}") from None


class ProfileRepository:
    """Calibration profiles and calibration records of one :class:`Store` (synchronous, thread-safe as
    the store is; the API calls it from its I/O pool).

    Raises (every method): StorageError when the store fails.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def save(
        self, cal: FittedCalibration, *, source_session_id: str | None = None, accepted: bool = True
    ) -> ProfileDocument:
        """Store ``cal`` (replacing a profile with the same id); ``accepted=False`` for a calibration that
        failed the quality gate (not reused until :meth:`accept`).

        Raises:
            ValidationError: a bad profile id.
        """
        check_profile_id(cal.profile_id)
        doc = ProfileDocument.of(cal, source_session_id=source_session_id, accepted=accepted)
        self.store.put_document(PROFILES, cal.profile_id, doc.to_dict())
        return doc

    def accept(self, profile_id: str) -> ProfileDocument:
        """Mark a stored profile accepted (the user keeps a calibration that failed the quality gate), so
        later sessions and sittings reuse it; returns the document as stored.

        Raises:
            ProfileNotFoundError: none under ``profile_id``.
        """
        doc = self.get(profile_id)
        if doc.accepted:
            return doc
        doc = doc.model_copy(update={"accepted": True})
        self.store.put_document(PROFILES, profile_id, doc.to_dict())
        return doc

    def exists(self, profile_id: str) -> bool:
        """True when a profile ``profile_id`` is stored."""
        try:
            self.store.get_document(PROFILES, profile_id)
        except NotFoundError:
            return False
        return True

    def get(self, profile_id: str) -> ProfileDocument:
        """One stored profile.

        Raises:
            ProfileNotFoundError: none under ``profile_id`` (also for an id that cannot name one).
        """
        if not isinstance(profile_id, str) or not ID_RE.match(profile_id):
            raise ProfileNotFoundError(f"no calibration profile {str(profile_id)[:64]!r}")
        try:
            return _document(self.store.get_document(PROFILES, profile_id))
        except NotFoundError:
            raise ProfileNotFoundError(f"no calibration profile {profile_id!r}") from None

    def list(self, user_id: str | None = None) -> list[ProfileDocument]:
        """Stored profiles (of one user when given), newest first."""
        docs = (
            self.store.list_documents(PROFILES, user_id=user_id)
            if user_id
            else self.store.list_documents(PROFILES)
        )
        docs.sort(key=lambda d: (float(d.get("created_at_ms") or 0.0), str(d.get("id"))), reverse=True)
        return [_document(d) for d in docs]

    def latest(
        self, user_id: str, screen_w_px: int | None = None, screen_h_px: int | None = None
    ) -> ProfileDocument:
        """The newest accepted profile of ``user_id``; with a screen size, the newest made on that size if
        any (a mapping is in the pixels of the screen it was made on). Profiles that failed the quality
        gate and were not kept (``accepted`` False) are skipped.

        Raises:
            ProfileNotFoundError: the user has no accepted profile.
        """
        docs = [d for d in self.list(user_id) if d.accepted]
        if not docs:
            raise ProfileNotFoundError(f"no accepted calibration profile for user {user_id!r}")
        if screen_w_px and screen_h_px:
            same = [d for d in docs if (d.screen_w_px, d.screen_h_px) == (screen_w_px, screen_h_px)]
            if same:
                return same[0]
        return docs[0]

    def delete(self, profile_id: str) -> None:
        """Delete a stored profile.

        Raises:
            ProfileNotFoundError: there is none.
        """
        self.get(profile_id)
        self.store.delete_document(PROFILES, profile_id)

    def record(self, session_id: str, kind: RecordKind, **fields: Any) -> dict[str, Any]:
        """Store a record linked to ``session_id`` (``kind``: ``calibration``, ``applied`` or ``drift``)
        with ``fields``; returns it (``id``, ``kind``, ``session_id``, ``created_at_ms`` epoch ms, ...)."""
        doc = {
            "id": f"{kind}-{uuid.uuid4().hex[:12]}",
            "kind": kind,
            "session_id": session_id,
            "created_at_ms": round(time.time() * 1000.0, 3),
            **fields,
        }
        self.store.put_document(RESULTS, doc["id"], doc)
        return doc

    def records(self, session_id: str) -> builtins.list[dict[str, Any]]:
        """The records of a session (any order)."""
        return self.store.list_documents(RESULTS, session_id=session_id)


# --- profile files ---------------------------------------------------------------------------------------

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def sanitise_name(name: str, max_len: int = 64) -> str:
    """A file-name-safe form of a user or profile id: letters, digits, ``_ . -``; no leading dots.

    Raises:
        ValidationError: nothing usable is left.
    """
    s = _SAFE.sub("_", str(name)).strip("._")[:max_len]
    if not s:
        raise ValidationError(f"unusable id {name!r}")
    return s


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """A profile file's summary (``created_at_ms`` epoch ms, ``mean_error_px`` of its accuracy)."""

    profile_id: str
    user_id: str | None
    created_at_ms: float
    mapper_name: str
    mean_error_px: float | None
    path: str


class ProfileStore:
    """Calibration profiles as JSON files in a folder, one per profile: ``<user>__<profile_id>.json``
    (``_anon`` for no user). Writes are atomic (temp file + rename).

    Args:
        settings_or_dir: a :class:`~gazescope.config.Settings` (uses ``profiles_dir``) or a folder path.
        create: create the folder when missing (default). ``create=False`` is for read-only lookups: a
            missing folder then holds no profiles, and nothing is made on disk.

    Raises:
        StorageError: the folder cannot be created.
    """

    def __init__(self, settings_or_dir: Settings | Path | str | None = None, *, create: bool = True) -> None:
        if settings_or_dir is None:
            settings_or_dir = Settings()
        self.dir = Path(
            settings_or_dir.profiles_dir if isinstance(settings_or_dir, Settings) else settings_or_dir
        )
        if not create:
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the profiles folder {self.dir}: {exc}") from exc

    def _path(self, user_id: str | None, profile_id: str) -> Path:
        user = sanitise_name(user_id) if user_id else "_anon"
        return self.dir / f"{user}__{sanitise_name(profile_id)}.json"

    def save(self, cal: FittedCalibration, user_id: str | None = None) -> str:
        """Store a profile (``user_id`` overrides ``cal.user_id``); returns its profile id."""
        if user_id is not None and user_id != cal.user_id:
            cal = replace(cal, user_id=user_id)
        if sanitise_name(cal.profile_id) != cal.profile_id:
            cal = replace(cal, profile_id=sanitise_name(cal.profile_id))
        path = self._path(cal.user_id, cal.profile_id)
        try:
            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(cal.to_json())
            os.replace(tmp, path)
        except OSError as exc:
            raise StorageError(f"cannot write calibration profile {path.name}: {exc}") from exc
        return cal.profile_id

    def _files(self) -> list[Path]:
        return sorted(p for p in self.dir.glob("*__*.json") if not p.name.startswith("."))

    def _find(self, profile_id: str) -> Path:
        pid = sanitise_name(profile_id)
        for p in self._files():
            if p.stem.rsplit("__", 1)[-1] == pid:
                return p
        raise ProfileNotFoundError(f"no calibration profile {profile_id!r}")

    def list(self, user_id: str | None = None) -> list[ProfileInfo]:
        """Summaries of stored profiles (of one user when given), newest first; unreadable files skipped."""
        out = []
        for p in self._files():
            try:
                d = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                continue
            if user_id is not None and d.get("user_id") != user_id:
                continue
            acc = d.get("accuracy") or {}
            out.append(
                ProfileInfo(
                    profile_id=str(d.get("profile_id")),
                    user_id=d.get("user_id"),
                    created_at_ms=float(d.get("created_at_ms", 0.0)),
                    mapper_name=str(d.get("mapper_name")),
                    mean_error_px=acc.get("mean_error_px"),
                    path=str(p),
                )
            )
        return sorted(out, key=lambda i: i.created_at_ms, reverse=True)

    def load(self, profile_id: str) -> FittedCalibration:
        """Load one profile. Raises ProfileNotFoundError, or CalibrationError for a bad file."""
        path = self._find(profile_id)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise StorageError(f"cannot read calibration profile {path.name}: {exc}") from exc
        return FittedCalibration.from_json(text)

    def latest(self, user_id: str) -> FittedCalibration:
        """The newest profile of a user. Raises ProfileNotFoundError when the user has none."""
        infos = self.list(user_id)
        if not infos:
            raise ProfileNotFoundError(f"no calibration profile for user {user_id!r}")
        return self.load(infos[0].profile_id)

    def delete(self, profile_id: str) -> None:
        """Remove a profile. Raises ProfileNotFoundError when absent."""
        path = self._find(profile_id)
        try:
            path.unlink()
        except OSError as exc:
            raise StorageError(f"cannot delete calibration profile {path.name}: {exc}") from exc
