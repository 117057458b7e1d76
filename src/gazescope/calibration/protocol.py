"""The calibration protocol of one tracking stream, without a transport (``docs/protocol.md``,
"Calibration over the tracking WebSocket").

:class:`CalibrationController` drives a :class:`~gazescope.calibration.session.CalibrationSession` and
drift checks from parsed messages (:mod:`gazescope.calibration.messages`) and processed frames, keeps
profiles and records through :class:`Profiles` (the store's
:class:`~gazescope.storage.profiles.ProfileRepository`), and answers with typed replies. Whatever it needs of the stream (frame counter, thread pools, sending, applying a mapping) comes
through a :class:`CalibrationHost`.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel

from gazescope.calibration.drift import check_drift
from gazescope.calibration.history import pooled_calibration
from gazescope.calibration.mappers import available_mappers
from gazescope.calibration.messages import (
    CalibrationApplied,
    CalibrationCancelled,
    CalibrationKeep,
    CalibrationKept,
    CalibrationProgress,
    CalibrationResultOut,
    CalibrationStart,
    CalibrationStarted,
    CalibrationTarget,
    CalibrationUse,
    DriftResult,
    DriftStart,
    DriftStarted,
    Empty,
    ErrorReply,
    PointOut,
    ProfileSource,
    QualityOut,
    Reply,
    TargetOut,
    bound_mapper_params,
    parse_message,
)
from gazescope.calibration.profile import MAX_SCREEN_PX, FittedCalibration
from gazescope.calibration.quality import quality_gate
from gazescope.calibration.session import CalibrationResult, CalibrationSession
from gazescope.calibration.targets import (
    ALL_LAYOUTS,
    LAYOUT_NAMES,
    PURSUIT_DURATION_MS,
    PURSUIT_RATE_HZ,
    PURSUIT_VALIDATION_EVERY,
    TargetLayout,
    grid_layout,
    pursuit_layout,
)
from gazescope.config import CalibrationSettings
from gazescope.domain import FrameFeatures, GazeSample, SessionInfo
from gazescope.errors import (
    CalibrationError,
    FitStoppedError,
    GazescopeError,
    NotEnoughDataError,
    ProfileNotFoundError,
    StorageError,
    ValidationError,
)

T = TypeVar("T")

#: Most samples kept for one drift check (the newest win); for appearance mappers the frames themselves
#: are kept (in memory only, dropped when the check ends), at most :data:`DRIFT_MAX_FRAMES`.
DRIFT_MAX_SAMPLES = 90
DRIFT_MAX_FRAMES = 30
#: Most ``calibration_target`` announcements waiting for their first frame; more are ``invalid_request``.
MAX_PENDING_TARGETS = 256


class StoredProfile(Protocol):
    """A stored profile (:class:`gazescope.storage.profiles.ProfileDocument`)."""

    id: str
    accepted: bool

    def calibration(self) -> FittedCalibration: ...


class Profiles(Protocol):
    """Where profiles and calibration records are kept (:class:`gazescope.storage.profiles.ProfileRepository`);
    synchronous, called in the host's I/O pool."""

    def save(
        self, cal: FittedCalibration, *, source_session_id: str | None = None, accepted: bool = True
    ) -> StoredProfile: ...

    def get(self, profile_id: str) -> StoredProfile: ...

    def accept(self, profile_id: str) -> StoredProfile: ...

    def latest(
        self, user_id: str, screen_w_px: int | None = None, screen_h_px: int | None = None
    ) -> StoredProfile: ...

    def record(
        self, session_id: str, kind: Literal["calibration", "applied", "drift"], **fields: Any
    ) -> Any: ...


