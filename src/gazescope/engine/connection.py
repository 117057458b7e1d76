"""One tracking connection: frames in, samples out and stored, from claim to the last flush
(docs/engine.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Generic, Protocol, TypeVar

from gazescope.domain import SessionInfo
from gazescope.engine.backlog import StoreBacklog
from gazescope.engine.budget import DecodeBudget
from gazescope.engine.clock import SessionClock
from gazescope.engine.context import StoreContext
from gazescope.engine.extensions import Extensions
from gazescope.engine.frame_processes import (
    AnalyzedFrame,
    FrameProcessPool,
    analyze_landmarks,
    analyze_payload,
)
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.hooks import ConnectionHooks, FrameHook, FrameObserver, NeedsImage, ReceiveHook
from gazescope.engine.landmarks import parse_landmarks
from gazescope.engine.sample import LANDMARKS_EXTRAS, NO_EXTRAS, TrackedSample
from gazescope.engine.slot import FrameJob, FrameSlot
from gazescope.engine.transport import CloseCode, Disconnected, Transport
from gazescope.engine.wire import Inbound, ProtocolError, WireFormat
from gazescope.engine.writer import SampleWriter
from gazescope.errors import FrameDecodeError, GazescopeError
from gazescope.storage import LiveHub, tracking_activity
from gazescope.storage.ownership import SessionOwnership
from gazescope.tracking.tracker import GazeTracker, ScreenMapper
from gazescope.vision.frames import DecodeOptions
from gazescope.vision.pipeline import FrameAnalyzer

__all__ = [
    "EngineContext",
    "FrameHook",
    "FrameObserver",
    "NeedsImage",
    "ReceiveHook",
    "TrackingConnection",
]

T = TypeVar("T")


class EngineContext(StoreContext, Protocol):
    """The application's objects a connection uses (one per app; ``gazescope.api.state.AppState``): the
    storage context (settings, store, ``io``, metrics, logs) and the engine's app-wide parts.

    ``connections`` maps each session id to its open tracking connection in this process (at most one).
    """

    @property
    def hub(self) -> LiveHub: ...
    @property
    def ownership(self) -> SessionOwnership: ...
    @property
    def backlog(self) -> StoreBacklog: ...
    @property
    def handlers(self) -> HandlerRegistry[TrackingConnection[Any]]: ...
    @property
    def connections(self) -> dict[str, TrackingConnection[Any]]: ...
    @property
    def frame_pool(self) -> FrameProcessPool | None:
        """Worker processes for frames (``Settings.frame_processes``), None: frames run in :meth:`cpu`."""
        ...

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the CPU thread pool (decoding, vision, fits)."""
        ...


C = TypeVar("C", bound=EngineContext)


_RELEASES: set[asyncio.Future[None]] = set()  # ownership releases of connections that never served


