"""Clicks recalibrate: each click while a calibration is applied refits it (issue 14).

A click at screen point (``x_px``, ``y_px``) arrives as a ``click`` message on the tracking WebSocket or
as ``POST /api/sessions/{id}/clicks`` (:mod:`gazescope.api.routes.clicks`). It takes the features of the
first processed frame received after it (as ``calibration_target`` does) with a face and open eyes,
within :data:`MAX_WAIT_FRAMES` frames; that row, at the click point, is added to the applied profile's
rows (:class:`~gazescope.calibration.history.OnlineRefit`: the profile's sittings pooled, each click
weighted ``calibration_click_weight``) and the mapper is refitted in the CPU pool. The refitted
calibration replaces the applied one, so later samples are mapped with it; each sample's
``calibration_fit`` names the fit that mapped it (``<profile_id>+<refits>``). The refit lives with the
connection; it is not written back to the profile (a profile grows by calibrations, not clicks).

Reply (WebSocket ``click_result``, REST body): ``{"status": "refit", "fit_id", "n_clicks", "frame_index",
"x_px", "y_px"}`` or ``{"status": "ignored", "reason"}`` (no calibration applied, a profile without its
calibration rows or with an appearance mapper, a point off the calibrated screen, no usable frame,
connection closed).
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from gazescope.api import logs
from gazescope.calibration.features import GazeFeatures, extract_features
from gazescope.calibration.history import OnlineRefit
from gazescope.calibration.profile import FittedCalibration
from gazescope.domain import FrameFeatures, GazeSample
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.wire import Inbound
from gazescope.errors import GazescopeError, ValidationError

MAX_WAIT_FRAMES = 30
"""Frames (about 1-2 s) a click waits for one with a face and open eyes before it is ignored."""
MAX_PENDING = 8
"""Clicks waiting for their frame at once; an older one is ignored (``superseded``) beyond that."""
_TASKS: set[asyncio.Future[Any]] = set()  # running refits and replies (kept referenced until done)


def _spawn(coro: Any) -> None:
    task = asyncio.ensure_future(coro)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


@dataclass(slots=True)
class _Click:
    x_px: float
    y_px: float
    min_frame: int
    future: asyncio.Future[dict[str, Any]]


class _ClickState:
    """Click refits of one connection: pending clicks (guarded by ``lock``, read by the frame observer in
    the worker thread) and the :class:`OnlineRefit` of the applied calibration (event loop, one at a time)."""

    def __init__(self, conn: TrackingConnection, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = conn
        self.loop = loop
        self.lock = threading.Lock()
        self.pending: deque[_Click] = deque()
        self.refit: OnlineRefit | None = None
        self.base_id: str | None = None
        self.refit_lock = asyncio.Lock()
        conn.add_frame_observer(self.observe)
        conn.add_close_callback(self.on_close)

    def observe(self, ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> None:
        with self.lock:
            if not self.pending or sample.frame_index < self.pending[0].min_frame:
                return
            click = self.pending[0]
            gf = None if sample.is_blinking else extract_features(ff)
            if gf is None and sample.frame_index < click.min_frame + MAX_WAIT_FRAMES:
                return
            self.pending.popleft()
        if gf is None:
            self.loop.call_soon_threadsafe(
                _resolve, click.future, _ignored("no frame with a face and open eyes")
            )
        else:
            self.loop.call_soon_threadsafe(self._start_refit, click, gf, sample.frame_index)

    def _start_refit(self, click: _Click, gf: GazeFeatures, frame_index: int) -> None:
        _spawn(self._refit(click, gf, frame_index))

    async def _refit(self, click: _Click, gf: GazeFeatures, frame_index: int) -> None:
        async with self.refit_lock:
            try:
                out = await self._refit_locked(click, gf, frame_index)
            except GazescopeError as exc:
                out = _ignored(exc.message)
            except Exception:
                logs.log.exception("click refit failed", extra={"session_id": self.conn.session_id})
                out = _ignored("the refit failed")
        _resolve(click.future, out)

    def _applied(self, cal: FittedCalibration) -> bool:
        return self.conn.tracker.calibration is cal

    async def _refit_locked(self, click: _Click, gf: GazeFeatures, frame_index: int) -> dict[str, Any]:
        cal = self.conn.tracker.calibration
        if not isinstance(cal, FittedCalibration):
            return _ignored("no calibration is applied")
        if not cal.sittings or cal.mapper.needs_patches:
            return _ignored("the applied calibration has no calibration rows to refit (recalibrate)")
        if self.refit is None or self.base_id != cal.profile_id:
            s = self.conn.settings
            params = {k: v for k, v in cal.mapper.to_dict().items() if k not in ("name", "axes")}
            self.refit = OnlineRefit(
                cal.mapper_name, params, cal.sittings, s.calibration_profile_newest_weight,
                s.calibration_click_weight, s.calibration_max_clicks,
            )  # fmt: skip
            self.base_id = cal.profile_id
        mapper = await self.conn.state.cpu(self.refit.add_click, gf, click.x_px, click.y_px)
        if not self._applied(cal):  # another calibration was applied meanwhile
            return _ignored("the calibration changed while refitting")
        new = replace(cal, mapper=mapper, refit=self.refit.refits)
        self.conn.set_calibration(new)
        logs.event("click_refit", session_id=self.conn.session_id, fit_id=new.fit_id)
        return {
            "status": "refit",
            "fit_id": new.fit_id,
            "n_clicks": self.refit.n_clicks,
            "frame_index": frame_index,
            "x_px": click.x_px,
            "y_px": click.y_px,
        }

    async def on_close(self) -> None:
        with self.lock:
            left = list(self.pending)
            self.pending.clear()
        for c in left:
            _resolve(c.future, _ignored("connection closed"))

    def submit(self, x_px: float, y_px: float) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = self.loop.create_future()
        with self.lock:
            self.pending.append(_Click(x_px, y_px, self.conn.next_frame_index, fut))
            dropped = [self.pending.popleft() for _ in range(len(self.pending) - MAX_PENDING)]
        for c in dropped:
            _resolve(c.future, _ignored("superseded by later clicks"))
        return fut


def _ignored(reason: str) -> dict[str, Any]:
    return {"status": "ignored", "reason": reason}


def _resolve(fut: asyncio.Future[dict[str, Any]], value: dict[str, Any]) -> None:
    if not fut.done():
        fut.set_result(value)


def click_point(body: dict[str, Any]) -> tuple[float, float]:
    """(x_px, y_px) of a click message or request body.

    Raises:
        ValidationError: missing or non-finite coordinates.
    """
    try:
        x, y = body["x_px"], body["y_px"]
        if isinstance(x, bool) or isinstance(y, bool):
            raise TypeError
        x, y = float(x), float(y)
    except (KeyError, TypeError, ValueError):
        raise ValidationError("a click needs numeric x_px and y_px (screen px)") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValidationError("x_px and y_px must be finite")
    return x, y


def submit_click(conn: TrackingConnection, x_px: float, y_px: float) -> asyncio.Future[dict[str, Any]]:
    """Queue a click on a connection (call on the event loop); the future resolves with the reply."""
    st = getattr(conn, "_gs_clicks", None)
    if st is None:
        st = _ClickState(conn, asyncio.get_running_loop())
        conn._gs_clicks = st  # type: ignore[attr-defined]
    return st.submit(x_px, y_px)


async def handle_click(conn: TrackingConnection, inbound: Inbound) -> None:
    """``click``: queue the click; ``click_result`` is sent once it was refitted or ignored (a task, so
    the connection keeps receiving the frames the click waits for)."""
    x, y = click_point(inbound.body)
    fut = submit_click(conn, x, y)

    async def reply() -> None:
        await conn.send({"type": "click_result", **(await fut)})

    _spawn(reply())


def register(registry: HandlerRegistry) -> None:
    """Handle ``click`` on the app's tracking connections."""
    registry.register("click", handle_click)
