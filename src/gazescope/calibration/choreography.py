"""The choreography of one stream's calibration: the targets shown and the samples collected for them
(``calibration_start``, ``calibration_target``, ``calibration_cancel``; ``docs/protocol.md``).

As Pupil separates ``calibration_choreography`` (what is shown, what is collected) from ``gaze_mapping``
(the fit), :class:`Choreography` opens a :class:`~gazescope.calibration.session.CalibrationSession`, maps
the client's target indices onto it, and offers it each processed frame; fitting it is
:mod:`gazescope.calibration.fitting`'s job.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gazescope.calibration.host import CalibrationHost
from gazescope.calibration.mappers import available_mappers, mapper_needs_patches
from gazescope.calibration.messages import (
    CalibrationCancelled,
    CalibrationProgress,
    CalibrationStart,
    CalibrationStarted,
    CalibrationTarget,
    ErrorReply,
    PointOut,
    Reply,
    TargetOut,
    bound_mapper_params,
)
from gazescope.calibration.profile import MAX_SCREEN_PX
from gazescope.calibration.session import CalibrationResult, CalibrationSession
from gazescope.calibration.targets import (
    PURSUIT_DURATION_MS,
    PURSUIT_RATE_HZ,
    TargetLayout,
    grid_layout,
    pursuit_layout,
)
from gazescope.domain import FrameFeatures, GazeSample
from gazescope.errors import CalibrationError, GazescopeError, ValidationError

#: Most ``calibration_target`` announcements waiting for their first frame; more are ``invalid_request``.
MAX_PENDING_TARGETS = 256


@dataclass
class _Pending:
    boundary: int  # first frame index it applies to
    target: int | tuple[float, float]
    validation: bool
    label: int | None  # index the client used (pursuit path index), reported back in progress


@dataclass
class RunningCalibration:
    """The running calibration: its session and how the client's indices map onto it.

    Attributes:
        session: the calibration's state machine (targets in px, samples kept).
        calibration_id: 12 hex characters, also the profile id of its fit.
        layout_name: the ``layout`` of ``calibration_start`` (a grid name or ``pursuit``).
        save: whether its fit is saved as a profile.
        needed: usable samples per target before its progress says ``done`` (>= 1).
        pursuit_to_session: pursuit path index -> session target index (None for a grid).
        session_to_label: session target index -> the index the client used.
        pending: announced targets waiting for their first frame (at most :data:`MAX_PENDING_TARGETS`).
        current: the session target index shown now, None before the first.
        counts: usable samples kept per session target index.
        finishing: True while its fit runs (frames are not offered then).
    """

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
        """The client's index of session target ``idx``."""
        return self.session_to_label.get(idx, idx)

    def progress(self, idx: int) -> CalibrationProgress:
        """The ``calibration_progress`` of session target ``idx`` (its point in px, samples kept)."""
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


