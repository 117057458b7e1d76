"""The profiles of one tracking stream: the one applied, reuse of stored ones (``calibration_use``,
``calibration_keep``, the session's own at start) and pooling a new fit with its user's earlier sittings
(``docs/protocol.md``, "Profiles that accumulate, clicks that recalibrate").

Stored profiles and records are the store's (:class:`~gazescope.calibration.host.Profiles`); the pooling
itself is :func:`~gazescope.calibration.history.pooled_calibration`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from gazescope.calibration.history import pooled_calibration
from gazescope.calibration.host import CalibrationHost, Profiles, RecordKind, StoredProfile
from gazescope.calibration.messages import (
    CalibrationApplied,
    CalibrationKeep,
    CalibrationKept,
    CalibrationUse,
    ProfileSource,
)
from gazescope.calibration.profile import FittedCalibration
from gazescope.domain import SessionInfo
from gazescope.errors import (
    CalibrationError,
    GazescopeError,
    NotEnoughDataError,
    ProfileNotFoundError,
    StorageError,
    ValidationError,
)

T = TypeVar("T")


class StreamProfiles:
    """The applied profile of one stream, reuse of stored profiles and pooling of new fits.

    :attr:`applied` and :attr:`applied_profile_id` change together, under a lock; :meth:`applied_now` reads
    them together.

    Attributes:
        applied: the calibration samples are mapped with, None before one is applied.
        applied_profile_id: its stored profile's id (None for an unsaved fit).
        last_saved_profile_id: the profile the stream's last ``calibration_result`` saved (None when that
            fit was not saved), what ``calibration_keep`` without a ``profile_id`` accepts.
    """

    def __init__(self, host: CalibrationHost, profiles: Profiles) -> None:
        self.host = host
        self.profiles = profiles
        self._lock = threading.Lock()
        self.applied: FittedCalibration | None = None
        self.applied_profile_id: str | None = None
        self.last_saved_profile_id: str | None = None

    def applied_now(self) -> tuple[FittedCalibration | None, str | None]:
        """(the applied calibration, its profile id), read together."""
        with self._lock:
            return self.applied, self.applied_profile_id

    async def keep(self, msg: CalibrationKeep) -> CalibrationKept:
        """``calibration_keep``: accept a profile that failed the quality gate (``profile_id``, or the one
        this stream's last ``calibration_result`` saved), so later sessions and sittings reuse it.

        Raises:
            CalibrationError: no ``profile_id`` and no saved calibration on this stream
                (``no_calibration``).
            ProfileNotFoundError: no such profile.
        """
        profile_id = msg.profile_id or self.last_saved_profile_id
        if profile_id is None:
            raise CalibrationError(
                "no saved calibration to keep: calibrate with a user_id (or save) first, or name a profile_id",
                code="no_calibration",
            )
        doc = await self._store_write(self.profiles.accept, profile_id)
        self.host.event("calibration_kept", profile_id=doc.id)
        return CalibrationKept(profile_id=doc.id, accepted=doc.accepted)

    async def use(self, msg: CalibrationUse) -> CalibrationApplied:
        """``calibration_use``: apply the stored profile ``profile_id``, or the newest of ``user_id`` (made
        on the session's screen size if there is one).

        Raises:
            ProfileNotFoundError: no such profile.
        """
        host = self.host
        if msg.profile_id is not None:
            doc = await host.io(self.profiles.get, msg.profile_id)
        else:
            assert msg.user_id is not None
            doc = await host.io(
                self.profiles.latest, msg.user_id, host.session.screen_w_px, host.session.screen_h_px
            )
        return await self.apply_profile(doc, "calibration_use")

    async def apply_profile(self, doc: StoredProfile, source: ProfileSource) -> CalibrationApplied:
        """Apply a stored profile, record it on the session and in its records.

        Args:
            doc: the stored profile.
            source: why it is applied (reported back and recorded).

        Returns:
            The ``calibration_applied`` reply (with a ``warning`` when the profile's screen size differs
            from the session's).

        Raises:
            CalibrationError: the stored profile cannot be read.
        """
        host = self.host
        cal = await host.cpu(doc.calibration)
        await self.apply(cal, cal.profile_id)
        acc = dict(cal.accuracy)
        warning = None
        sw, sh = host.session.screen_w_px, host.session.screen_h_px
        if sw and sh and (sw, sh) != (cal.screen_w_px, cal.screen_h_px):
            warning = (
                f"the profile was made on a {cal.screen_w_px}x{cal.screen_h_px} screen, the session has "
                f"{sw}x{sh}: screen points are in the profile's pixels; recalibrate for this screen"
            )
        fields: dict[str, Any] = dict(
            profile_id=cal.profile_id,
            user_id=cal.user_id,
            mapper=cal.mapper_name,
            layout=cal.layout,
            screen_w_px=cal.screen_w_px,
            screen_h_px=cal.screen_h_px,
            accuracy=acc,
            grade=acc.get("grade"),
            source=source,
            accepted=doc.accepted,
        )
        await self.record("applied", **fields)
        host.event("calibration_applied", profile_id=cal.profile_id, source=source)
        return CalibrationApplied(**fields, warning=warning)

    async def apply(self, cal: FittedCalibration, profile_id: str | None) -> None:
        """Map samples with ``cal`` and record ``profile_id`` on the session (not once the stream ends); a
        failed session update is logged (``calibration_session_update_failed``), never raised."""
        host = self.host
        host.set_calibration(cal)
        with self._lock:
            self.applied = cal
            self.applied_profile_id = profile_id
        if host.ending:
            return
        if profile_id is not None and host.session.calibration_id != profile_id:
            try:
                host.session = await self._store_write(host.update_session, calibration_id=profile_id)
            except GazescopeError as exc:
                host.event("calibration_session_update_failed", error=exc.message)

    async def adopt_fit(
        self, fitted: FittedCalibration, *, save: bool, accepted: bool
    ) -> tuple[str | None, str | None]:
        """Save a new fit as a profile (when ``save``), remember it for ``calibration_keep`` and apply it
        (this stream uses it whether or not it passed the quality gate: the gate is about reuse).

        Args:
            fitted: the fit, its ``profile_id`` set.
            save: whether to save it.
            accepted: whether it passed the quality gate (later sessions reuse accepted profiles only).

        Returns:
            (the saved profile's id or None, the reason saving failed or None). A StorageError or
            ValidationError of the store is returned as that reason, never raised.
        """
        profile_id: str | None = None
        save_error: str | None = None
        if save:
            try:
                await self._store_write(
                    self.profiles.save, fitted, source_session_id=self.host.session_id, accepted=accepted
                )
                profile_id = fitted.profile_id
            except (StorageError, ValidationError) as exc:
                save_error = exc.message
        self.last_saved_profile_id = profile_id
        await self.apply(fitted, profile_id)
        return profile_id, save_error

    async def pool_with_history(
        self, fitted: FittedCalibration, mapper_params: dict[str, Any]
    ) -> tuple[FittedCalibration, dict[str, Any]]:
        """:func:`pool_with_history` with this stream's host and profiles."""
        host = self.host
        return await pool_with_history(
            fitted,
            mapper_params,
            self.profiles.latest,
            io=host.io,
            cpu=host.cpu,
            event=host.event,
            newest_weight=host.settings.calibration_profile_newest_weight,
            max_sittings=host.settings.calibration_profile_max_sittings,
        )

    async def record(self, kind: RecordKind, **fields: Any) -> None:
        """Record a calibration, applied profile or drift check (``kind``, its JSON ``fields``) with the
        stream's session.

        A store failure is logged (``calibration_record_failed``), never raised. Skipped once the stream
        is ending (``calibration_record_skipped``): the record would outlive a deleted session.
        """
        host = self.host
        if host.ending:
            host.event("calibration_record_skipped", kind=kind)
            return
        try:
            await self._store_write(self.profiles.record, host.session_id, kind, **fields)
        except GazescopeError as exc:
            host.event("calibration_record_failed", error=exc.message)

    async def _store_write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store write in the I/O pool; when cancelled (the stream ending) it waits for the write in the
        thread to finish first, so the stream's end comes after every write begun here."""
        fut = asyncio.ensure_future(self.host.io(fn, *args, **kwargs))
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            await asyncio.wait([fut])
            raise


def session_profile(profiles: Profiles, info: SessionInfo) -> tuple[StoredProfile, ProfileSource] | None:
    """The profile a stream of session ``info`` starts with, and why: the one its ``calibration_id`` names
    (``session_calibration_id``), else the newest of its ``user_id`` (``session_user_id``); None without.

    Raises:
        ProfileNotFoundError: the ``calibration_id`` names no profile (a user without one: None).
    """
    if info.calibration_id:
        return profiles.get(info.calibration_id), "session_calibration_id"
    if info.user_id:
        try:
            return profiles.latest(info.user_id, info.screen_w_px, info.screen_h_px), "session_user_id"
        except ProfileNotFoundError:
            return None
    return None


async def pool_with_history(
    fitted: FittedCalibration,
    mapper_params: dict[str, Any],
    latest: Callable[[str, int, int], Any],
    *,
    io: Callable[..., Any],
    cpu: Callable[..., Any],
    event: Callable[..., None],
    newest_weight: float,
    max_sittings: int,
) -> tuple[FittedCalibration, dict[str, Any]]:
    """``fitted`` pooled with its user's earlier sittings on the same screen size and mapper
    (:func:`~gazescope.calibration.history.pooled_calibration`); every fit path uses this one.

    Args:
        fitted: the new fit (one sitting).
        mapper_params: the mapper parameters it was fitted with (the pooled refit uses them).
        latest: ``(user_id, screen_w_px, screen_h_px) -> StoredProfile``, the user's newest profile
            (raises ProfileNotFoundError without one); run with ``io``.
        io, cpu: awaitable runners for store calls and CPU work.
        event: logs an event (name, fields).
        newest_weight, max_sittings: ``Settings.calibration_profile_newest_weight`` and ``_max_sittings``.

    Returns:
        (the pooled calibration, the accuracy fields to add: ``n_sittings``, ``alone_loo_px`` and
        ``pooled_loo_px`` in px or None). Unchanged (and ``{}``) without a user, kept rows (appearance
        mappers) or enough rows; a store failure or an unreadable old profile is logged, never raised.
    """
    if fitted.user_id is None or not fitted.sittings or fitted.mapper.needs_patches:
        return fitted, {}
    history: tuple = ()
    try:
        doc = await io(latest, fitted.user_id, fitted.screen_w_px, fitted.screen_h_px)
        prev = await cpu(doc.calibration)
        if prev.mapper_name == fitted.mapper_name:
            history = prev.sittings
    except ProfileNotFoundError:
        pass
    except GazescopeError as exc:  # an unreadable old profile must not cost the new calibration
        event("profile_history_unreadable", error=exc.message)
    try:
        pf = await cpu(
            pooled_calibration,
            fitted.mapper_name,
            mapper_params,
            fitted.sittings[-1],
            history,
            newest_weight,
            max_sittings,
        )
    except NotEnoughDataError:
        return fitted, {}
    extra = {
        "n_sittings": len(pf.sittings),
        "alone_loo_px": None if pf.alone_loo_px is None else round(pf.alone_loo_px, 2),
        "pooled_loo_px": None if pf.pooled_loo_px is None else round(pf.pooled_loo_px, 2),
    }
    accuracy = {**fitted.accuracy, **extra}
    return replace(fitted, mapper=pf.mapper, sittings=pf.sittings, accuracy=accuracy), extra
