"""What an app plugs into one tracking connection: frame observers and hooks, receive hooks, release
waiters and close callbacks (:class:`ConnectionHooks`; the connection's ``add_*`` methods fill it)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gazescope.domain import FrameFeatures, GazeSample
from gazescope.engine.sample import NO_EXTRAS, SampleExtras
from gazescope.engine.wire import Inbound

#: ``observer(features, sample, image_rgb)`` in the worker thread after every processed frame.
FrameObserver = Callable[[FrameFeatures, GazeSample, Any], None]
#: ``hook(inbound, features, sample, image_rgb)`` in the worker thread; returns sample fields to add, keys
#: of :class:`~gazescope.engine.sample.SampleExtras` (e.g. ``VideoMoment.to_fields()``), or None.
FrameHook = Callable[[Inbound, FrameFeatures, GazeSample, Any], "dict[str, Any] | None"]
#: Whether an observer or hook reads the frame's pixels: always (True), never (False), or when it answers True.
NeedsImage = bool | Callable[[], bool]
#: ``hook(inbound)`` on the event loop when a frame arrives, before it enters the slot.
ReceiveHook = Callable[[Inbound], None]
#: ``await waiter()`` / ``await callback()`` when the connection ends (see :class:`ConnectionHooks`).
AsyncCallback = Callable[[], Awaitable[None]]


def _never() -> bool:
    return False


def _always() -> bool:
    return True


@dataclass(frozen=True, slots=True)
class _FrameUser:
    """An observer (``hook`` False) or a hook of every processed frame, and when it reads pixels."""

    fn: Callable[..., Any]
    hook: bool
    needs_image: Callable[[], bool]


class ConnectionHooks:
    """Everything plugged into one connection, run in the order added; a failing one is logged (``log``)
    and the others go on.

    Frame users: observers (nothing returned) run before hooks (their fields merged into the sample's
    :class:`~gazescope.engine.sample.SampleExtras`, later hooks winning), in a worker thread.
    """

    def __init__(self, log: logging.Logger, session_id: str) -> None:
        self._log = log
        self._extra = {"session_id": session_id}
        self._frame: list[_FrameUser] = []
        self._receive: list[ReceiveHook] = []
        self._release_waiters: list[AsyncCallback] = []
        self._close: list[AsyncCallback] = []

    # --- adding ----------------------------------------------------------------------------------------

    def add_frame_user(self, fn: Callable[..., Any], *, hook: bool, needs_image: NeedsImage) -> None:
        when = needs_image if callable(needs_image) else (_always if needs_image else _never)
        self._frame.append(_FrameUser(fn, hook, when))

    def remove_frame_user(self, fn: Callable[..., Any]) -> None:
        for i, u in enumerate(self._frame):
            if u.fn == fn:
                del self._frame[i]
                return

    def add_receive(self, hook: ReceiveHook) -> None:
        self._receive.append(hook)

    def add_release_waiter(self, waiter: AsyncCallback) -> None:
        self._release_waiters.append(waiter)

    def add_close(self, callback: AsyncCallback) -> None:
        self._close.append(callback)

    # --- running ---------------------------------------------------------------------------------------

    @property
    def has_frame_users(self) -> bool:
        """True when an observer or hook runs after every frame (the tracker then runs off the loop)."""
        return bool(self._frame)

    def wants_image(self) -> bool:
        """True when an observer or hook reads the next frame's pixels."""
        return any(u.needs_image() for u in list(self._frame))

    def received(self, inbound: Inbound) -> None:
        """Event loop: a frame arrived."""
        for hook in list(self._receive):
            hook(inbound)

    def processed(self, inbound: Inbound, ff: FrameFeatures, sample: GazeSample, rgb: Any) -> SampleExtras:
        """Worker thread: run the observers, then the hooks; the extras the hooks return."""
        users = list(self._frame)
        for u in users:
            if not u.hook:
                try:
                    u.fn(ff, sample, rgb)
                except Exception:
                    self._log.exception("frame observer failed", extra=self._extra)
        extras = NO_EXTRAS
        for u in users:
            if u.hook:
                try:
                    fields = u.fn(inbound, ff, sample, rgb)
                    if fields:
                        extras = extras.merged(SampleExtras.from_fields(fields))
                except Exception:
                    self._log.exception("frame hook failed", extra=self._extra)
        return extras

    async def wait_release(self) -> None:
        """Await every release waiter (the client left while frames were paused)."""
        for waiter in list(self._release_waiters):
            try:
                await waiter()
            except Exception:
                self._log.exception("release waiter failed", extra=self._extra)

    async def closed(self) -> None:
        """Await every close callback once (later calls run only callbacks added since)."""
        callbacks, self._close = self._close, []
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                self._log.exception("tracking close callback failed", extra=self._extra)
