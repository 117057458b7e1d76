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
* **Continuation.** A client that reconnects continues its session: ``frame_index``, ``blink_count``,
  ``dropped_frames`` and ``t_ms`` continue from the stored values (smoothing and blink baselines restart).
  A session has at most one tracking connection: a newer one takes over (the older is closed with
  :data:`WS_REPLACED` after its samples are flushed).
* **Storage.** Samples are appended in batches of ``Settings.sample_batch_size`` or every
  ``Settings.sample_flush_s``, whichever comes first, and everything processed is flushed when the
  connection ends, cleanly or not (store failures are retried at the next flush).
* **Messages by type.** Text messages are parsed by the route's :class:`~gazescope.api.wire.WireFormat`
  and dispatched by ``type``: ``frame`` to the slot, ``ping`` to ``pong``, and any other type to a handler
  registered with :func:`register_message_handler`. This is the hook for the calibration protocol
  (``calibration_start``, ``calibration_target``, ``calibration_finish``, ... driving
  :class:`gazescope.calibration.session.CalibrationSession`): a handler receives the connection and the
  message; :meth:`TrackingConnection.add_frame_observer` gives it every frame's features in the worker
  thread, and :meth:`TrackingConnection.set_calibration` attaches the fitted calibration to the tracker.
  Unknown types are answered with an ``unknown_type`` error; the connection goes on.

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
#: Samples kept for retry while the store fails, per connection (about 10 minutes at 15 FPS).
MAX_UNSTORED = 10_000

MessageHandler = Callable[["TrackingConnection", Inbound], Awaitable[None]]
FrameObserver = Callable[[FrameFeatures, GazeSample, Any], None]

_HANDLERS: dict[str, MessageHandler] = {}
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
        self._close_callbacks: list[Callable[[], Awaitable[None]]] = []
        self._in_start_hooks = False
        # counters of this connection
        self.received = 0
        self.processed = 0
        self.dropped = 0
        self.refused = 0
        self.stored = 0
        # continuation from the stored session
        self._next_index = 0
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
        if self._gone:
            return False
        text = json.dumps(message, separators=(",", ":"), default=_json_default)
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
        store = self.state.store
        info = await self.state.io(store.get_session, self.session_id)
        self.session = info
        count = info.sample_count
        if count:
            last = (await self.state.io(store.get_samples, self.session_id, start=count - 1, limit=1)) or [{}]
            fi = last[0].get("frame_index")
            self._next_index = int(fi) + 1 if isinstance(fi, int) else count
            bc = last[0].get("blink_count")
            self._blink_offset = int(bc) if isinstance(bc, int | float) else 0
            t = last[0].get("t_ms")
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
                {
                    "type": "session",
                    "session": self.session.to_dict(),
                    "resumed": self.session.sample_count > 0,
                    "next_frame_index": self._next_index,
                    "message_types": message_types(),
                }
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
        while not self._closing:
            # idle = no frame for idle_timeout_s: pings and other messages do not keep a connection open
            remaining = self._last_frame_at + s.idle_timeout_s - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(self.ws.receive(), timeout=remaining)
            except TimeoutError:
                self._close_code = WS_GOING_AWAY
                logs.event("tracking_idle_timeout", session_id=self.session_id, conn=self.conn_id)
                await self._close_ws(WS_GOING_AWAY, f"idle for {s.idle_timeout_s:g} s")
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
            await self._dispatch(inbound)

    async def _dispatch(self, inbound: Inbound) -> None:
        if inbound.type == "frame":
            self._enqueue(inbound)
            return
        if inbound.type == "ping":
            await self.send({"type": "pong", "t_ms": inbound.body.get("t_ms")})
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

    def _enqueue(self, inbound: Inbound) -> None:
        self._last_frame_at = time.monotonic()
        self.received += 1
        self.state.metrics.frames_received.labels(route=self.route).inc()
        t_ms, epoch_ms = self._stamp(inbound.client_t_ms)
        job = _Job(inbound, self._next_index, t_ms, epoch_ms)
        self._next_index += 1
        while len(self._waiting) >= self.settings.frame_queue_size:
            self._waiting.popleft()
            self._count_drop()
        self._waiting.append(job)
        self._wake.set()

    def _count_drop(self, n: int = 1) -> None:
        self.dropped += n
        self.state.metrics.frames_dropped.labels(route=self.route).inc(n)

    # --- processing ---------------------------------------------------------------------------------

    async def _process_loop(self) -> None:
        while True:
            while not self._waiting:
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
            job = self._waiting.popleft()
            self._decode_ms_last = 0.0
            await self._process(job)
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
        await self.send(self.wire.sample(sample, job.inbound, job.epoch_ms))
        await self._publish({"type": "sample", "session_id": self.session_id, **sample})
        self._buffer.append(sample)
        if len(self._buffer) >= self.settings.sample_batch_size:
            self._flush_now.set()

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

    async def flush(self) -> None:
        """Append buffered samples to the store and record the dropped count (retried on failure)."""
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
                if self.dropped_total != self._stored_dropped:
                    total = self.dropped_total
                    await self.state.io(store.update_session, self.session_id, dropped_frames=total)
                    self._stored_dropped = total
            except SessionNotFoundError:
                self._deleted = True
                logs.event("tracking_session_gone", session_id=self.session_id, lost_samples=len(batch))
            except Exception as exc:
                self._buffer[:0] = batch
                if len(self._buffer) > MAX_UNSTORED:
                    lost = len(self._buffer) - MAX_UNSTORED
                    del self._buffer[:lost]
                    logs.event("samples_lost", level=logging.ERROR, session_id=self.session_id, lost=lost)
                logs.event(
                    "store_append_failed",
                    level=logging.WARNING,
                    session_id=self.session_id,
                    pending=len(self._buffer),
                    error=str(exc),
                )

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
            waiting = len(self._waiting)
            self._waiting.clear()
            if waiting:
                self._count_drop(waiting)
            with contextlib.suppress(Exception):
                await processor
            await self._run_close_callbacks()
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await flusher
            await self.flush()
            if self._buffer:  # the store failed: one last try
                await self.flush()
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
                unstored=len(self._buffer),
            )
            self._done.set()

    def release_claim(self) -> None:
        """Undo :meth:`claim` for a connection that never served."""
        if self.state.connections.get(self.session_id) is self:
            del self.state.connections[self.session_id]
        self._done.set()


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
