"""Fitting one stream's calibration and its scheduling (``calibration_finish``; ``docs/protocol.md``).

:class:`Fitting` takes a fit slot of the host and runs
:meth:`~gazescope.calibration.session.CalibrationSession.finish` in the host's fit pool as a task (the
stream goes on receiving), under ``Settings.calibration_fit_timeout_s`` and a cancel flag. It then pools the
fit with the user's earlier sittings, gates it on its validated error, has the stream's profiles save, apply
and record it, and sends the ``calibration_result`` (or the error) through the host. Closing the stream
cancels a fit nobody will use.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, replace

from gazescope.calibration.choreography import Choreography, RunningCalibration
from gazescope.calibration.host import CalibrationHost
from gazescope.calibration.messages import CalibrationResultOut, ErrorReply, QualityOut
from gazescope.calibration.profiles import StreamProfiles
from gazescope.calibration.quality import quality_gate
from gazescope.errors import CalibrationError, FitStoppedError, GazescopeError


@dataclass
class _FitSlot:
    handed: bool = False  # True once host.fit owns the reserved slot (it gives it back), else finish does


class Fitting:
    """The fit of one stream's running calibration: at most one at a time, cancelled when the stream ends.

    Args:
        host: the stream (fit slots and pool, sending, events).
        choreography: where the running calibration is (marked as fitted, dropped once fitted).
        profiles: the stream's profiles (pooling, saving, applying the fit).
    """

    def __init__(self, host: CalibrationHost, choreography: Choreography, profiles: StreamProfiles) -> None:
        self.host = host
        self.choreography = choreography
        self.profiles = profiles
        self._task: asyncio.Task[None] | None = None
        self._cancel: threading.Event | None = None

    def _reserve(self) -> None:
        if not self.host.reserve_fit():
            n = self.host.settings.calibration_fit_threads
            raise CalibrationError(
                f"the server is fitting {n} calibration{'s' if n != 1 else ''} already, the most it runs at "
                "once (GAZESCOPE_CALIBRATION_FIT_THREADS); the calibration stays open: send "
                "calibration_finish again in a few seconds",
                code="server_busy",
            )

    async def finish(self) -> None:
        """``calibration_finish``: fit and validate the running calibration as a task; its
        ``calibration_result``, or the error (``not_enough_data``, ``calibration_timeout``: the calibration
        stays open), is sent through the host.

        Raises:
            CalibrationError: nothing running (``no_calibration``), a fit running (``calibration_busy``),
                every fit slot taken (``server_busy``).
        """
        host = self.host
        run = self.choreography.begin_fit(self._reserve)
        cancel = threading.Event()
        self._cancel = cancel
        slot = _FitSlot()
        task = asyncio.create_task(self._run(run, cancel, slot), name=f"gs-calfit-{run.calibration_id}")
        self._task = task

        def _done(_t: asyncio.Task[None]) -> None:
            if not slot.handed:
                host.release_fit()

        task.add_done_callback(_done)

    async def close(self) -> None:
        """The stream ends: cancel a fit still running and wait for it to unwind (a store write it had
        begun completes first)."""
        task = self._task
        if task is not None and not task.done():
            if self._cancel is not None:
                self._cancel.set()  # the training loop stops at its next check
            task.cancel()
            await asyncio.wait([task])
            self.host.event("calibration_fit_cancelled")

    async def _run(self, run: RunningCalibration, cancel: threading.Event, slot: _FitSlot) -> None:
        host = self.host
        try:
            await self._fit(run, cancel, slot)
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
            self._task = None

    async def _fit(self, run: RunningCalibration, cancel: threading.Event, slot: _FitSlot) -> None:
        host, profiles = self.host, self.profiles
        cs, cal_id = run.session, run.calibration_id
        deadline = time.monotonic() + host.settings.calibration_fit_timeout_s

        def should_stop() -> bool:
            return cancel.is_set() or time.monotonic() > deadline

        slot.handed = True  # host.fit gives the slot back when its thread is done
        try:
            result = await host.fit(cs.finish, should_stop, cancel=cancel)
        except BaseException:  # not enough data, a failed fit, or cancellation: the calibration stays open
            self.choreography.fit_failed(run)
            raise
        fitted = replace(result.calibration, profile_id=cal_id)
        fitted, pooled = await profiles.pool_with_history(fitted, cs.mapper_params)
        if host.ending:  # nobody to tell and no session to record it on
            self.choreography.clear_if(run)
            host.event("calibration_fit_dropped", calibration_id=cal_id)
            return
        points = self.choreography.point_rows(run, result)
        self.choreography.clear_if(run)
        gate = quality_gate(result.mean_error_pct_width, host.settings.calibration_max_error_pct_width)
        profile_id, save_error = await profiles.adopt_fit(fitted, save=run.save, accepted=gate.passed)
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
        await profiles.record("calibration", **reply.model_dump(exclude={"type", "counts", "save_error"}))
        await host.send(reply)
