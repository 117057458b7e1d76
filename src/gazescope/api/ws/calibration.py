"""Binds the calibration controller (:mod:`gazescope.calibration.protocol`) to tracking connections.

A connection gets its :class:`~gazescope.calibration.protocol.CalibrationController` on its first
calibration message or when it starts; the controller sees every processed frame (frame observer), is
closed with the connection, and its replies are sent in the connection's wire format. Fits run in the fit
pool, loading profiles in the CPU pool, store calls in the I/O pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from gazescope.api import logs
from gazescope.api.deps import profile_repository
from gazescope.api.state import limit_torch_threads
from gazescope.calibration.host import StoredProfile
from gazescope.calibration.messages import CalibrationApplied, ErrorReply, ProfileSource, Reply
from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.profiles import session_profile
from gazescope.calibration.protocol import MESSAGE_TYPES, CalibrationController
from gazescope.domain import FrameFeatures, GazeSample, SessionInfo
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.wire import Inbound
from gazescope.errors import GazescopeError

T = TypeVar("T")


def _limited(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return fn(*args, **kwargs)
    finally:
        limit_torch_threads()  # the cnn mapper imports PyTorch on first use


class ConnectionHost:
    """A tracking connection as the controller's :class:`~gazescope.calibration.host.CalibrationHost`."""

    def __init__(self, conn: TrackingConnection, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = weakref.ref(conn)  # weak: the controller is one of the connection's extensions
        self.loop = loop
        self.session_id = conn.session_id
        self.settings = conn.settings

    @property
    def conn(self) -> TrackingConnection:
        conn = self._conn()
        if conn is None:
            raise RuntimeError("the tracking connection is gone")
        return conn

    @property
    def session(self) -> SessionInfo:
        return self.conn.session

    @session.setter
    def session(self, info: SessionInfo) -> None:
        self.conn.session = info

    @property
    def next_frame_index(self) -> int:
        return self.conn.next_frame_index

    @property
    def ending(self) -> bool:
        return self.conn.closing or self.conn.deleted

    @property
    def landmarks_only(self) -> bool:
        return self.conn.sends_landmarks

    def set_calibration(self, calibration: FittedCalibration | None) -> None:
        self.conn.set_calibration(calibration)

    def update_session(self, **fields: Any) -> SessionInfo:
        return self.conn.state.store.update_session(self.session_id, **fields)

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.conn.state.cpu(_limited, fn, *args, **kwargs)

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.conn.state.io(fn, *args, **kwargs)

    def reserve_fit(self) -> bool:
        if self.conn.state.reserve_fit():
            return True
        self.conn.state.metrics.refused.labels(reason="fits").inc()
        return False

    def release_fit(self) -> None:
        self.conn.state.release_fit()

    async def fit(self, fn: Callable[..., T], *args: Any, cancel: threading.Event, **kwargs: Any) -> T:
        return await self.conn.state.fit(fn, *args, cancel=cancel, **kwargs)

    async def send(self, reply: Reply) -> None:
        if isinstance(reply, ErrorReply):
            await self.conn.send(self.conn.wire.error(reply.code, reply.message))
        else:
            await self.conn.send(reply.to_wire())

    def send_soon(self, reply: Reply) -> None:
        """Send from the frame worker thread."""
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(self.send(reply), self.loop)

    def event(self, name: str, **fields: Any) -> None:
        if fields.pop("exc_info", False):
            logs.log.exception(name, extra={"session_id": self.session_id})
        else:
            logs.event(name, session_id=self.session_id, **fields)


def controller_of(conn: TrackingConnection) -> CalibrationController:
    """The calibration controller of a connection (one of its ``extensions``; made, with its frame
    observer, on first use)."""
    ctl = conn.extensions.get(CalibrationController)
    if ctl is None:
        host = ConnectionHost(conn, asyncio.get_running_loop())
        ctl = CalibrationController(host, profile_repository(conn.state))
        conn.extensions.set(CalibrationController, ctl)

        def observe(ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> None:
            for reply in ctl.observe(ff, sample, image_rgb):
                host.send_soon(reply)

        conn.add_frame_observer(
            observe, needs_image=lambda: ctl.collecting
        )  # appearance mappers' eye patches
        conn.add_close_callback(ctl.close)
    return ctl


async def use_profile(
    conn: TrackingConnection, doc: StoredProfile, source: ProfileSource
) -> FittedCalibration:
    """Apply a stored profile to a connection and tell the client (``calibration_applied``)."""
    ctl = controller_of(conn)
    reply = await ctl.apply_profile(doc, source)
    if conn.wire.announces:
        await ctl.host.send(reply)
    assert ctl.applied is not None
    return ctl.applied


async def handle_message(conn: TrackingConnection, inbound: Inbound) -> None:
    """Handler of every calibration message type: the controller's reply, if any, is sent."""
    ctl = controller_of(conn)
    reply = await ctl.handle(inbound.type, inbound.body)
    if reply is not None and (conn.wire.announces or not isinstance(reply, CalibrationApplied)):
        await ctl.host.send(reply)


async def apply_session_profile(conn: TrackingConnection) -> None:
    """Start hook: apply the session's profile (its ``calibration_id``, else its user's newest). A
    ``calibration_id`` naming no profile is answered with an ``error``; tracking goes on uncalibrated."""
    try:
        found = await conn.state.io(session_profile, profile_repository(conn.state), conn.session)
        if found is not None:
            await use_profile(conn, *found)
    except GazescopeError as exc:
        logs.event("calibration_apply_failed", session_id=conn.session_id, error=exc.message)
        if conn.wire.announces:
            await conn.send(conn.wire.error(exc.code, exc.message))


def register(registry: HandlerRegistry) -> None:
    """Handle the calibration messages on the app's tracking connections and apply a session's saved
    calibration when one starts."""
    for message_type in MESSAGE_TYPES:
        registry.register(message_type, handle_message)
    registry.add_start_hook(apply_session_profile)