class CalibrationHost(Protocol):
    """What the controller needs of its tracking stream (the API adapts a tracking connection to it)."""

    session_id: str
    session: SessionInfo

    @property
    def settings(self) -> CalibrationSettings: ...

    @property
    def next_frame_index(self) -> int:
        """The ``frame_index`` the next frame received will get."""
        ...

    @property
    def ending(self) -> bool:
        """True once the stream is ending or its session was deleted."""
        ...

    def set_calibration(self, calibration: FittedCalibration | None) -> None: ...

    def update_session(self, **fields: Any) -> SessionInfo:
        """Store changed session fields (blocking: called in the I/O pool); returns the session as stored."""
        ...

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    def reserve_fit(self) -> bool:
        """Take a fit slot; False (and the refusal counted) when all are taken."""
        ...

    def release_fit(self) -> None: ...

    async def fit(self, fn: Callable[..., T], *args: Any, cancel: threading.Event, **kwargs: Any) -> T:
        """Run a fit in the fit pool under the reserved slot, which it gives back when its thread is done."""
        ...

    async def send(self, reply: Reply) -> None: ...

    def event(self, name: str, **fields: Any) -> None:
        """Log an event of this stream."""
        ...


@dataclass
class _Pending:
    boundary: int  # first frame index it applies to
    target: int | tuple[float, float]
    validation: bool
    label: int | None  # index the client used (pursuit path index), reported back in progress


@dataclass
class _Drift:
    target_px: tuple[float, float]
    boundary: int
    settle_ms: float
    t0_ms: float | None = None
    features: deque[FrameFeatures] = field(default_factory=lambda: deque(maxlen=DRIFT_MAX_SAMPLES))
    images: deque[Any] | None = None
    skipped: int = 0


@dataclass
class _FitSlot:
    handed: bool = False  # True once host.fit owns the reserved slot (it gives it back), else finish does


@dataclass
class _Running:
    """The running calibration: its session and how the client's indices map onto it."""

    session: CalibrationSession
    calibration_id: str
    layout_name: str
    save: bool
    needed: int
    pursuit_to_session: tuple[int, ...] | None = None
    session_to_label: dict[int, int] = field(default_factory=dict)
    pending: deque[_Pending] = field(default_factory=deque)
    current: int | None = None
    counts: dict[int, int] = field(default_factory=dict)
    finishing: bool = False

    def label(self, idx: int) -> int:
        return self.session_to_label.get(idx, idx)

    def progress(self, idx: int) -> CalibrationProgress:
        k = self.counts.get(idx, 0)
        x, y = self.session.targets_px[idx]
        return CalibrationProgress(
            calibration_id=self.calibration_id,
            index=self.label(idx),
            x_px=round(x, 2),
            y_px=round(y, 2),
            samples=k,
            needed=self.needed,
            done=k >= self.needed,
        )