class Choreography:
    """The running calibration of one stream: the targets it shows and the samples it collects.

    :meth:`observe` runs in the frame worker thread, everything else on the event loop; the running
    calibration both touch is guarded by a lock. A ``calibration_target`` takes effect from the first
    frame received after it (``frame_index >= next_frame_index`` when it arrived): frames on their way were
    captured under the previous target.
    """

    def __init__(self, host: CalibrationHost) -> None:
        self.host = host
        self._lock = threading.Lock()
        self._running: RunningCalibration | None = None

    @property
    def running(self) -> RunningCalibration | None:
        """The running calibration, None without."""
        return self._running

    def require(self) -> RunningCalibration:
        """The running calibration.

        Raises:
            CalibrationError: none is running (``no_calibration``).
        """
        if self._running is None:
            raise CalibrationError(
                "no calibration is running; send calibration_start first", code="no_calibration"
            )
        return self._running

    def busy(self) -> bool:
        """True while the running calibration is being fitted."""
        return self._running is not None and self._running.finishing

    def clear(self) -> None:
        """Drop the running calibration (the applied one stays)."""
        with self._lock:
            self._running = None

    def clear_if(self, run: RunningCalibration) -> None:
        """Drop ``run`` if it is still the running calibration (a newer one stays)."""
        with self._lock:
            if self._running is run:
                self._running = None

    async def start(self, msg: CalibrationStart) -> CalibrationStarted:
        """``calibration_start``: open a calibration (replacing a running one).

        Args:
            msg: the parsed message; a missing screen size, mapper, user, settle time or samples per
                target is taken from the session or ``Settings.calibration_*``.

        Returns:
            The ``calibration_started`` reply, with the targets to show (normalised and in px).

        Raises:
            ValidationError: no screen size (none in the message or the session), a side outside
                1..:data:`~gazescope.calibration.profile.MAX_SCREEN_PX` px, bad ``mapper_params``.
            UnknownMapperError: ``mapper`` is not registered.
            CalibrationError: a fit is running (``calibration_busy``); the stream sends landmarks and the
                mapper reads eye pixels (``mapper_needs_frames``).
        """
        host, s = self.host, self.host.settings
        w = msg.screen_w_px if msg.screen_w_px is not None else host.session.screen_w_px
        h = msg.screen_h_px if msg.screen_h_px is not None else host.session.screen_h_px
        if w is None or h is None:
            raise ValidationError("calibration_start needs screen_w_px and screen_h_px (the viewport size)")
        if not (0 < w <= MAX_SCREEN_PX and 0 < h <= MAX_SCREEN_PX):  # a session's size is not bounded
            raise ValidationError(f"screen_w_px and screen_h_px must be within 1..{MAX_SCREEN_PX}")
        mapper = msg.mapper or s.default_mapper
        if host.landmarks_only and mapper_needs_patches(mapper):
            usable = [m for m in available_mappers() if not mapper_needs_patches(m)]
            raise CalibrationError(
                f"mapper {mapper!r} reads eye pixels, which landmarks messages do not carry; send frames, "
                f"or calibrate with a landmark mapper ({', '.join(usable)})",
                code="mapper_needs_frames",
            )
        params, clamped = bound_mapper_params(
            mapper, msg.mapper_params, s.calibration_max_epochs, s.calibration_max_time_budget_s
        )
        user_id = msg.user_id if msg.user_id is not None else host.session.user_id
        save = msg.save if msg.save is not None else user_id is not None
        settle_ms = msg.settle_ms if msg.settle_ms is not None else s.calibration_settle_ms
        needed = msg.samples_per_target or (
            1 if msg.layout == "pursuit" else s.calibration_samples_per_target
        )
        layout, to_session, points = layout_targets(msg, w, h)

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
        if self.busy():
            raise busy
        cs = await host.cpu(build)
        if self.busy():
            raise busy
        cal_id = uuid.uuid4().hex[:12]
        run = RunningCalibration(cs, cal_id, msg.layout, save, needed, to_session)
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

        Args:
            msg: the target as an ``index`` (of the grid, or of the pursuit path) or a point
                (``x_px``, ``y_px``) on the calibration's screen.

        Raises:
            CalibrationError: nothing running (``no_calibration``).
            ValidationError: an index out of range, a point off the screen, neither given, or
                :data:`MAX_PENDING_TARGETS` waiting already.
        """
        with self._lock:
            run = self.require()
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

    async def cancel(self) -> CalibrationCancelled:
        """``calibration_cancel``: drop a running calibration (the applied one stays).

        Returns:
            The ``calibration_cancelled`` reply (its ``calibration_id`` None when nothing was running).

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

    def begin_fit(self, reserve: Callable[[], None]) -> RunningCalibration:
        """Mark the running calibration as being fitted once ``reserve`` (which takes a fit slot or raises)
        returned; frames are not offered to it from then on.

        Raises:
            CalibrationError: nothing running (``no_calibration``), a fit running (``calibration_busy``),
                or what ``reserve`` raises.
        """
        with self._lock:
            run = self.require()
            if run.finishing:
                raise CalibrationError("this calibration is being fitted already", code="calibration_busy")
            reserve()
            run.finishing = True
        return run

    def fit_failed(self, run: RunningCalibration) -> None:
        """``run``'s fit failed or was stopped: it stays open and takes frames again."""
        with self._lock:
            run.finishing = False

    def point_rows(self, run: RunningCalibration, result: CalibrationResult) -> list[PointOut]:
        """The per-point rows of ``run``'s fit ``result`` (the client's indices; px rounded to 0.01)."""
        with self._lock:
            where = {tuple(p): i for i, p in enumerate(run.session.targets_px)}
            return [
                PointOut(
                    index=None if (idx := where.get(tuple(p.target_px))) is None else run.label(idx),
                    target_px=[round(v, 2) for v in p.target_px],
                    mean_px=[round(v, 2) for v in p.estimate_px],
                    error_px=round(p.error_px, 2),
                    samples=p.n_samples,
                    validation=p.validation,
                )
                for p in result.points
            ]

    # -- frames (worker thread) ----------------------------------------------------------------------
    def observe(self, ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> list[Reply]:
        """Offer a processed frame to the running calibration (not while it is fitted).

        Args:
            ff: the frame's Face Mesh features.
            sample: the frame's sample (``frame_index``, ``t_ms``, ``is_blinking``).
            image_rgb: the frame (H, W, 3) uint8 RGB, read by appearance mappers only, in memory.

        Returns:
            The replies to send: ``calibration_progress`` when a target is first shown and for each usable
            sample up to ``needed``, an ``error`` for a target the session refused.
        """
        out: list[Reply] = []
        with self._lock:
            run = self._running
            if run is not None and not run.finishing:
                _calibration_frame(run, ff, sample, image_rgb, out)
        return out


def _calibration_frame(
    run: RunningCalibration, ff: FrameFeatures, sample: GazeSample, image_rgb: Any, out: list[Reply]
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


def layout_targets(
    msg: CalibrationStart, w: int, h: int
) -> tuple[TargetLayout, tuple[int, ...] | None, list[TargetOut]]:
    """The targets of ``calibration_start`` on a ``w`` x ``h`` px screen.

    Returns:
        (the session's layout, path index -> layout index for ``pursuit`` else None, the targets to show
        with their normalised and px positions).
    """
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
