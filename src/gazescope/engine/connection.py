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
from typing import Any, Generic, Protocol, TypeVar, cast

from gazescope.domain import FrameFeatures, GazeSample, SessionInfo
from gazescope.engine.budget import DecodeBudget
from gazescope.engine.clock import SessionClock
from gazescope.engine.context import EngineContext
from gazescope.engine.frame_processes import FrameProcessPool
from gazescope.engine.slot import FrameJob, FrameSlot
from gazescope.engine.transport import CloseCode, Disconnected, Transport
from gazescope.engine.wire import Inbound, ProtocolError, WireFormat
from gazescope.engine.writer import SampleWriter
from gazescope.errors import FrameDecodeError, GazescopeError
from gazescope.storage import tracking_activity
from gazescope.tracking.tracker import GazeTracker, ScreenMapper
from gazescope.vision.frames import decode_frame
from gazescope.vision.pipeline import FrameAnalyzer

#: ``observer(features, sample, image_rgb)`` in the worker thread after every processed frame.
FrameObserver = Callable[[FrameFeatures, GazeSample, Any], None]
#: ``hook(inbound, features, sample, image_rgb)`` in the worker thread; returns fields to add to the sample.
FrameHook = Callable[[Inbound, FrameFeatures, GazeSample, Any], "dict[str, Any] | None"]
#: Whether an observer or hook reads the frame's pixels: always (True), never (False), or when it answers True.
NeedsImage = bool | Callable[[], bool]
#: ``hook(inbound)`` on the event loop when a frame arrives, before it enters the slot.
ReceiveHook = Callable[[Inbound], None]

C = TypeVar("C", bound=EngineContext)


class _FeatureWire(Protocol):
    def sample(
        self, sample: dict[str, Any], inbound: Inbound, epoch_ms: float, *, features: FrameFeatures | None
    ) -> dict[str, Any] | None: ...


_RELEASES: set[asyncio.Future[None]] = set()  # ownership releases of connections that never served