class CalibrationController:
    """Calibration, applied profile and drift check of one tracking stream.

    :meth:`observe` runs in the frame worker thread, everything else on the event loop; the state both
    touch is guarded by a lock. While a fit runs, frames are not offered to the calibration. A
    ``calibration_target`` takes effect from the first frame received after it (``frame_index >=
    next_frame_index`` when it arrived): frames on their way were captured under the previous target.
    """

    def __init__(self, host: CalibrationHost, profiles: Profiles) -> None:
        self.host = host
        self.profiles = profiles
        self._lock = threading.Lock()
        self._running: _Running | None = None
        self._finish_task: asyncio.Task[None] | None = None
        self._fit_cancel: threading.Event | None = None
        self._drift: _Drift | None = None
        self.applied: FittedCalibration | None = None
        self.applied_profile_id: str | None = None
        self.last_saved_profile_id: str | None = None  # of the last calibration_result, for calibration_keep

    # -- dispatch ------------------------------------------------------------------------------------
    async def handle(self, message_type: str, body: dict[str, Any]) -> Reply | None:
        """Handle one client message of :data:`MESSAGE_TYPES`; returns the reply to send, if any (a fit's
        result is sent through the host later).

        Raises:
            GazescopeError: the refusal to answer as an ``error`` (its ``code``); the stream goes on.
        """
        model, method = _HANDLERS[message_type]
        return await method(self, parse_message(model, body))

    # -- frames (worker thread) ----------------------------------------------------------------------
    @property
    def collecting(self) -> bool:
        """True while a calibration or a drift check takes frames (appearance mappers read their pixels)."""
        return self._running is not None or self._drift is not None

    def observe(self, ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> list[Reply]:
        """Offer a processed frame to the running calibration and drift check; returns the replies to
        send (progress, or an error for a target the session refused). ``image_rgb`` is used only by
        appearance mappers, in memory."""
        out: list[Reply] = []
        with self._lock:
            run = self._running
            if run is not None and not run.finishing:
                self._calibration_frame(run, ff, sample, image_rgb, out)
            if self._drift is not None:
                self._drift_frame(self._drift, ff, sample, image_rgb)
        return out

    @staticmethod
    def _calibration_frame(
        run: _Running, ff: FrameFeatures, sample: GazeSample, image_rgb: Any, out: list
    ) -> None:
        s = run.session
        while run.pending and run.pending[0].boundary <= sample.frame_index:
            p = run.pending.popleft()
            try:
                idx = s.target_shown(p.target, sample.t_ms, validation=p.validation)
            except GazescopeError as exc:
                out.append(ErrorReply(code=exc.code, message=exc.message))
                continue
            if p.label is not None:
                run.session_to_label.setdefault(idx, p.label)
            if idx != run.current:
                run.current = idx
                if run.pursuit_to_session is None:
                    out.append(run.progress(idx))
        kept = s.add(ff, sample.t_ms, is_blinking=bool(sample.is_blinking), image_rgb=image_rgb)
        if kept and run.current is not None:
            k = run.counts[run.current] = run.counts.get(run.current, 0) + 1
            if k <= run.needed:
                out.append(run.progress(run.current))

    @staticmethod
    def _drift_frame(d: _Drift, ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> None:
        if sample.frame_index < d.boundary:
            return
        if d.t0_ms is None:
            d.t0_ms = sample.t_ms
        if sample.t_ms - d.t0_ms < d.settle_ms or sample.is_blinking or not ff.face_detected:
            d.skipped += 1
            return
        d.features.append(ff)
        if d.images is not None:
            d.images.append(image_rgb)

    # -- calibration ---------------------------------------------------------------------------------
    def _require(self) -> _Running:
        if self._running is None:
            raise CalibrationError(
                "no calibration is running; send calibration_start first", code="no_calibration"
            )
        return self._running

    def _busy(self) -> bool:
        return self._running is not None and self._running.finishing

    def clear(self) -> None:
        """Drop the running calibration (the applied one stays)."""
        with self._lock:
            self._running = None

    async def start(self, msg: CalibrationStart) -> CalibrationStarted:
        """``calibration_start``: open a calibration (replacing a running one).

        Raises:
            ValidationError: no screen size (none in the message or the session), bad ``mapper_params``.
            UnknownMapperError: ``mapper`` is not registered. CalibrationError: a fit is running
                (``calibration_busy``).
        """
        host, s = self.host, self.host.settings
        w = msg.screen_w_px if msg.screen_w_px is not None else host.session.screen_w_px
        h = msg.screen_h_px if msg.screen_h_px is not None else host.session.screen_h_px
        if w is None or h is None:
            raise ValidationError("calibration_start needs screen_w_px and screen_h_px (the viewport size)")
        if not (0 < w <= MAX_SCREEN_PX and 0 < h <= MAX_SCREEN_PX):  # a session's size is not bounded
            raise ValidationError(f"screen_w_px and screen_h_px must be within 1..{MAX_SCREEN_PX}")
        mapper = msg.mapper or s.default_mapper
        params, clamped = bound_mapper_params(
            mapper, msg.mapper_params, s.calibration_max_epochs, s.calibration_max_time_budget_s
        )
        user_id = msg.user_id if msg.user_id is not None else host.session.user_id
        save = msg.save if msg.save is not None else user_id is not None
        settle_ms = msg.settle_ms if msg.settle_ms is not None else s.calibration_settle_ms
        needed = msg.samples_per_target or (
            1 if msg.layout == "pursuit" else s.calibration_samples_per_target
        )
        layout, to_session, points = _layout_targets(msg, w, h)

        def build() -> CalibrationSession:
            try:
                return CalibrationSession(
                    layout,
                    w,
                    h,
                    mapper,
                    settle_ms,
                    mapper_params=params,
                    min_samples_per_point=needed,
                    user_id=user_id,
                )
            except TypeError as exc:  # unknown mapper parameter
                raise ValidationError(f"bad mapper_params for {mapper!r}: {exc}") from None

        busy = CalibrationError("a calibration is being fitted; wait for its result", code="calibration_busy")
        if self._busy():
            raise busy
        cs = await host.cpu(build)
        if self._busy():
            raise busy
        cal_id = uuid.uuid4().hex[:12]
        run = _Running(cs, cal_id, msg.layout, save, needed, to_session)
        if to_session is not None:
            run.session_to_label = {k: i for i, k in enumerate(to_session)}
        with self._lock:
            self._running = run
        host.event(
            "calibration_started",
            calibration_id=cal_id,
            layout=msg.layout,
            mapper=mapper,
            screen_w_px=w,
            screen_h_px=h,
        )
        return CalibrationStarted(
            calibration_id=cal_id,
            layout=msg.layout,
            mapper=mapper,
            screen_w_px=w,
            screen_h_px=h,
            settle_ms=settle_ms,
            samples_per_target=needed,
            user_id=user_id,
            save=save,
            mapper_params=params,
            clamped=clamped or None,
            targets=points,
        )

    async def target(self, msg: CalibrationTarget) -> None:
        """``calibration_target``: the client shows a target from the next frame on.

        Raises:
            CalibrationError: nothing running (``no_calibration``). ValidationError: an index out of range,
                a point off the screen, neither given, or :data:`MAX_PENDING_TARGETS` waiting already.
        """
        with self._lock:
            run = self._require()
            cs = run.session
            label: int | None = None
            target: int | tuple[float, float]
            if msg.index is not None:
                index = msg.index
                n = len(run.pursuit_to_session) if run.pursuit_to_session is not None else len(cs.targets_px)
                if not 0 <= index < n:
                    raise ValidationError(f"target index {index} out of range 0..{n - 1}")
                if run.pursuit_to_session is not None:
                    label, target = index, run.pursuit_to_session[index]
                else:
                    target = index
            else:
                x, y = msg.x_px, msg.y_px
                if x is None or y is None:
                    raise ValidationError("calibration_target needs an index or x_px and y_px")
                if not (0 <= x <= cs.screen_w_px and 0 <= y <= cs.screen_h_px):
                    raise ValidationError(
                        f"target ({x:g}, {y:g}) lies off the {cs.screen_w_px}x{cs.screen_h_px} screen"
                    )
                target = (x, y)
            if len(run.pending) >= MAX_PENDING_TARGETS:
                raise ValidationError(
                    f"too many targets announced before a frame showed them (at most {MAX_PENDING_TARGETS}): "
                    "send frames while showing targets"
                )
            run.pending.append(_Pending(self.host.next_frame_index, target, msg.validation, label))
        return None

    async def finish(self, _msg: Empty | None = None) -> None:
        """``calibration_finish``: fit and validate as a task (the stream goes on receiving); its
        ``calibration_result``, or the error (``not_enough_data``, ``calibration_timeout``: the calibration
        stays open), is sent through the host.

        Raises:
            CalibrationError: nothing running (``no_calibration``), a fit running (``calibration_busy``),
                every fit slot taken (``server_busy``).
        """
        host = self.host
        with self._lock:
            run = self._require()
            if run.finishing:
                raise CalibrationError("this calibration is being fitted already", code="calibration_busy")
            if not host.reserve_fit():
                n = host.settings.calibration_fit_threads
                raise CalibrationError(
                    f"the server is fitting {n} calibration{'s' if n != 1 else ''} already, the most it runs at "
                    "once (GAZESCOPE_CALIBRATION_FIT_THREADS); the calibration stays open: send "
                    "calibration_finish again in a few seconds",
                    code="server_busy",
                )
            run.finishing = True
        cancel = threading.Event()
        self._fit_cancel = cancel
        slot = _FitSlot()
        task = asyncio.create_task(
            self._run_finish(run, cancel, slot), name=f"gs-calfit-{run.calibration_id}"
        )
        self._finish_task = task

        def _done(_t: asyncio.Task[None]) -> None:
            if not slot.handed:
                host.release_fit()

        task.add_done_callback(_done)

    async def _run_finish(self, run: _Running, cancel: threading.Event, slot: _FitSlot) -> None:
        host = self.host
        try:
            await self._finish(run, cancel, slot)
        except FitStoppedError as exc:
            if cancel.is_set():  # the client left or the session was deleted: nobody to tell
                host.event("calibration_fit_stopped", calibration_id=run.calibration_id)
                return
            limit = host.settings.calibration_fit_timeout_s
            host.event("calibration_fit_timeout", calibration_id=run.calibration_id, limit_s=limit)
            await host.send(
                ErrorReply(
                    code="calibration_timeout",
                    message=f"the fit ran past GAZESCOPE_CALIBRATION_FIT_TIMEOUT_S = {limit:g} s and was stopped "
                    f"({exc.message}); the calibration stays open: finish again with a smaller time_budget_s "
                    "or epochs, or a layout with validation targets (no leave-one-out refits)",
                )
            )
        except GazescopeError as exc:
            await host.send(ErrorReply(code=exc.code, message=exc.message))
        except Exception:
            host.event("calibration_fit_failed", exc_info=True)
            await host.send(ErrorReply(code="internal_error", message="fitting the calibration failed"))
        finally:
            self._finish_task = None

    async def _finish(self, run: _Running, cancel: threading.Event, slot: _FitSlot) -> None:
        host = self.host
        cs, cal_id = run.session, run.calibration_id
        deadline = time.monotonic() + host.settings.calibration_fit_timeout_s

        def should_stop() -> bool:
            return cancel.is_set() or time.monotonic() > deadline

        slot.handed = True  # host.fit gives the slot back when its thread is done
        try:
            result = await host.fit(cs.finish, should_stop, cancel=cancel)
        except BaseException:  # not enough data, a failed fit, or cancellation: the calibration stays open
            with self._lock:
                run.finishing = False
            raise
        fitted = replace(result.calibration, profile_id=cal_id)
        fitted, pooled = await self._pool_with_history(fitted, cs.mapper_params)
        if host.ending:  # nobody to tell and no session to record it on
            self._clear_if(run)
            host.event("calibration_fit_dropped", calibration_id=cal_id)
            return
        with self._lock:
            points = _point_rows(run, result)
        self._clear_if(run)
        gate = quality_gate(result.mean_error_pct_width, host.settings.calibration_max_error_pct_width)
        profile_id: str | None = None
        save_error: str | None = None
        if run.save:
            try:
                await self._store_write(
                    self.profiles.save, fitted, source_session_id=host.session_id, accepted=gate.passed
                )
                profile_id = fitted.profile_id
            except (StorageError, ValidationError) as exc:
                save_error = exc.message
        self.last_saved_profile_id = profile_id
        await self._apply(fitted, profile_id)  # this stream uses it either way; the gate is about reuse
        accuracy = {k: v for k, v in result.accuracy_dict().items() if k != "grade"} | pooled
        reply = CalibrationResultOut(
            calibration_id=cal_id,
            profile_id=profile_id,
            user_id=fitted.user_id,
            mapper=fitted.mapper_name,
            layout=run.layout_name,
            screen_w_px=fitted.screen_w_px,
            screen_h_px=fitted.screen_h_px,
            accuracy=accuracy,
            grade=result.grade,
            points=points,
            counts=dict(result.counts),
            quality=QualityOut(**gate.to_dict()),
            accepted=gate.passed,
            save_error=save_error,
        )
        host.event(
            "calibration_finished",
            calibration_id=cal_id,
            mapper=fitted.mapper_name,
            mean_error_px=accuracy["mean_error_px"],
            grade=result.grade,
            saved=profile_id is not None,
            passed=gate.passed,
        )
        await self._record("calibration", **reply.model_dump(exclude={"type", "counts", "save_error"}))
        await host.send(reply)

    def _clear_if(self, run: _Running) -> None:
        with self._lock:
            if self._running is run:
                self._running = None

    async def _pool_with_history(
        self, fitted: FittedCalibration, mapper_params: dict[str, Any]
    ) -> tuple[FittedCalibration, dict[str, Any]]:
        """``fitted`` pooled with its user's earlier sittings on the same screen size
        (:func:`~gazescope.calibration.history.pooled_calibration`, ``Settings.calibration_profile_*``),
        and the accuracy fields to add (``n_sittings``, ``alone_loo_px``, ``pooled_loo_px``). Unchanged
        (and ``{}``) without a user, kept rows (appearance mappers) or enough rows; a store failure is
        logged, never fatal."""
        host, s = self.host, self.host.settings
        if fitted.user_id is None or not fitted.sittings or fitted.mapper.needs_patches:
            return fitted, {}
        history: tuple = ()
        try:
            doc = await host.io(self.profiles.latest, fitted.user_id, fitted.screen_w_px, fitted.screen_h_px)
            prev = await host.cpu(doc.calibration)
            if prev.mapper_name == fitted.mapper_name:
                history = prev.sittings
        except ProfileNotFoundError:
            pass
        except GazescopeError as exc:  # an unreadable old profile must not cost the new calibration
            host.event("profile_history_unreadable", error=exc.message)
        try:
            pf = await host.cpu(
                pooled_calibration,
                fitted.mapper_name,
                mapper_params,
                fitted.sittings[-1],
                history,
                s.calibration_profile_newest_weight,
                s.calibration_profile_max_sittings,
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

    async def cancel(self, _msg: Empty | None = None) -> CalibrationCancelled:
        """``calibration_cancel``: drop a running calibration (the applied one stays).

        Raises:
            CalibrationError: a fit is running (``calibration_busy``).
        """
        with self._lock:
            run = self._running
            if run is not None and run.finishing:
                raise CalibrationError(
                    "this calibration is being fitted; it cannot be cancelled now", code="calibration_busy"
                )
            self._running = None
        return CalibrationCancelled(calibration_id=None if run is None else run.calibration_id)

    # -- profiles ------------------------------------------------------------------------------------
    async def keep(self, msg: CalibrationKeep) -> CalibrationKept:
        """``calibration_keep``: accept a profile that failed the quality gate (``profile_id``, or the one
        this stream's last ``calibration_result`` saved), so later sessions and sittings reuse it.

        Raises:
            CalibrationError: no ``profile_id`` and no saved calibration on this stream
                (``no_calibration``). ProfileNotFoundError: no such profile.
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
        """Apply a stored profile, record it on the session and in its records; returns the
        ``calibration_applied`` reply (with a ``warning`` when the screen sizes differ).

        Raises:
            CalibrationError: the stored profile cannot be read.
        """
        host = self.host
        cal = await host.cpu(doc.calibration)
        await self._apply(cal, cal.profile_id)
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
        await self._record("applied", **fields)
        host.event("calibration_applied", profile_id=cal.profile_id, source=source)
        return CalibrationApplied(**fields, warning=warning)

    async def _apply(self, cal: FittedCalibration, profile_id: str | None) -> None:
        """Map samples with ``cal`` and record the profile id on the session (not once the stream ends)."""
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

    # -- drift ---------------------------------------------------------------------------------------
    async def drift_start(self, msg: DriftStart) -> DriftStarted:
        """``drift_start``: collect frames for a drift check at one point.

        Raises:
            CalibrationError: nothing applied (``not_calibrated``). ValidationError: off the screen.
        """
        x, y = msg.x_px, msg.y_px
        assert x is not None and y is not None
        settle = msg.settle_ms if msg.settle_ms is not None else self.host.settings.calibration_settle_ms
        with self._lock:
            cal = self.applied
            if cal is None:
                raise CalibrationError(
                    "no calibration is applied: calibrate or send calibration_use first",
                    code="not_calibrated",
                )
            if not (0 <= x <= cal.screen_w_px and 0 <= y <= cal.screen_h_px):
                raise ValidationError(
                    f"({x:g}, {y:g}) lies off the {cal.screen_w_px}x{cal.screen_h_px} screen"
                )
            d = _Drift((x, y), self.host.next_frame_index, max(0.0, settle))
            if cal.mapper.needs_patches:
                d.images = deque(maxlen=DRIFT_MAX_FRAMES)
                d.features = deque(maxlen=DRIFT_MAX_FRAMES)
            self._drift = d
        return DriftStarted(x_px=x, y_px=y, settle_ms=settle)

    async def drift_finish(self, _msg: Empty | None = None) -> DriftResult:
        """``drift_finish``: score the collected frames (:func:`~gazescope.calibration.drift.check_drift`).

        Raises:
            CalibrationError: no check running (``no_drift_check``). NotEnoughDataError: no usable frame
                yet (the check goes on collecting).
        """
        with self._lock:
            d, cal = self._drift, self.applied
            if d is None or cal is None:
                raise CalibrationError(
                    "no drift check is running; send drift_start first", code="no_drift_check"
                )
            self._drift = None
            feats = list(d.features)
            images = list(d.images) if d.images is not None else None
        try:
            check = await self.host.cpu(check_drift, cal, feats, d.target_px, images)
        except NotEnoughDataError:
            with self._lock:
                if self._drift is None:
                    self._drift = d  # keep collecting
            raise
        out = check.to_dict()
        await self._record("drift", profile_id=self.applied_profile_id, **out)
        return DriftResult(profile_id=self.applied_profile_id, **out)

    # -- lifecycle -----------------------------------------------------------------------------------
    async def close(self) -> None:
        """The stream ends: cancel a fit still running and wait for it to unwind (a store write it had
        begun completes first), then drop the collected samples."""
        task = self._finish_task
        if task is not None and not task.done():
            if self._fit_cancel is not None:
                self._fit_cancel.set()  # the training loop stops at its next check
            task.cancel()
            await asyncio.wait([task])
            self.host.event("calibration_fit_cancelled")
        with self._lock:
            self._running = None
            self._drift = None

    async def _store_write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store write in the I/O pool; when cancelled (the stream ending) it waits for the write in the
        thread to finish first, so the stream's end comes after every write begun here."""
        fut = asyncio.ensure_future(self.host.io(fn, *args, **kwargs))
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            await asyncio.wait([fut])
            raise

    async def _record(self, kind: Literal["calibration", "applied", "drift"], **fields: Any) -> None:
        """Record a calibration, applied profile or drift check with the session; a store failure is
        logged, never fatal. Skipped once the stream is ending (it would outlive a deleted session)."""
        host = self.host
        if host.ending:
            host.event("calibration_record_skipped", kind=kind)
            return
        try:
            await self._store_write(self.profiles.record, host.session_id, kind, **fields)
        except GazescopeError as exc:
            host.event("calibration_record_failed", error=exc.message)


def _layout_targets(
    msg: CalibrationStart, w: int, h: int
) -> tuple[TargetLayout, tuple[int, ...] | None, list[TargetOut]]:
    """(the session's layout, path index -> layout index for ``pursuit``, the targets to show in px)."""
    if msg.layout == "pursuit":
        path = pursuit_layout(
            msg.duration_ms or PURSUIT_DURATION_MS, msg.rate_hz or PURSUIT_RATE_HZ, msg.margin_norm
        )
        return path.layout, path.to_layout, [
            TargetOut(index=p.index, t_ms=p.t_ms, x_norm=p.x_norm, y_norm=p.y_norm, validation=p.validation,
                      x_px=round(p.x_norm * w, 2), y_px=round(p.y_norm * h, 2))
            for p in path.points
        ]  # fmt: skip
    layout = grid_layout(msg.layout, msg.margin_norm)
    return layout, None, [
        TargetOut(index=i, x_norm=x, y_norm=y, validation=layout.is_validation(i),
                  x_px=round(x * w, 2), y_px=round(y * h, 2))
        for i, (x, y) in enumerate(layout.all_norm)
    ]  # fmt: skip


def _point_rows(run: _Running, result: CalibrationResult) -> list[PointOut]:
    where = {tuple(p): i for i, p in enumerate(run.session.targets_px)}
    rows = []
    for p in result.points:
        idx = where.get(tuple(p.target_px))
        rows.append(
            PointOut(
                index=None if idx is None else run.label(idx),
                target_px=[round(v, 2) for v in p.target_px],
                mean_px=[round(v, 2) for v in p.estimate_px],
                error_px=round(p.error_px, 2),
                samples=p.n_samples,
                validation=p.validation,
            )
        )
    return rows


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


_Handler = Callable[[CalibrationController, Any], Awaitable[Reply | None]]
_HANDLERS: dict[str, tuple[type[BaseModel], _Handler]] = {
    "calibration_start": (CalibrationStart, CalibrationController.start),
    "calibration_target": (CalibrationTarget, CalibrationController.target),
    "calibration_finish": (Empty, CalibrationController.finish),
    "calibration_cancel": (Empty, CalibrationController.cancel),
    "calibration_use": (CalibrationUse, CalibrationController.use),
    "calibration_keep": (CalibrationKeep, CalibrationController.keep),
    "drift_start": (DriftStart, CalibrationController.drift_start),
    "drift_finish": (Empty, CalibrationController.drift_finish),
}
#: The client message types :meth:`CalibrationController.handle` understands.
MESSAGE_TYPES: tuple[str, ...] = tuple(_HANDLERS)


class LayoutsInfo(BaseModel):
    """What ``GET /api/calibration/layouts`` returns (see :func:`layouts_info`)."""

    layouts: list[dict[str, Any]]
    pursuit: dict[str, Any]
    layout_names: list[str]
    default_layout: str
    mappers: list[str]
    default_mapper: str
    settle_ms: float
    samples_per_target: int


def layouts_info(settings: CalibrationSettings) -> LayoutsInfo:
    """The grid layouts (normalised points, counts), the pursuit path parameters, the registered mappers
    and the defaults of ``settings``."""
    grids = []
    for name in LAYOUT_NAMES:
        lay = grid_layout(name)
        grids.append(
            {**lay.to_dict(), "n_points": len(lay.points_norm), "n_validation": len(lay.validation_norm)}
        )
    return LayoutsInfo(
        layouts=grids,
        pursuit={
            "name": "pursuit",
            "duration_ms": PURSUIT_DURATION_MS,
            "rate_hz": PURSUIT_RATE_HZ,
            "validation_every": PURSUIT_VALIDATION_EVERY,
            "samples_per_target": 1,
        },
        layout_names=list(ALL_LAYOUTS),
        default_layout="9",
        mappers=available_mappers(),
        default_mapper=settings.default_mapper,
        settle_ms=settings.calibration_settle_ms,
        samples_per_target=settings.calibration_samples_per_target,
    )