class TrackingConnection(Generic[C]):
    """One client connection bound to one stored session.

    It owns one ``FrameAnalyzer`` (created on the first frame in a worker thread, or in its worker process
    with ``Settings.frame_processes``; closed at the end) and one ``GazeTracker``, so no MediaPipe graph is
    used by two threads and smoothing is per connection. A client that sends landmarks instead of frames
    (issue 22) never gets an analyzer: its landmarks are measured here and tracked as a frame's features.
    Lifecycle: :meth:`claim` (under the session lock), :meth:`serve` until the client leaves, idles out or
    :meth:`stop` is called; then everything processed is flushed.

    Args:
        state: the app's context (``gazescope.api.state.AppState``); handlers reach the app through it.
        transport: the accepted connection.
        session: the session as looked up when the client connected.
        wire: the route's message format (one object per connection).
        route: label for metrics and logs (``track``, ``seed000`` ...).
    """

    def __init__(
        self, state: C, transport: Transport, session: SessionInfo, wire: WireFormat, route: str
    ) -> None:
        self.state = state
        self.settings = state.settings
        self.transport = transport
        self.session = session
        self.session_id = session.id
        self.wire = wire
        self.route = route
        self.conn_id = uuid.uuid4().hex[:12]
        self.tracker = GazeTracker(self.settings)
        self._log = state.logs
        self._analyzer: FrameAnalyzer | None = None
        self._decode_options = DecodeOptions.live(self.settings)
        #: Observers, hooks and callbacks the app's handlers plugged in (see the ``add_*`` methods).
        self.hooks = ConnectionHooks(state.logs.log, session.id)
        #: Per-connection state of the app's handlers, by typed key (:mod:`gazescope.engine.extensions`).
        self.extensions = Extensions()
        self._in_start_hooks = False
        # counters of this connection
        self.received = 0
        self.processed = 0
        self.refused = 0
        #: The newest processed sample, None before the first.
        self.last_sample: TrackedSample | None = None
        self._blink_offset = 0
        self._dropped_base = 0
        self._frames_dropped = state.metrics.frames_dropped.labels(route=route)
        #: Frames waiting for the worker (latest wins, see :meth:`hold_frames`).
        self.slot = FrameSlot(self.settings.frame_queue_size, self._frames_dropped.inc)
        self.clock = SessionClock(session.created_at_ms)
        self.writer = SampleWriter(state, session.id, lambda: self.dropped_total, self.conn_id)
        self._receiving = True
        self._send_lock = asyncio.Lock()
        self._gone = False
        self._closing = False
        self._close_code: int | None = None
        self._claimed = False
        self._done = asyncio.Event()
        self._recv_task: asyncio.Task[None] | None = None
        self._decode = DecodeBudget(self.settings.frame_decode_budget_ms)
        self._decode_ms_last = 0.0
        self._last_frame_at = time.monotonic()  # the idle timer (Settings.idle_timeout_s) runs from here
        #: True once the client's latest frame message was landmarks (docs/protocol.md), not a frame.
        self.sends_landmarks = False

    # --- public API for routes and message handlers --------------------------------------------------

    @property
    def activity_id(self) -> str:
        """This connection in the session's activity record: ``"{instance}:{conn_id}"``."""
        return f"{self.state.ownership.instance_id}:{self.conn_id}"

    @property
    def dropped(self) -> int:
        """Frames dropped on this connection."""
        return self.slot.dropped

    @property
    def dropped_total(self) -> int:
        """Frames dropped in the session so far (earlier connections included)."""
        return self._dropped_base + self.slot.dropped

    @property
    def decode_ms_total(self) -> float:
        """Milliseconds this connection spent decoding frames."""
        return self._decode.total_ms

    @property
    def stored(self) -> int:
        """Samples this connection stored."""
        return self.writer.stored

    @property
    def next_frame_index(self) -> int:
        """The ``frame_index`` the next frame received will get: frames with a lower index arrived before
        now (e.g. before a calibration target was announced)."""
        return self.writer.next_index

    def add_frame_observer(self, observer: FrameObserver, *, needs_image: NeedsImage = False) -> None:
        """Call ``observer(features, sample, image_rgb)`` in a worker thread after every processed frame
        (e.g. to collect calibration samples); it must be quick and must not keep ``image_rgb``.
        With ``Settings.frame_processes`` the frame is decoded in another process and sent back only when
        someone reads it: ``needs_image`` True, or a callable answering when (else ``image_rgb`` is None)."""
        self.hooks.add_frame_user(observer, hook=False, needs_image=needs_image)

    def remove_frame_observer(self, observer: FrameObserver) -> None:
        self.hooks.remove_frame_user(observer)

    def add_frame_hook(self, hook: FrameHook, *, needs_image: NeedsImage = False) -> None:
        """Call ``hook(inbound, features, sample, image_rgb)`` in a worker thread after the observers; the
        fields it returns (keys of :class:`~gazescope.engine.sample.SampleExtras`, e.g. the video time a
        frame was captured at) are added to the sample. ``image_rgb`` as for :meth:`add_frame_observer`."""
        self.hooks.add_frame_user(hook, hook=True, needs_image=needs_image)

    def add_receive_hook(self, hook: ReceiveHook) -> None:
        """Call ``hook(inbound)`` on the event loop for every frame received, before it is queued."""
        self.hooks.add_receive(hook)

    def hold_frames(self, limit: int, *, pause_from: int | None = None, max_bytes: int | None = None) -> None:
        """From now on keep every received frame instead of the latest-wins rule (e.g. calibration frames,
        all of which count): at most ``limit`` wait, and at most ``max_bytes`` of frame payloads (None: no
        byte bound), older ones are dropped and counted. Frames with ``frame_index >= pause_from`` are not
        processed until :meth:`release_frames` (e.g. while a calibration is fitted, so they are mapped with
        it); earlier ones are processed in order."""
        self.slot.hold(limit, pause_from=pause_from, max_bytes=max_bytes)

    def add_release_waiter(self, waiter: Callable[[], Awaitable[None]]) -> None:
        """When the client leaves while frames are paused (:meth:`hold_frames`), ``await waiter()`` (e.g.
        until the fit that releases them is done; bound it) before the frames released are processed and
        stored, and the rest dropped."""
        self.hooks.add_release_waiter(waiter)

    def release_frames(self) -> None:
        """End :meth:`hold_frames`: the frames kept are processed in arrival order; newer frames follow
        the latest-wins rule again."""
        self.slot.release()

    async def drained(self, before_index: int) -> None:
        """Return once every frame with ``frame_index < before_index`` was processed, dropped or refused."""
        await self.slot.drained(before_index)

    def add_close_callback(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await ``callback()`` when the connection ends, after the last frame was processed and before the
        final flush (e.g. to cancel a calibration fit still running for this connection)."""
        self.hooks.add_close(callback)

    @property
    def closing(self) -> bool:
        """True once the connection is ending (client left, stopped, or its session was deleted)."""
        return self._closing or self.writer.deleted or not self._receiving

    @property
    def deleted(self) -> bool:
        """True when the session was deleted while this connection served it."""
        return self.writer.deleted

    def set_calibration(self, calibration: ScreenMapper | None) -> None:
        """Attach a fitted calibration: later samples carry screen coordinates."""
        self.tracker.set_calibration(calibration)

    @property
    def _mapper_needs_image(self) -> bool:
        """The applied calibration's mapper reads eye patches (an appearance mapper such as ``cnn``)."""
        mapper = getattr(self.tracker.calibration, "mapper", None)
        return bool(getattr(mapper, "needs_patches", False))

    async def send(self, message: dict[str, Any]) -> bool:
        """Send a JSON object to the client; False when the client is gone."""
        return await self.send_text(json.dumps(message, separators=(",", ":"), default=_json_default))

    async def send_text(self, text: str) -> bool:
        """Send a text message as it is (protocols whose replies are not JSON); False when gone."""
        if self._gone:
            return False
        async with self._send_lock:
            if self._gone or not self.transport.connected:
                return False
            try:
                await self.transport.send_text(text)
                return True
            except OSError:  # TransportError
                self._gone = True
                return False

    def put_frame(self, inbound: Inbound) -> list[FrameJob]:
        """Stamp a received frame (``frame_index``, ``t_ms``) and put it in the slot; returns the waiting
        frames it pushed out (dropped, counted). The receive loop calls this for every frame message."""
        self._last_frame_at = time.monotonic()
        self.sends_landmarks = inbound.landmarks is not None
        self.received += 1
        self.state.metrics.frames_received.labels(route=self.route).inc()
        self.hooks.received(inbound)
        t_ms, epoch_ms = self.clock.stamp(inbound.client_t_ms)
        return self.slot.put(FrameJob(inbound, self.writer.take_index(), t_ms, epoch_ms))

    # --- lifecycle ----------------------------------------------------------------------------------

    async def claim(self) -> None:
        """Become the session's tracking connection (closing an older one after its flush) and load the
        stored state to continue from. Call under the session lock.

        Raises:
            GazescopeError: the store or the cross-process ownership failed (undo with
                :meth:`release_claim`).
        """
        state = self.state
        old = state.connections.get(self.session_id)
        state.connections[self.session_id] = self
        self._claimed = True
        if old is not None:
            await old.stop(CloseCode.REPLACED, "taken over by a newer connection")
        # a connection of another process (Redis) is stopped and flushed before we read the continuation
        await state.ownership.claim(self.session_id, self.conn_id)
        # samples an earlier connection left unstored go first, so the store keeps them in order
        cont = await state.backlog.continuation(self.session_id)
        info = await state.io(state.store.get_session, self.session_id)
        self.session = info
        dropped = int(info.dropped_frames or 0)
        await self.writer.start_at(cont.next_frame_index, dropped)
        bc = cont.last_sample.get("blink_count")
        self._blink_offset = int(bc) if isinstance(bc, int | float) else 0
        t = cont.last_sample.get("t_ms")
        self.clock.last_t_ms = float(t) if isinstance(t, int | float) else -math.inf
        self._dropped_base = dropped
        # the record the abandoned-session sweep reads (services/abandoned.py); best effort
        try:
            await state.io(tracking_activity.mark_connected, state.store, self.session_id, self.activity_id)
        except GazescopeError as exc:
            self._log.event("activity_write_failed", session_id=self.session_id, error=exc.message)

    async def serve(self) -> None:
        """Run the connection until the client leaves, it idles out, or :meth:`stop` is called; then
        flush everything processed and release the analyzer. Returns when all that is done."""
        if self._closing:  # stopped (session ended or deleted) between claim and serve
            self.release_claim()
            return
        m = self.state.metrics
        m.active_sessions.set(len(self.state.connections))
        self._log.event(
            "tracking_open",
            session_id=self.session_id,
            conn=self.conn_id,
            route=self.route,
            resumed=self.session.sample_count > 0,
            next_frame_index=self.next_frame_index,
        )
        if self.wire.announces:
            await self.send(
                self.wire.hello(
                    {
                        "type": "session",
                        "session": self.session.to_dict(),
                        "resumed": self.session.sample_count > 0,
                        "next_frame_index": self.next_frame_index,
                        "message_types": self._message_types(),
                    }
                )
            )
        await self._publish({"type": "event", "event": "tracking_started", "session_id": self.session_id})
        self._in_start_hooks = True
        try:
            for hook in self.state.handlers.start_hooks:
                try:
                    await hook(self)
                except Exception:
                    self._log.log.exception(
                        "tracking start hook failed", extra={"session_id": self.session_id}
                    )
        finally:
            self._in_start_hooks = False
        if self._closing:  # stopped while the start hooks ran: nothing was processed, nothing to flush
            await self._run_close_callbacks()
            self.release_claim()
            return
        processor = asyncio.create_task(self._process_loop(), name=f"gs-process-{self.conn_id}")
        self.writer.start()
        self._recv_task = asyncio.create_task(self._receive_loop(), name=f"gs-recv-{self.conn_id}")
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._recv_task)
        finally:
            if not self._recv_task.done():
                self._recv_task.cancel()
            await self._finish(processor)

    async def stop(self, code: int, reason: str, *, deleted: bool = False) -> None:
        """Close the connection from the server side (``code``, ``reason``) and return once its samples are
        flushed. ``deleted``: the session was deleted, nothing more is stored."""
        if deleted:
            self.writer.mark_deleted()
        if not self._closing:
            self._closing = True
            self._close_code = code
            await self._close_transport(code, reason)
        if self._recv_task is None and not self._done.is_set() and not self._in_start_hooks:
            # claimed but not serving yet: nothing to flush (while start hooks run, wait for them below)
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._done.wait()), 5.0)
        except TimeoutError:
            if self._recv_task is not None:
                self._recv_task.cancel()
            await self._done.wait()

    def _message_types(self) -> list[str]:
        """The message types this connection reads: the app's, and ``landmarks`` where the wire reads it."""
        types = self.state.handlers.message_types()
        return sorted({*types, "landmarks"}) if self.wire.accepts_landmarks else types

    def release_claim(self) -> None:
        """Undo :meth:`claim` for a connection that never served."""
        if self.state.connections.get(self.session_id) is self:
            del self.state.connections[self.session_id]
        if self._claimed:  # forget the cross-process owner record (never raises)
            task = asyncio.ensure_future(self.state.ownership.release(self.session_id, self.conn_id))
            _RELEASES.add(task)
            task.add_done_callback(_RELEASES.discard)
        self._done.set()

    # --- receiving ----------------------------------------------------------------------------------

    async def _close_transport(self, code: int, reason: str) -> None:
        async with self._send_lock:
            if self.transport.connected and not self._gone:
                with contextlib.suppress(Exception):
                    await self.transport.close(code, reason[:120])
            self._gone = True

    async def _receive_loop(self) -> None:
        s = self.settings
        idle_s = self.wire.idle_timeout_s(s)
        start_s = self.wire.start_timeout_s(s)
        opened_at = self._last_frame_at
        while not self._closing:
            # idle = no frame for idle_timeout_s: pings and other messages do not keep a connection open
            deadline = self._last_frame_at + idle_s
            if start_s is not None and not self.wire.started:
                deadline = min(deadline, opened_at + start_s)
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(self.transport.receive(), timeout=remaining)
            except TimeoutError:
                self._close_code = CloseCode.GOING_AWAY
                if start_s is not None and not self.wire.started:
                    self._log.event("tracking_start_timeout", session_id=self.session_id, conn=self.conn_id)
                    await self._close_transport(CloseCode.GOING_AWAY, f"not started within {start_s:g} s")
                    return
                self._log.event("tracking_idle_timeout", session_id=self.session_id, conn=self.conn_id)
                await self._close_transport(CloseCode.GOING_AWAY, f"idle for {idle_s:g} s")
                return
            except Disconnected as exc:
                self._close_code = exc.code
                self._gone = True
                return
            except OSError:  # TransportError
                return
            if len(message) > s.max_message_bytes:
                self._close_code = CloseCode.MESSAGE_TOO_BIG
                self._log.event("tracking_message_too_big", session_id=self.session_id, size=len(message))
                await self._close_transport(CloseCode.MESSAGE_TOO_BIG, "message too big")
                return
            try:
                inbound = (
                    self.wire.parse_bytes(message)
                    if isinstance(message, bytes)
                    else self.wire.parse_text(message)
                )
                if inbound is not None and inbound.type == "landmarks" and self.wire.accepts_landmarks:
                    inbound = parse_landmarks(inbound, s)
            except ProtocolError as exc:
                self.state.metrics.frame_errors.labels(code=exc.code).inc()
                await self.send(self.wire.error(exc.code, exc.message))
                continue
            if inbound is not None:  # None: a message the wire format ignores
                await self._dispatch(inbound)

    async def _dispatch(self, inbound: Inbound) -> None:
        if inbound.type == "frame" or inbound.landmarks is not None:
            for job in self.put_frame(inbound):  # frames pushed out of the slot
                reply = self.wire.dropped(job.inbound, job.epoch_ms)
                if reply is not None:
                    await self.send(reply)
            return
        if inbound.type == "ping":
            await self.send(self.wire.pong(inbound))
            return
        handlers = self.state.handlers
        handler = handlers.handler(inbound.type)
        if handler is None:
            await self.send(
                self.wire.error(
                    "unknown_type",
                    f"unknown message type {inbound.type[:64]!r}; known: {', '.join(handlers.message_types())}",
                )
            )
            return
        try:
            await handler(self, inbound)
        except GazescopeError as exc:
            await self.send(self.wire.error(exc.code, exc.message))
        except Exception:
            self._log.log.exception("message handler failed", extra={"session_id": self.session_id})
            await self.send(self.wire.error("internal_error", f"handling {inbound.type!r} failed"))

    # --- processing ---------------------------------------------------------------------------------

    async def _process_loop(self) -> None:
        slot, budget = self.slot, self._decode
        while True:
            while not slot.ready():
                if not self._receiving:
                    return
                await slot.wait()
            wait_s = budget.wait_s()
            if wait_s > 0 and self._receiving:
                # over its decode budget: pause this connection only (frames arriving meanwhile replace the
                # waiting one, counted as dropped); other connections' frames go on in the pool
                await asyncio.sleep(min(wait_s, 1.0))
                continue
            self._decode_ms_last = 0.0
            await self._process_next()
            budget.charge(self._decode_ms_last)

    async def _process_next(self) -> None:
        """Process the oldest waiting frame, noting which one is in progress (see :meth:`drained`)."""
        job = self.slot.take()
        try:
            await self._process(job)
        finally:
            self.slot.done()

    def _work(self, job: FrameJob, dropped_total: int) -> TrackedSample:
        """Decode, analyse and track one frame (worker thread)."""
        assert job.inbound.payload is not None
        done = analyze_payload(self._analyzer_now, job.inbound.payload, self._decode_options, keep_image=True)
        self._decode_ms_last = done.decode_ms
        done.raise_error()
        return self._track(job, done, dropped_total)

    def _analyzer_now(self) -> FrameAnalyzer:
        if self._analyzer is None:
            self._analyzer = FrameAnalyzer(self.settings)
        return self._analyzer

    def _track(self, job: FrameJob, done: AnalyzedFrame, dropped_total: int) -> TrackedSample:
        """Track one analysed frame (``total_ms``: decode + landmarks + measures, not the queue wait), run
        the observers and hooks; the sample with the session's ``blink_count``, the hooks' fields and, for
        a landmarks message, ``source: "landmarks"``."""
        ff, rgb = done.features, done.image_rgb
        assert ff is not None
        if self.wire.wants_features:
            job.features = ff
        sample = self.tracker.update(
            ff, job.t_ms, job.frame_index, processing_ms=done.total_ms, dropped_frames=dropped_total,
            image_rgb=rgb,
        )  # fmt: skip
        extras = self.hooks.processed(job.inbound, ff, sample, rgb)
        if job.inbound.landmarks is not None:
            extras = LANDMARKS_EXTRAS if extras is NO_EXTRAS else extras.merged(LANDMARKS_EXTRAS)
        sample = replace(sample, blink_count=int(sample.blink_count or 0) + self._blink_offset, features=None)
        return TrackedSample(sample, extras)

    async def _work_in_process(
        self, pool: FrameProcessPool, job: FrameJob, dropped_total: int
    ) -> TrackedSample:
        """Decode and analyse in the stream's worker process, then track here: on the event loop when
        nothing else reads the frame (the tracker's update is ~0.2 ms), else in a worker thread (observers,
        hooks, an appearance mapper's forward pass)."""
        assert job.inbound.payload is not None
        mapper_reads = self._mapper_needs_image
        want_image = mapper_reads or self.hooks.wants_image()
        done = await pool.analyze(self.conn_id, job.inbound.payload, want_image=want_image)
        self._decode_ms_last = done.decode_ms
        if self.hooks.has_frame_users or mapper_reads:
            return await self.state.cpu(self._track, job, done, dropped_total)
        return self._track(job, done, dropped_total)

    async def _work_landmarks(self, job: FrameJob, dropped_total: int) -> TrackedSample:
        """Measure a landmarks message and track it: on the event loop (well under a millisecond, no
        Face Mesh, never in a worker process) unless observers or hooks run after every frame (then in a
        worker thread, as for frames)."""
        assert job.inbound.landmarks is not None
        done = analyze_landmarks(job.inbound.landmarks)
        if self.hooks.has_frame_users:
            return await self.state.cpu(self._track, job, done, dropped_total)
        return self._track(job, done, dropped_total)

    async def _process(self, job: FrameJob) -> None:
        m = self.state.metrics
        t0 = time.perf_counter()
        try:
            pool = self.state.frame_pool
            if job.inbound.landmarks is not None:
                tracked = await self._work_landmarks(job, self.dropped_total)
            elif pool is None:
                tracked = await self.state.cpu(self._work, job, self.dropped_total)
            else:
                tracked = await self._work_in_process(pool, job, self.dropped_total)
        except FrameDecodeError as exc:
            self.refused += 1
            m.frame_errors.labels(code=exc.code).inc()
            await self.send(self.wire.error(exc.code, exc.message, job.inbound))
            return
        except Exception as exc:  # a bug or a backend failure: report it, keep the connection
            self.refused += 1
            code = exc.code if isinstance(exc, GazescopeError) else "internal_error"
            m.frame_errors.labels(code=code).inc()
            self._log.log.exception(
                "frame processing failed", extra={"session_id": self.session_id, "conn": self.conn_id}
            )
            await self.send(self.wire.error(code, "the frame could not be processed", job.inbound))
            return
        m.processing_seconds.observe(time.perf_counter() - t0)
        m.frames_processed.labels(route=self.route).inc()
        self.processed += 1
        self.last_sample = tracked
        writer = self.writer
        if writer.append(tracked):  # Settings.store_before_reply
            await writer.flush()
        if writer.must_reserve(job.frame_index):
            with contextlib.suppress(GazescopeError):  # the flushes renew ahead; this is a burst
                await writer.reserve()
        writer.replied(job.frame_index)
        fields = tracked.to_dict()  # the wire and live edges: JSON from here on
        features, job.features = job.features, None
        reply = self.wire.sample(fields, job.inbound, job.epoch_ms, features)
        if reply is not None:  # some protocols (seed 004) expect no reply to a frame
            await self.send(reply)
        await self._publish({"type": "sample", "session_id": self.session_id, **fields})

    async def _publish(self, message: dict[str, Any]) -> None:
        try:
            await self.state.hub.publish(self.session_id, message)
        except Exception as exc:  # observers are best effort; tracking goes on
            self._log.event(
                "live_publish_failed", level=logging.WARNING, session_id=self.session_id, error=str(exc)
            )

    # --- finishing ----------------------------------------------------------------------------------

    async def _finish_paused(self) -> None:
        """Frames still paused when the client left: await the release waiters (e.g. the calibration fit
        that will map them), then process the released frames; drop the rest. Not when the server stopped
        the connection or its session was deleted."""
        slot = self.slot
        if len(slot) and not (self._closing or self.writer.deleted):
            await self.hooks.wait_release()
            while slot.ready():
                await self._process_next()
        slot.drop_all()

    async def _run_close_callbacks(self) -> None:
        await self.hooks.closed()

    async def _finish(self, processor: asyncio.Task[None]) -> None:
        """After receiving ended: drop waiting frames, let the frame in progress finish, flush, clean up.
        Runs to completion even when the handler task is cancelled (server shutdown)."""
        self._receiving = False
        self.slot.wake()
        task = asyncio.ensure_future(self._finish_inner(processor))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # asyncio.wait, unlike wait_for, never cancels the task it waits on: under level-triggered
            # cancellation (anyio cancel scopes) this await is cancelled again at once, and wait_for would
            # then cancel the finish mid-flush, losing the batch it had taken from the buffer
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task], timeout=30.0)
            raise

    async def _finish_inner(self, processor: asyncio.Task[None]) -> None:
        try:
            self.slot.drop_unpaused()  # frames paused by hold_frames wait for their release
            with contextlib.suppress(Exception):
                await processor
            await self._finish_paused()
            await self._run_close_callbacks()
            await self.writer.finish()
            if self._analyzer is not None:
                analyzer, self._analyzer = self._analyzer, None
                with contextlib.suppress(Exception):
                    await self.state.cpu(analyzer.close)
            if self.state.frame_pool is not None:
                with contextlib.suppress(Exception):
                    await self.state.frame_pool.release(self.conn_id)
            if not self.writer.deleted:
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
            state = self.state
            if not self.writer.deleted:  # from now on the session counts as abandoned until reconnected
                try:
                    await state.io(
                        tracking_activity.mark_disconnected, state.store, self.session_id, self.activity_id
                    )
                except Exception as exc:
                    self._log.event("activity_write_failed", session_id=self.session_id, error=str(exc))
            if state.connections.get(self.session_id) is self:
                del state.connections[self.session_id]
            with contextlib.suppress(Exception):  # cross-process owner record; expires anyway
                await state.ownership.release(self.session_id, self.conn_id)
            state.metrics.active_sessions.set(len(state.connections))
            self._log.event(
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
                held_for_retry=self.writer.held_back,
            )
            self._done.set()


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