class TrackingConnection(Generic[C]):
    """One client connection bound to one stored session.

    It owns one ``FrameAnalyzer`` (created on the first frame in a worker thread, or in its worker process
    with ``Settings.frame_processes``; closed at the end) and one ``GazeTracker``, so no MediaPipe graph is
    used by two threads and smoothing is per connection.
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
        self._observers: list[FrameObserver] = []
        self._frame_hooks: list[FrameHook] = []
        self._image_users: dict[object, Callable[[], bool]] = {}  # observers/hooks that read pixels, when
        self._receive_hooks: list[ReceiveHook] = []
        self._release_waiters: list[Callable[[], Awaitable[None]]] = []
        self._close_callbacks: list[Callable[[], Awaitable[None]]] = []
        self._in_start_hooks = False
        # counters of this connection
        self.received = 0
        self.processed = 0
        self.refused = 0
        #: The newest processed sample (a dict as stored), None before the first.
        self.last_sample: dict[str, Any] | None = None
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
        self._observers.append(observer)
        self._need_image(observer, needs_image)

    def _need_image(self, user: object, needs_image: NeedsImage) -> None:
        if callable(needs_image):
            self._image_users[user] = needs_image
        elif needs_image:
            self._image_users[user] = lambda: True

    def remove_frame_observer(self, observer: FrameObserver) -> None:
        with contextlib.suppress(ValueError):
            self._observers.remove(observer)
        self._image_users.pop(observer, None)

    def add_frame_hook(self, hook: FrameHook, *, needs_image: NeedsImage = False) -> None:
        """Call ``hook(inbound, features, sample, image_rgb)`` in a worker thread after the observers; the
        dict it returns is merged into the sample (e.g. the video time a frame was captured at).
        ``image_rgb`` as for :meth:`add_frame_observer`."""
        self._frame_hooks.append(hook)
        self._need_image(hook, needs_image)

    def add_receive_hook(self, hook: ReceiveHook) -> None:
        """Call ``hook(inbound)`` on the event loop for every frame received, before it is queued."""
        self._receive_hooks.append(hook)

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
        self._release_waiters.append(waiter)

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
        self._close_callbacks.append(callback)

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
        self.received += 1
        self.state.metrics.frames_received.labels(route=self.route).inc()
        for hook in list(self._receive_hooks):
            hook(inbound)
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
                        "message_types": self.state.handlers.message_types(),
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
            except ProtocolError as exc:
                self.state.metrics.frame_errors.labels(code=exc.code).inc()
                await self.send(self.wire.error(exc.code, exc.message))
                continue
            if inbound is not None:  # None: a message the wire format ignores
                await self._dispatch(inbound)

    async def _dispatch(self, inbound: Inbound) -> None:
        if inbound.type == "frame":
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

    def _work(self, job: FrameJob, dropped_total: int) -> dict[str, Any]:
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
        return self._track(job, ff, rgb, (time.perf_counter() - t0) * 1000.0, dropped_total)

    def _track(
        self, job: FrameJob, ff: FrameFeatures, rgb: Any, ms: float, dropped_total: int
    ) -> dict[str, Any]:
        """Track one analysed frame, run the observers and hooks; the sample as stored."""
        if self.wire.wants_features:
            job.features = ff
        sample = self.tracker.update(
            ff, job.t_ms, job.frame_index, processing_ms=ms, dropped_frames=dropped_total, image_rgb=rgb
        )
        for observer in list(self._observers):
            try:
                observer(ff, sample, rgb)
            except Exception:
                self._log.log.exception("frame observer failed", extra={"session_id": self.session_id})
        d = sample.to_dict()
        d["blink_count"] = int(d.get("blink_count") or 0) + self._blink_offset
        for hook in list(self._frame_hooks):
            try:
                d.update(hook(job.inbound, ff, sample, rgb) or {})
            except Exception:
                self._log.log.exception("frame hook failed", extra={"session_id": self.session_id})
        return d

    async def _work_in_process(
        self, pool: FrameProcessPool, job: FrameJob, dropped_total: int
    ) -> dict[str, Any]:
        """Decode and analyse in the stream's worker process, then track here: on the event loop when
        nothing else reads the frame (the tracker's update is ~0.2 ms), else in a worker thread (observers,
        hooks, an appearance mapper's forward pass)."""
        assert job.inbound.payload is not None
        mapper_reads = self._mapper_needs_image
        want_image = mapper_reads or any(f() for f in list(self._image_users.values()))
        done = await pool.analyze(self.conn_id, job.inbound.payload, want_image=want_image)
        self._decode_ms_last = done.decode_ms
        assert done.features is not None
        ms = done.total_ms  # decode + landmarks + measures in the worker, as in _work (not the queue wait)
        if self._observers or self._frame_hooks or mapper_reads:
            return await self.state.cpu(self._track, job, done.features, done.image_rgb, ms, dropped_total)
        return self._track(job, done.features, done.image_rgb, ms, dropped_total)

    async def _process(self, job: FrameJob) -> None:
        m = self.state.metrics
        t0 = time.perf_counter()
        try:
            pool = self.state.frame_pool
            if pool is None:
                sample = await self.state.cpu(self._work, job, self.dropped_total)
            else:
                sample = await self._work_in_process(pool, job, self.dropped_total)
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
        self.last_sample = sample
        writer = self.writer
        if writer.append(sample):  # Settings.store_before_reply
            await writer.flush()
        if writer.must_reserve(job.frame_index):
            with contextlib.suppress(GazescopeError):  # the flushes renew ahead; this is a burst
                await writer.reserve()
        writer.replied(job.frame_index)
        if self.wire.wants_features:
            wire = cast(_FeatureWire, self.wire)  # wants_features: sample() takes features=
            reply = wire.sample(sample, job.inbound, job.epoch_ms, features=job.features)
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
            for waiter in list(self._release_waiters):
                try:
                    await waiter()
                except Exception:
                    self._log.log.exception("release waiter failed", extra={"session_id": self.session_id})
            while slot.ready():
                await self._process_next()
        slot.drop_all()

    async def _run_close_callbacks(self) -> None:
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                self._log.log.exception(
                    "tracking close callback failed", extra={"session_id": self.session_id}
                )

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
