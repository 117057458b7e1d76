"""The tracking engine behind every tracking WebSocket: frames in, samples out, samples stored.

One :class:`TrackingConnection` per WebSocket. It owns one ``FrameAnalyzer`` (created lazily in a worker
thread on the first frame, closed on disconnect) and one ``GazeTracker``, so every connection has its own
landmark tracking and smoothing state and no MediaPipe graph is ever used by two threads at once.

Flow of a frame (DESIGN.md "Data flow")::

    receive (event loop) -> stamp t_ms, frame_index -> latest-wins slot -> worker thread:
    decode (size/pixel limits) -> FrameAnalyzer.analyze -> GazeTracker.update -> sample
    -> reply to the client -> live hub (observers) -> store buffer (batches)

* **Latest-wins slot.** While one frame is processed, at most ``Settings.frame_queue_size`` frames wait;
  a newer frame pushes out the oldest waiting one, which is counted as dropped (samples carry the session's
  cumulative ``dropped_frames``; the session record too). Frames waiting when the client leaves are dropped.
  So for every frame received: processed + dropped + refused (bad frame) == received.
* **Time.** A sample's ``t_ms`` is milliseconds since the session was created. When the client sends its
  capture time (``t_ms``), intervals follow the client's clock (anchored to the server clock on the first
  frame, re-anchored when it goes backwards or drifts more than :data:`CLOCK_SLACK_MS`); otherwise the
  server's receive time is used. ``t_ms`` strictly increases within a session, across reconnects too.
* **Continuation.** A client that reconnects continues its session: ``blink_count``, ``dropped_frames``
  and ``t_ms`` continue from the stored values, ``frame_index`` after every index the session has handed
  out (smoothing and blink baselines restart).
  A session has at most one tracking connection: a newer one takes over (the older is closed with
  :data:`WS_REPLACED` after its samples are flushed).
* **Storage.** Samples are appended in batches of ``Settings.sample_batch_size`` or every
  ``Settings.sample_flush_s``, whichever comes first (or each before its reply with
  ``Settings.store_before_reply``), and everything processed is flushed when the connection ends, cleanly
  or not. Store failures are retried at the next flush; what a connection ending during an outage could
  not store goes to the app's :class:`~gazescope.api.backlog.StoreBacklog`. Frame indices are reserved
  in the store ahead of use (``Settings.frame_index_reserve``), so none is ever handed out twice.
* **Messages by type.** Text messages are parsed by the route's :class:`~gazescope.api.wire.WireFormat`
  and dispatched by ``type``: ``frame`` to the slot, ``ping`` to ``pong``, and any other type to a handler
  registered with :func:`register_message_handler`. This is the hook for the calibration protocol
  (``calibration_start``, ``calibration_target``, ``calibration_finish``, ... driving
  :class:`gazescope.calibration.session.CalibrationSession`): a handler receives the connection and the
  message; :meth:`TrackingConnection.add_frame_observer` gives it every frame's features in the worker
  thread, and :meth:`TrackingConnection.set_calibration` attaches the fitted calibration to the tracker.
  Unknown types are answered with an ``unknown_type`` error; the connection goes on.
* **Wire hooks.** The route's wire format shapes every message (``sample``, ``error``, ``pong``, the
  ``session`` hello, and a reply to a dropped frame where its protocol wants one, e.g. seed 001's), may
  ignore a message (``parse_text`` returns None, e.g. seed 002's ``init``), gets the frame's features
  (seed 000's face box) and sets the idle timeout (seed 002: 30 minutes).
* **Hooks for protocols.** :meth:`TrackingConnection.add_receive_hook` sees each frame message as it
  arrives; :meth:`TrackingConnection.add_frame_hook` adds fields to its sample (e.g. the video time);
  :meth:`TrackingConnection.hold_frames` keeps frames instead of latest-wins, optionally pausing them
  (e.g. while a calibration is fitted), until :meth:`TrackingConnection.release_frames`; when the client
  leaves meanwhile, :meth:`TrackingConnection.add_release_waiter` waiters are awaited and the frames
  released then are still processed and stored. A wire whose ``sample`` returns None sends no reply to
  frames.

* **Bounds.** A connection that sends no frame for ``Settings.idle_timeout_s`` is closed (1001): pings do
  not keep it open. Live frames are limited to ``Settings.live_max_frame_pixels`` and 8 bits per channel
  (checked from the header, before decoding), and each connection may spend at most
  ``Settings.frame_decode_budget_ms`` of decoding per second: over it, the connection waits before its next
  frame (waiting frames are replaced by newer ones, counted as dropped) while other connections go on.

Close codes: 1000 session ended, 1001 idle timeout or server shutdown, 1009 message too big (from uvicorn's
``ws_max_size``, checked here too), 1011 internal error, :data:`WS_REPLACED` taken over by a newer
connection, :data:`WS_SESSION_DELETED`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from gazescope.api import logs
from gazescope.api.state import AppState
from gazescope.api.wire import Inbound, ProtocolError, WireFormat
from gazescope.domain import FrameFeatures, GazeSample, SessionInfo
from gazescope.errors import FrameDecodeError, GazescopeError, SessionNotFoundError
from gazescope.storage import frame_indices
from gazescope.tracking.tracker import GazeTracker, ScreenMapper
from gazescope.vision.frames import decode_frame
from gazescope.vision.pipeline import FrameAnalyzer

#: A client clock further than this from the server clock is re-anchored (ms).
CLOCK_SLACK_MS = 2000.0
#: Close codes (RFC 6455 section 7.4: 4000-4999 are for applications).
WS_NORMAL = 1000
WS_GOING_AWAY = 1001
WS_MESSAGE_TOO_BIG = 1009
WS_INTERNAL_ERROR = 1011
WS_REPLACED = 4000
WS_SESSION_NOT_FOUND = 4404
WS_SESSION_ENDED = 4409
WS_SESSION_DELETED = 4410

MessageHandler = Callable[["TrackingConnection", Inbound], Awaitable[None]]
FrameObserver = Callable[[FrameFeatures, GazeSample, Any], None]
#: ``hook(inbound, features, sample, image_rgb)`` in the worker thread; returns fields to add to the sample.
FrameHook = Callable[[Inbound, FrameFeatures, GazeSample, Any], "dict[str, Any] | None"]
#: ``hook(inbound)`` on the event loop when a frame arrives, before it enters the slot.
ReceiveHook = Callable[[Inbound], None]

_HANDLERS: dict[str, MessageHandler] = {}
_RELEASES: set[asyncio.Future[None]] = set()  # ownership releases of connections that never served
StartHook = Callable[["TrackingConnection"], Awaitable[None]]
_START_HOOKS: list[StartHook] = []


def register_message_handler(message_type: str, handler: MessageHandler) -> None:
    """Handle text messages of ``message_type`` on every tracking connection (e.g. ``calibration_start``).

    ``handler(conn, inbound)`` runs on the event loop; CPU work belongs in ``await conn.state.cpu(...)``.
    Replies go through ``await conn.send({...})``. A :class:`~gazescope.errors.GazescopeError` it raises
    is answered as an ``error`` message with its ``code``; the connection goes on. ``frame`` and ``ping``
    are built in and cannot be replaced.
    """
    if message_type in ("frame", "ping"):
        raise ValueError(f"message type {message_type!r} is built in")
    _HANDLERS[message_type] = handler


def register_start_hook(hook: StartHook) -> None:
    """Run ``await hook(conn)`` when a tracking connection starts serving, after the ``session`` message
    and before any frame is read (e.g. to apply the session's saved calibration). A failing hook is
    logged; the connection goes on."""
    if hook not in _START_HOOKS:
        _START_HOOKS.append(hook)


def message_types() -> list[str]:
    """Message types the tracking connections understand."""
    return sorted({"frame", "ping", *_HANDLERS})


@dataclass(slots=True)
class _Job:
    inbound: Inbound
    frame_index: int
    t_ms: float
    epoch_ms: float
    features: FrameFeatures | None = None  # set in the worker thread for wires that want them
    held: bool = False


class TrackingConnection:
    """One tracking WebSocket bound to one stored session (see module docstring).

    Args:
        state: the app's service objects.
        ws: the accepted WebSocket.
        session: the session (as looked up when the client connected).
        wire: the route's message format.
        route: route label for metrics and logs (``track``, ``seed000``, ``seed001``, ``seed002``).
    """

    def __init__(
        self, state: AppState, ws: WebSocket, session: SessionInfo, wire: WireFormat, route: str
    ) -> None:
        self.state = state
        self.settings = state.settings
        self.ws = ws
        self.session = session
        self.session_id = session.id
        self.wire = wire
        self.route = route
        self.conn_id = uuid.uuid4().hex[:12]
        self.tracker = GazeTracker(self.settings)
        self._analyzer: FrameAnalyzer | None = None
        self._observers: list[FrameObserver] = []
        self._frame_hooks: list[FrameHook] = []
        self._receive_hooks: list[ReceiveHook] = []
        self._hold_limit = 0  # > 0 while frames are held (see hold_frames)
        self._hold_bytes: int | None = None
        self._pause_from: int | None = None
        self._current_index: int | None = None
        self._progress = asyncio.Event()
        self._release_waiters: list[Callable[[], Awaitable[None]]] = []
        self._close_callbacks: list[Callable[[], Awaitable[None]]] = []
        self._in_start_hooks = False
        # counters of this connection
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.refused = 0
        self.stored = 0
        #: The newest processed sample (a dict as stored), None before the first.
        self.last_sample: dict[str, Any] | None = None
        # continuation from the stored session
        self._next_index = 0
        self._first_index = 0
        self._max_replied = -1
        self._reserved_below = 0
        self._blink_offset = 0
        self._dropped_base = 0
        self._last_t = -math.inf
        self._clock_offset: float | None = None
        # slot, buffers, tasks
        self._waiting: deque[_Job] = deque()
        self._wake = asyncio.Event()
        self._receiving = True
        self._buffer: list[dict[str, Any]] = []
        self._flush_now = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._stored_dropped = 0
        self._held_back = 0
        self._store_failing = False
        self._send_lock = asyncio.Lock()
        self._gone = False
        self._closing = False
        self._close_code: int | None = None
        self._deleted = False
        self._claimed = False
        self._done = asyncio.Event()
        self._recv_task: asyncio.Task[None] | None = None
        # decode accounting (Settings.frame_decode_budget_ms): a token bucket of decode milliseconds
        self._decode_tokens = float(self.settings.frame_decode_budget_ms)
        self._decode_t = time.monotonic()
        self._decode_ms_last = 0.0
        self.decode_ms_total = 0.0
        self._last_frame_at = time.monotonic()  # the idle timer (Settings.idle_timeout_s) runs from here

    # --- public API for routes and message handlers --------------------------------------------------

    @property
    def dropped_total(self) -> int:
        """Frames dropped in the session so far (earlier connections included)."""
        return self._dropped_base + self.dropped

    @property
    def next_frame_index(self) -> int:
        """The ``frame_index`` the next frame received will get: frames with a lower index arrived before
        now (e.g. before a calibration target was announced)."""
        return self._next_index

    def add_frame_observer(self, observer: FrameObserver) -> None:
        """Call ``observer(features, sample, image_rgb)`` in the worker thread after every processed frame
        (e.g. to collect calibration samples); it must be quick and must not keep ``image_rgb``."""
        self._observers.append(observer)

    def add_frame_hook(self, hook: FrameHook) -> None:
        """Call ``hook(inbound, features, sample, image_rgb)`` in the worker thread after the observers; the
        dict it returns is merged into the sample (e.g. the video time a frame was captured at)."""
        self._frame_hooks.append(hook)

    def add_receive_hook(self, hook: ReceiveHook) -> None:
        """Call ``hook(inbound)`` on the event loop for every frame received, before it is queued."""
        self._receive_hooks.append(hook)

    def hold_frames(self, limit: int, *, pause_from: int | None = None, max_bytes: int | None = None) -> None:
        """From now on keep every received frame instead of the latest-wins rule (e.g. calibration frames,
        all of which count): at most ``limit`` wait, and at most ``max_bytes`` of frame payloads (None: no
        byte bound), older ones are dropped and counted. Frames with ``frame_index >= pause_from`` are not
        processed until :meth:`release_frames` (e.g. while a calibration is fitted, so they are mapped with
        it); earlier ones are processed in order."""
        self._hold_limit = max(1, int(limit))
        self._hold_bytes = max_bytes
        self._pause_from = pause_from
        self._wake.set()

    def add_release_waiter(self, waiter: Callable[[], Awaitable[None]]) -> None:
        """When the client leaves while frames are paused (:meth:`hold_frames`), ``await waiter()`` (e.g.
        until the fit that releases them is done; bound it) before the frames released are processed and
        stored, and the rest dropped."""
        self._release_waiters.append(waiter)

    def release_frames(self) -> None:
        """End :meth:`hold_frames`: the frames kept are processed in arrival order; newer frames follow
        the latest-wins rule again."""
        self._hold_limit = 0
        self._pause_from = None
        self._wake.set()

    async def drained(self, before_index: int) -> None:
        """Return once every frame with ``frame_index < before_index`` was processed, dropped or refused."""
        while any(j.frame_index < before_index for j in self._waiting) or (
            self._current_index is not None and self._current_index < before_index
        ):
            self._progress.clear()
            await self._progress.wait()

    def remove_frame_observer(self, observer: FrameObserver) -> None:
        with contextlib.suppress(ValueError):
            self._observers.remove(observer)

    def add_close_callback(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await ``callback()`` when the connection ends, after the last frame was processed and before the
        final flush (e.g. to cancel a calibration fit still running for this connection)."""
        self._close_callbacks.append(callback)

    @property
    def closing(self) -> bool:
        """True once the connection is ending (client left, stopped, or its session was deleted)."""
        return self._closing or self._deleted or not self._receiving

    @property
    def deleted(self) -> bool:
        """True when the session was deleted while this connection served it."""
        return self._deleted

    def set_calibration(self, calibration: ScreenMapper | None) -> None:
        """Attach a fitted calibration: later samples carry screen coordinates."""
        self.tracker.set_calibration(calibration)

    async def send(self, message: dict[str, Any]) -> bool:
        """Send a JSON object to the client; False when the client is gone."""
        return await self.send_text(json.dumps(message, separators=(",", ":"), default=_json_default))

    async def send_text(self, text: str) -> bool:
        """Send a text message as it is (protocols whose replies are not JSON); False when gone."""
        if self._gone:
            return False
        async with self._send_lock:
            if self._gone or self.ws.application_state != WebSocketState.CONNECTED:
                return False
            try:
                await self.ws.send_text(text)
                return True
            except (WebSocketDisconnect, RuntimeError, OSError):
                self._gone = True
                return False

    async def claim(self) -> None:
        """Become the session's tracking connection (closing an older one after its flush) and load the
        stored state to continue from. Call under the session lock."""
        old = self.state.connections.get(self.session_id)
        self.state.connections[self.session_id] = self
        self._claimed = True
        if old is not None:
            await old.stop(WS_REPLACED, "taken over by a newer connection")
        # a connection of another process (Redis) is stopped and flushed before we read the continuation
        await self.state.ownership.claim(self.session_id, self.conn_id)
        # samples an earlier connection left unstored go first, so the store keeps them in order
        cont = await self.state.backlog.continuation(self.session_id)
        info = await self.state.io(self.state.store.get_session, self.session_id)
        self.session = info
        self._next_index = self._first_index = cont.next_frame_index
        await self._reserve_frame_indices()
        bc = cont.last_sample.get("blink_count")
        self._blink_offset = int(bc) if isinstance(bc, int | float) else 0
        t = cont.last_sample.get("t_ms")
        self._last_t = float(t) if isinstance(t, int | float) else -math.inf
        self._dropped_base = self._stored_dropped = int(info.dropped_frames or 0)

    async def serve(self) -> None:
        """Run the connection until the client leaves, it idles out, or :meth:`stop` is called; then
        flush everything processed and release the analyzer."""
        if self._closing:  # stopped (session ended or deleted) between claim and serve
            self.release_claim()
            return
        m = self.state.metrics
        m.active_sessions.set(len(self.state.connections))
        logs.event(
            "tracking_open",
            session_id=self.session_id,
            conn=self.conn_id,
            route=self.route,
            resumed=self.session.sample_count > 0,
            next_frame_index=self._next_index,
        )
        if self.wire.announces:
            await self.send(
                self.wire.hello(
                    {
                        "type": "session",
                        "session": self.session.to_dict(),
                        "resumed": self.session.sample_count > 0,
                        "next_frame_index": self._next_index,
                        "message_types": message_types(),
                    }
                )
            )
        await self._publish({"type": "event", "event": "tracking_started", "session_id": self.session_id})
        self._in_start_hooks = True
        try:
            for hook in list(_START_HOOKS):
                try:
                    await hook(self)
                except Exception:
                    logs.log.exception("tracking start hook failed", extra={"session_id": self.session_id})
        finally:
            self._in_start_hooks = False
        if self._closing:  # stopped while the start hooks ran: nothing was processed, nothing to flush
            await self._run_close_callbacks()
            self.release_claim()
            return
        processor = asyncio.create_task(self._process_loop(), name=f"gs-process-{self.conn_id}")
        flusher = asyncio.create_task(self._flush_loop(), name=f"gs-flush-{self.conn_id}")
        self._recv_task = asyncio.create_task(self._receive_loop(), name=f"gs-recv-{self.conn_id}")
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._recv_task)
        finally:
            if not self._recv_task.done():
                self._recv_task.cancel()
            await self._finish(processor, flusher)

    async def stop(self, code: int, reason: str, *, deleted: bool = False) -> None:
        """Close the connection from the server side and wait until its samples are flushed."""
        if deleted:
            self._deleted = True
        if not self._closing:
            self._closing = True
            self._close_code = code
            await self._close_ws(code, reason)
        if self._recv_task is None and not self._done.is_set() and not self._in_start_hooks:
            # claimed but not serving yet: nothing to flush (while start hooks run, wait for them below)
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._done.wait()), 5.0)
        except TimeoutError:
            if self._recv_task is not None:
                self._recv_task.cancel()
            await self._done.wait()

    # --- receiving ----------------------------------------------------------------------------------

    async def _close_ws(self, code: int, reason: str) -> None:
        async with self._send_lock:
            if self.ws.application_state == WebSocketState.CONNECTED and not self._gone:
                with contextlib.suppress(Exception):
                    await self.ws.close(code=code, reason=reason[:120])
            self._gone = True

    async def _receive_loop(self) -> None:
        s = self.settings
        idle_s = self.wire.idle_timeout_s(s)
        while not self._closing:
            # idle = no frame for idle_timeout_s: pings and other messages do not keep a connection open
            remaining = self._last_frame_at + idle_s - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(self.ws.receive(), timeout=remaining)
            except TimeoutError:
                self._close_code = WS_GOING_AWAY
                logs.event("tracking_idle_timeout", session_id=self.session_id, conn=self.conn_id)
                await self._close_ws(WS_GOING_AWAY, f"idle for {idle_s:g} s")
                return
            except (WebSocketDisconnect, RuntimeError, OSError):
                return
            if message["type"] == "websocket.disconnect":
                self._close_code = message.get("code")
                self._gone = True
                return
            data = message.get("bytes")
            text = message.get("text")
            size = len(data) if data is not None else len(text or "")
            if size > s.max_message_bytes:
                self._close_code = WS_MESSAGE_TOO_BIG
                logs.event("tracking_message_too_big", session_id=self.session_id, size=size)
                await self._close_ws(WS_MESSAGE_TOO_BIG, "message too big")
                return
            try:
                inbound = (
                    self.wire.parse_bytes(data) if data is not None else self.wire.parse_text(text or "")
                )
            except ProtocolError as exc:
                self.state.metrics.frame_errors.labels(code=exc.code).inc()
                await self.send(self.wire.error(exc.code, exc.message))
                continue
            if inbound is not None:  # None: a message the wire format ignores
                await self._dispatch(inbound)

    async def _dispatch(self, inbound: Inbound) -> None:
        if inbound.type == "frame":
            for job in self._enqueue(inbound):  # frames pushed out of the slot
                reply = self.wire.dropped(job.inbound, job.epoch_ms)
                if reply is not None:
                    await self.send(reply)
            return
        if inbound.type == "ping":
            await self.send(self.wire.pong(inbound))
            return
        handler = _HANDLERS.get(inbound.type)
        if handler is None:
            await self.send(
                self.wire.error(
                    "unknown_type",
                    f"unknown message type {inbound.type[:64]!r}; known: {', '.join(message_types())}",
                )
            )
            return
        try:
            await handler(self, inbound)
        except GazescopeError as exc:
            await self.send(self.wire.error(exc.code, exc.message))
        except Exception:
            logs.log.exception("message handler failed", extra={"session_id": self.session_id})
            await self.send(self.wire.error("internal_error", f"handling {inbound.type!r} failed"))

    def _stamp(self, client_t_ms: float | None) -> tuple[float, float]:
        """(session t_ms, epoch ms) of a frame received now (see module docstring, Time)."""
        epoch_ms = time.time() * 1000.0
        server_t = epoch_ms - self.session.created_at_ms
        t = server_t
        if client_t_ms is not None:
            if self._clock_offset is None:
                self._clock_offset = server_t - client_t_ms
            t = client_t_ms + self._clock_offset
            if t <= self._last_t or abs(t - server_t) > CLOCK_SLACK_MS:
                self._clock_offset = server_t - client_t_ms
                t = server_t
        t = round(max(t, self._last_t + 0.001), 3)
        self._last_t = t
        return t, epoch_ms

    def _enqueue(self, inbound: Inbound) -> list[_Job]:
        """Put a frame in the slot; returns the waiting frames it pushed out (dropped)."""
        self._last_frame_at = time.monotonic()
        self.received += 1
        self.state.metrics.frames_received.labels(route=self.route).inc()
        for hook in list(self._receive_hooks):
            hook(inbound)
        t_ms, epoch_ms = self._stamp(inbound.client_t_ms)
        job = _Job(inbound, self._next_index, t_ms, epoch_ms, held=self._hold_limit > 0)
        self._next_index += 1
        dropped: list[_Job] = []
        if job.held:  # bounded in count and in payload bytes (a held frame keeps its payload)
            held_bytes = sum(_payload_bytes(j) for j in self._waiting) + _payload_bytes(job)
            while self._waiting and (
                len(self._waiting) >= self._hold_limit
                or (self._hold_bytes is not None and held_bytes > self._hold_bytes)
            ):
                old = self._waiting.popleft()
                held_bytes -= _payload_bytes(old)
                dropped.append(old)
                self._count_drop()
        else:  # held frames still waiting are kept; the latest-wins rule applies to the others
            while sum(not j.held for j in self._waiting) >= self.settings.frame_queue_size:
                old = next(j for j in self._waiting if not j.held)
                self._waiting.remove(old)
                dropped.append(old)
                self._count_drop()
        self._waiting.append(job)
        self._wake.set()
        return dropped

    def _count_drop(self, n: int = 1) -> None:
        self.dropped += n
        self._progress.set()
        self.state.metrics.frames_dropped.labels(route=self.route).inc(n)

    # --- processing ---------------------------------------------------------------------------------

    async def _process_loop(self) -> None:
        while True:
            while not self._waiting or self._paused():
                if not self._receiving:
                    return
                self._wake.clear()
                await self._wake.wait()
            wait_s = self._decode_wait_s()
            if wait_s > 0 and self._receiving:
                # over its decode budget: pause this connection only (frames arriving meanwhile replace the
                # waiting one, counted as dropped); other connections' frames go on in the pool
                await asyncio.sleep(min(wait_s, 1.0))
                continue
            self._decode_ms_last = 0.0
            await self._process_next()
            self._charge_decode(self._decode_ms_last)

    def _decode_wait_s(self) -> float:
        """Seconds until this connection is back within ``Settings.frame_decode_budget_ms`` (a token
        bucket of decode milliseconds refilled at that rate per second, holding at most one second's)."""
        budget = self.settings.frame_decode_budget_ms
        now = time.monotonic()
        self._decode_tokens = min(budget, self._decode_tokens + (now - self._decode_t) * budget)
        self._decode_t = now
        return 0.0 if self._decode_tokens >= 0 else -self._decode_tokens / budget

    def _charge_decode(self, ms: float) -> None:
        self._decode_wait_s()  # refill up to now first
        self._decode_tokens -= ms
        self.decode_ms_total += ms

    async def _process_next(self) -> None:
        """Process the oldest waiting frame, noting which one is in progress (see :meth:`drained`)."""
        job = self._waiting.popleft()
        self._current_index = job.frame_index
        try:
            await self._process(job)
        finally:
            self._current_index = None
            self._progress.set()

    def _paused(self) -> bool:
        p = self._pause_from
        return p is not None and bool(self._waiting) and self._waiting[0].frame_index >= p

    def _work(self, job: _Job, dropped_total: int) -> dict[str, Any]:
        """Decode, analyse and track one frame (worker thread)."""
        s = self.settings
        t0 = time.perf_counter()
        assert job.inbound.payload is not None
        try:
            rgb = decode_frame(
                job.inbound.payload,
                max_bytes=s.max_frame_bytes,
                max_width=s.max_frame_width,
                max_height=s.max_frame_height,
                max_pixels=s.live_max_frame_pixels,
                eight_bit_only=True,
            )
        finally:
            self._decode_ms_last = (time.perf_counter() - t0) * 1000.0
        if self._analyzer is None:
            self._analyzer = FrameAnalyzer(s)
        ff = self._analyzer.analyze(rgb)
        if self.wire.wants_features:
            job.features = ff
        ms = (time.perf_counter() - t0) * 1000.0
        sample = self.tracker.update(
            ff, job.t_ms, job.frame_index, processing_ms=ms, dropped_frames=dropped_total, image_rgb=rgb
        )
        for observer in list(self._observers):
            try:
                observer(ff, sample, rgb)
            except Exception:
                logs.log.exception("frame observer failed", extra={"session_id": self.session_id})
        d = sample.to_dict()
        d["blink_count"] = int(d.get("blink_count") or 0) + self._blink_offset
        for hook in list(self._frame_hooks):
            try:
                d.update(hook(job.inbound, ff, sample, rgb) or {})
            except Exception:
                logs.log.exception("frame hook failed", extra={"session_id": self.session_id})
        return d

    async def _process(self, job: _Job) -> None:
        m = self.state.metrics
        t0 = time.perf_counter()
        try:
            sample = await self.state.cpu(self._work, job, self.dropped_total)
        except FrameDecodeError as exc:
            self.refused += 1
            m.frame_errors.labels(code=exc.code).inc()
            await self.send(self.wire.error(exc.code, exc.message, job.inbound))
            return
        except Exception as exc:  # a bug or a backend failure: report it, keep the connection
            self.refused += 1
            code = exc.code if isinstance(exc, GazescopeError) else "internal_error"
            m.frame_errors.labels(code=code).inc()
            logs.log.exception(
                "frame processing failed", extra={"session_id": self.session_id, "conn": self.conn_id}
            )
            await self.send(self.wire.error(code, "the frame could not be processed", job.inbound))
            return
        m.processing_seconds.observe(time.perf_counter() - t0)
        m.frames_processed.labels(route=self.route).inc()
        self.processed += 1
        self.last_sample = sample
        self._buffer.append(sample)
        # while the store fails, replies never wait for it: the flush loop retries (README)
        if self.settings.store_before_reply and not self._store_failing:
            await self.flush()
        elif len(self._buffer) >= self.settings.sample_batch_size:
            self._flush_now.set()
        if job.frame_index >= self._reserved_below and not self._store_failing:
            with contextlib.suppress(GazescopeError):  # the flushes renew ahead; this is a burst
                await self._reserve_frame_indices()
        self._max_replied = max(self._max_replied, job.frame_index)
        if self.wire.wants_features:
            reply = self.wire.sample(sample, job.inbound, job.epoch_ms, features=job.features)
            job.features = None
        else:
            reply = self.wire.sample(sample, job.inbound, job.epoch_ms)
        if reply is not None:  # some protocols (seed 004) expect no reply to a frame
            await self.send(reply)
        await self._publish({"type": "sample", "session_id": self.session_id, **sample})

    async def _publish(self, message: dict[str, Any]) -> None:
        try:
            await self.state.hub.publish(self.session_id, message)
        except Exception as exc:  # observers are best effort; tracking goes on
            logs.event(
                "live_publish_failed", level=logging.WARNING, session_id=self.session_id, error=str(exc)
            )

    # --- storing ------------------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self.settings.sample_flush_s)
            self._flush_now.clear()
            # shielded: a cancelled loop (connection ending) lets a write in progress commit, holding the
            # flush lock, so the final flush comes after it; never a half-awaited write racing the last one
            await asyncio.shield(self.flush())

    async def _reserve_frame_indices(self) -> None:
        """Reserve ``Settings.frame_index_reserve`` frame indices past the next one in the store."""
        below = self._next_index + self.settings.frame_index_reserve
        await self.state.io(frame_indices.reserve, self.state.store, self.session_id, below)
        self._reserved_below = max(self._reserved_below, below)

    async def _release_frame_indices(self) -> None:
        """Everything replied is stored: give back the reserved indices no client has seen (frames
        dropped unseen included), so a clean reconnect continues right after the last sample."""
        below = max(self._first_index, self._max_replied + 1)
        if below < self._reserved_below:
            with contextlib.suppress(GazescopeError):  # not when another connection reserved since
                await self.state.io(
                    frame_indices.release, self.state.store, self.session_id, below, self._reserved_below
                )

    async def flush(self) -> None:
        """Append buffered samples to the store, record the dropped count and renew the frame index
        reservation when half of it is used (retried on failure)."""
        async with self._flush_lock:
            if self._deleted:
                self._buffer.clear()
                return
            batch, self._buffer = self._buffer, []
            store = self.state.store
            try:
                if batch:
                    await self.state.io(store.append_samples, self.session_id, batch)
                    self.stored += len(batch)
                    self.state.metrics.samples_stored.inc(len(batch))
                    batch = []  # stored: a later failure below must not put it back
                if self.dropped_total != self._stored_dropped:
                    total = self.dropped_total
                    await self.state.io(store.update_session, self.session_id, dropped_frames=total)
                    self._stored_dropped = total
                if self._next_index + self.settings.frame_index_reserve // 2 >= self._reserved_below:
                    await self._reserve_frame_indices()
                self._store_failing = False
            except SessionNotFoundError:
                self._deleted = True
                logs.event("tracking_session_gone", session_id=self.session_id, lost_samples=len(batch))
            except Exception as exc:
                self._store_failing = True
                self._buffer[:0] = batch
                limit = self.settings.store_backlog_max_samples
                if len(self._buffer) > limit:
                    lost = len(self._buffer) - limit
                    del self._buffer[:lost]
                    logs.event(
                        "samples_lost",
                        level=logging.ERROR,
                        session_id=self.session_id,
                        lost=lost,
                        reason="store_backlog_max_samples",
                        limit=limit,
                    )
                logs.event(
                    "store_append_failed",
                    level=logging.WARNING,
                    session_id=self.session_id,
                    pending=len(self._buffer),
                    error=str(exc),
                )

    async def _finish_paused(self) -> None:
        """Frames still paused when the client left: await the release waiters (e.g. the calibration fit
        that will map them), then process the released frames; drop the rest. Not when the server stopped
        the connection or its session was deleted."""
        if self._waiting and not (self._closing or self._deleted):
            for waiter in list(self._release_waiters):
                try:
                    await waiter()
                except Exception:
                    logs.log.exception("release waiter failed", extra={"session_id": self.session_id})
            while self._waiting and not self._paused():
                await self._process_next()
        if self._waiting:
            self._count_drop(len(self._waiting))
            self._waiting.clear()

    async def _run_close_callbacks(self) -> None:
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                logs.log.exception("tracking close callback failed", extra={"session_id": self.session_id})

    async def _finish(self, processor: asyncio.Task[None], flusher: asyncio.Task[None]) -> None:
        """After receiving ended: drop waiting frames, let the frame in progress finish, flush, clean up.
        Runs to completion even when the handler task is cancelled (server shutdown)."""
        self._receiving = False
        self._wake.set()
        task = asyncio.ensure_future(self._finish_inner(processor, flusher))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # asyncio.wait, unlike wait_for, never cancels the task it waits on: under level-triggered
            # cancellation (anyio cancel scopes) this await is cancelled again at once, and wait_for would
            # then cancel the finish mid-flush, losing the batch it had taken from the buffer
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task], timeout=30.0)
            raise

    async def _finish_inner(self, processor: asyncio.Task[None], flusher: asyncio.Task[None]) -> None:
        try:
            p = self._pause_from  # frames paused by hold_frames wait for their release (_finish_paused)
            kept = deque(j for j in self._waiting if p is not None and j.frame_index >= p)
            if len(self._waiting) > len(kept):
                self._count_drop(len(self._waiting) - len(kept))
            self._waiting = kept
            with contextlib.suppress(Exception):
                await processor
            await self._finish_paused()
            await self._run_close_callbacks()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await flusher
            await self.flush()
            if self._buffer or self.dropped_total != self._stored_dropped:
                # the store failed: the backlog keeps retrying in the background
                batch, self._buffer = self._buffer, []
                if not self._deleted:
                    self.state.backlog.hold(self.session_id, batch, self.dropped_total)
                    self._held_back = len(batch)
            elif not self._deleted:
                await self._release_frame_indices()
            if self._analyzer is not None:
                analyzer, self._analyzer = self._analyzer, None
                with contextlib.suppress(Exception):
                    await self.state.cpu(analyzer.close)
            if not self._deleted:
                await self._publish(
                    {
                        "type": "event",
                        "event": "tracking_stopped",
                        "session_id": self.session_id,
                        "processed": self.processed,
                        "dropped_frames": self.dropped_total,
                    }
                )
        finally:
            if self.state.connections.get(self.session_id) is self:
                del self.state.connections[self.session_id]
            with contextlib.suppress(Exception):  # cross-process owner record; expires anyway
                await self.state.ownership.release(self.session_id, self.conn_id)
            self.state.metrics.active_sessions.set(len(self.state.connections))
            logs.event(
                "tracking_closed",
                session_id=self.session_id,
                conn=self.conn_id,
                route=self.route,
                code=self._close_code,
                received=self.received,
                processed=self.processed,
                dropped=self.dropped,
                refused=self.refused,
                stored=self.stored,
                held_for_retry=self._held_back,
            )
            self._done.set()

    def release_claim(self) -> None:
        """Undo :meth:`claim` for a connection that never served."""
        if self.state.connections.get(self.session_id) is self:
            del self.state.connections[self.session_id]
        if self._claimed:  # forget the cross-process owner record (never raises)
            task = asyncio.ensure_future(self.state.ownership.release(self.session_id, self.conn_id))
            _RELEASES.add(task)
            task.add_done_callback(_RELEASES.discard)
        self._done.set()


def _payload_bytes(job: _Job) -> int:
    """Size of a waiting frame's payload (bytes, or characters of base64 text)."""
    return len(job.inbound.payload or b"")


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
