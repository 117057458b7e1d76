"""Sessions as the analyses read them: a stored session with its samples, report and calibration accuracy
(:class:`SessionData`), the sessions of an aggregate (:func:`select_sessions`), and a ``gazescope analyze``
output folder read as a session (:func:`load_folder`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gazescope.analytics.events import gaze_arrays
from gazescope.domain import SessionInfo
from gazescope.errors import GazescopeError, NotFoundError, ValidationError
from gazescope.storage import Store
from gazescope.storage.profiles import PROFILES as CALIBRATION_PROFILES
from gazescope.storage.profiles import RESULTS

CALIBRATIONS = RESULTS
"""Document collection of the calibration results linked to a session (``session_id``; ``kind``
``calibration``/``applied``/``drift``; ``accuracy.mean_error_px``), written by the calibration messages
(:data:`gazescope.storage.profiles.RESULTS`, defined there)."""
PROFILES = CALIBRATION_PROFILES
"""Document collection of calibration profiles (``accuracy.mean_error_px``), looked up by a session's
``calibration_id`` (:data:`gazescope.storage.profiles.PROFILES`, defined there)."""

MAX_AGGREGATE_SESSIONS = 1000
"""Most sessions one aggregate heatmap or report reads (newest first)."""


@dataclass(frozen=True, eq=False)
class SessionData:
    """A stored session with its samples (dicts of the sample fields), stored report (None while
    running) and calibration accuracy (mean error in px, None when unknown)."""

    info: SessionInfo
    samples: list[dict[str, Any]]
    report: dict[str, Any] | None
    calibration_accuracy_px: float | None

    @property
    def screen_size_px(self) -> tuple[float, float] | None:
        """(width, height) of the viewer's screen in px: the session's, else its report's; None when
        neither records one."""
        w, h = self.info.screen_w_px, self.info.screen_h_px
        if not (w and h) and self.report:
            w, h = self.report.get("screen_w_px"), self.report.get("screen_h_px")
        return (float(w), float(h)) if w and h else None

    def has_gaze(self) -> bool:
        """True when at least one sample holds a valid screen point (calibrated gaze)."""
        return bool(self.samples) and bool(gaze_arrays(self.samples).valid.any())


def _positive(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v) if math.isfinite(v) and v > 0 else None


def _accuracy_of(doc: Mapping[str, Any]) -> float | None:
    acc = doc.get("accuracy")
    if isinstance(acc, Mapping) and _positive(acc.get("mean_error_px")):
        return _positive(acc.get("mean_error_px"))
    return _positive(doc.get("mean_error_px")) or _positive(doc.get("calibration_accuracy_px"))


def calibration_accuracy_px(
    store: Store, info: SessionInfo, report: Mapping[str, Any] | None, profiles_dir: Any = None
) -> float | None:
    """The measured calibration accuracy (mean error, px, > 0) of a session, or None when none is recorded.

    Looked up in order: the stored report's ``calibration_accuracy_px``; the newest calibration or
    applied-profile document of the :data:`CALIBRATIONS` collection linked to the session
    (``session_id``), its ``accuracy.mean_error_px`` (the ``calibration_result`` of the wire protocol) or
    ``mean_error_px``; the profile named by the session's ``calibration_id`` in the :data:`PROFILES`
    collection, then in the profile folder ``profiles_dir``
    (:class:`gazescope.storage.profiles.ProfileStore`, read only: a missing folder is not created).
    Drift checks are skipped: they measure one point, not the mapping's accuracy.
    """
    if report and _positive(report.get("calibration_accuracy_px")):
        return _positive(report.get("calibration_accuracy_px"))
    docs = store.list_documents(CALIBRATIONS, session_id=info.id)
    docs.sort(key=lambda d: _positive(d.get("created_at_ms")) or 0.0, reverse=True)
    for d in docs:
        if d.get("kind", "calibration") not in ("calibration", "applied"):
            continue
        if (acc := _accuracy_of(d)) is not None:
            return acc
    if not info.calibration_id:
        return None
    try:
        acc = _accuracy_of(store.get_document(PROFILES, info.calibration_id))
        if acc is not None:
            return acc
    except (NotFoundError, ValidationError):
        pass
    if profiles_dir is not None:
        from gazescope.storage.profiles import ProfileStore

        try:
            for p in ProfileStore(profiles_dir, create=False).list():  # reads only; makes no folder
                if p.profile_id == info.calibration_id:
                    return _positive(p.mean_error_px)
        except GazescopeError:
            return None
    return None


def load_session(store: Store, session_id: str, *, profiles_dir: Any = None) -> SessionData:
    """A session with all its samples, report and calibration accuracy.

    Raises ``SessionNotFoundError`` when unknown.
    """
    info = store.get_session(session_id)
    samples = store.get_samples(session_id)
    report = store.get_report(session_id)
    return SessionData(info, samples, report, calibration_accuracy_px(store, info, report, profiles_dir))


def load_sessions(
    store: Store, infos: Sequence[SessionInfo], *, profiles_dir: Any = None
) -> list[SessionData]:
    """:func:`load_session` of each of ``infos``, in order."""
    return [load_session(store, i.id, profiles_dir=profiles_dir) for i in infos]


def select_sessions(
    store: Store,
    *,
    stimulus_id: str | None = None,
    user_id: str | None = None,
    session_ids: Sequence[str] | None = None,
    limit: int = MAX_AGGREGATE_SESSIONS,
) -> list[SessionInfo]:
    """Sessions for an aggregate: the listed ``session_ids`` (duplicates once), or every session matching
    the filters, newest first; at most ``limit``.

    Raises ``SessionNotFoundError`` for a listed id that does not exist, ``ValidationError`` for one not
    on ``stimulus_id`` (code ``session_not_on_stimulus``) or not of ``user_id``.
    """
    if session_ids:
        out = []
        for sid in dict.fromkeys(session_ids):
            info = store.get_session(sid)
            if stimulus_id is not None and info.stimulus_id != stimulus_id:
                raise ValidationError(
                    f"session {sid!r} is not on stimulus {stimulus_id!r} (its stimulus_id is "
                    f"{info.stimulus_id!r})",
                    code="session_not_on_stimulus",
                )
            if user_id is not None and info.user_id != user_id:
                raise ValidationError(f"session {sid!r} is not of user {user_id!r}")
            out.append(info)
        return out[:limit]
    out, offset = [], 0
    while len(out) < limit:
        page = store.list_sessions(
            stimulus_id=stimulus_id, user_id=user_id, limit=min(1000, limit - len(out)), offset=offset
        )
        out += page
        offset += len(page)
        if len(page) == 0:
            break
    return out


def load_folder(folder: Path) -> SessionData:
    """A ``gazescope analyze`` output folder as an ended session: ``samples.csv`` (required) and
    ``report.json`` (screen size, calibration accuracy; optional). The session id is the folder's name
    (characters other than ``A-Za-z0-9_.-`` replaced, at most 128).

    Raises ``ValidationError`` when ``samples.csv`` is missing or malformed or ``report.json`` is not JSON.
    """
    from gazescope.analytics.export import read_samples_csv

    csv_path = folder / "samples.csv"
    if not csv_path.is_file():
        raise ValidationError(f"{folder} has no samples.csv (is it a `gazescope analyze` output folder?)")
    samples = read_samples_csv(csv_path.read_text())
    report: dict[str, Any] = {}
    if (folder / "report.json").is_file():
        try:
            report = json.loads((folder / "report.json").read_text())
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{folder / 'report.json'} is not JSON: {exc}") from exc
    w, h = report.get("screen_w_px"), report.get("screen_h_px")
    sid = re.sub(r"[^A-Za-z0-9_.-]", "_", folder.resolve().name)[:128] or "folder"
    info = SessionInfo(
        id=sid,
        created_at_ms=0.0,
        label=str(folder),
        screen_w_px=int(w) if w else None,
        screen_h_px=int(h) if h else None,
        status="ended",
        sample_count=len(samples),
    )
    acc = report.get("calibration_accuracy_px")
    return SessionData(info, samples, report or None, float(acc) if acc else None)
