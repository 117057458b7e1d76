"""Storing one connection's samples: batches, retries, the final flush, frame indices reserved ahead
(docs/engine.md, "Storage")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from gazescope.engine.context import WriterContext
from gazescope.engine.sample import TrackedSample
from gazescope.errors import GazescopeError, SessionNotFoundError
from gazescope.storage import frame_indices


class SampleWriter:
    """Writes one connection's samples to the store and hands out its frame indices.

    Samples are appended in batches of ``Settings.sample_batch_size`` or every ``Settings.sample_flush_s``
    (the loop of :meth:`start`), or each before its reply with ``Settings.store_before_reply``. A failed
    write is retried at the next flush (at most ``Settings.store_backlog_max_samples`` kept, the oldest
    lost and logged); :meth:`finish` flushes once more and hands what the store still refuses to the app's
    :class:`~gazescope.engine.backlog.StoreBacklog`. Frame indices are reserved in the store
    ``Settings.frame_index_reserve`` ahead of :attr:`next_index`, so none is handed out twice.

    Args:
        state: the app's engine context.
        session_id: the session written to.
        dropped_total: returns the session's dropped frame count now (stored with each flush).
        name: names the flush task (``gs-flush-<name>``).
    """

    def __init__(
        self, state: WriterContext, session_id: str, dropped_total: Callable[[], int], name: str = ""
    ) -> None:
        self._state = state
        self._settings = state.settings
        self._session_id = session_id
        self._dropped_total = dropped_total
        self._name = name
        self._buffer: list[TrackedSample] = []
        self._flush_now = asyncio.Event()
        self._flush_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stored_dropped = 0
        self._failing = False
        self._deleted = False
        self._first_index = 0
        self._max_replied = -1
        self._reserved_below = 0
        #: The frame index the next frame gets.
        self.next_index = 0
        #: Samples stored by this writer.
        self.stored = 0
        #: Samples handed to the backlog by :meth:`finish`.
        self.held_back = 0
        #: Samples not stored because the session holds ``Settings.max_samples_per_session``.
        self.capped = 0
        self._total: int | None = None  # the session's stored count, once known

    # --- frame indices ------------------------------------------------------------------------------

    async def start_at(self, next_index: int, dropped_frames: int) -> None:
        """Continue a session: the next frame gets ``next_index``; ``dropped_frames`` is stored already.
        Reserves the indices ahead.

        Raises:
            GazescopeError: the store failed (``StorageError``) or the session is gone.
        """
        self.next_index = self._first_index = next_index
        await self.reserve()
        self._stored_dropped = dropped_frames

    def take_index(self) -> int:
        """The next frame index (each handed out once)."""
        i = self.next_index
        self.next_index = i + 1
        return i

    def must_reserve(self, frame_index: int) -> bool:
        """True when ``frame_index`` is past the reservation (a burst) and the store works."""
        return frame_index >= self._reserved_below and not self._failing

    async def reserve(self) -> None:
        """Reserve ``Settings.frame_index_reserve`` frame indices past :attr:`next_index` in the store.

        Raises:
            GazescopeError: the store failed or another connection holds the session.
        """
        below = self.next_index + self._settings.frame_index_reserve
        await self._state.io(frame_indices.reserve, self._state.store, self._session_id, below)
        self._reserved_below = max(self._reserved_below, below)

    def replied(self, frame_index: int) -> None:
        """The client has seen the sample of ``frame_index`` (its index is never given back)."""
        if frame_index > self._max_replied:
            self._max_replied = frame_index

    async def _release(self) -> None:
        """Everything replied is stored: give back the reserved indices no client has seen (frames
        dropped unseen included), so a clean reconnect continues right after the last sample."""
        below = max(self._first_index, self._max_replied + 1)
        if below < self._reserved_below:
            with contextlib.suppress(GazescopeError):  # not when another connection reserved since
                await self._state.io(
                    frame_indices.release, self._state.store, self._session_id, below, self._reserved_below
                )

    # --- samples ------------------------------------------------------------------------------------

    @property
    def deleted(self) -> bool:
        """True once the session is known to be deleted: nothing more is written."""
        return self._deleted

    def mark_deleted(self) -> None:
        """The session was deleted: drop what is buffered from now on."""
        self._deleted = True

    @property
    def pending(self) -> int:
        """Samples buffered, not stored yet."""
        return len(self._buffer)

    def append(self, sample: TrackedSample) -> bool:
        """Buffer one sample (its JSON is taken when it is written). Returns True when it must be stored before its reply
        (``Settings.store_before_reply`` while the store works): ``await flush()`` then. Past
        ``Settings.max_samples_per_session`` the sample is counted in :attr:`capped`, not kept."""
        if self._total is not None and self._total >= self._settings.max_samples_per_session:
            self._cap(1)
            return False
        self._buffer.append(sample)
        # while the store fails, replies never wait for it: the flush loop retries
        if self._settings.store_before_reply and not self._failing:
            return True
        if len(self._buffer) >= self._settings.sample_batch_size:
            self._flush_now.set()
        return False

    def start(self) -> None:
        """Start the flush loop (every ``Settings.sample_flush_s``, or at once when a batch is full)."""
        self._task = asyncio.create_task(self._flush_loop(), name=f"gs-flush-{self._name}")

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self._settings.sample_flush_s)
            self._flush_now.clear()
            # shielded: a cancelled loop (connection ending) lets a write in progress commit, holding the
            # flush lock, so the final flush comes after it; never a half-awaited write racing the last one
            await asyncio.shield(self.flush())

    async def flush(self) -> None:
        """Append buffered samples to the store, record the dropped count and renew the frame index
        reservation when half of it is used. Never raises: a failure keeps the samples for the next
        flush; a deleted session drops them."""
        async with self._flush_lock:
            if self._deleted:
                self._buffer.clear()
                return
            batch, self._buffer = self._buffer, []
            state, sid = self._state, self._session_id
            try:
                if batch:
                    if self._total is None:
                        self._total = await state.io(state.store.count_samples, sid)
                    room = max(0, self._settings.max_samples_per_session - self._total)
                    if len(batch) > room:
                        self._cap(len(batch) - room)
                        del batch[room:]
                if batch:
                    rows = [s.to_dict() for s in batch]  # the store edge: JSON from here on
                    self._total = await state.io(state.store.append_samples, sid, rows)
                    self.stored += len(batch)
                    state.metrics.samples_stored.inc(len(batch))
                    batch = []  # stored: a later failure below must not put it back
                dropped = self._dropped_total()
                if dropped != self._stored_dropped:
                    await state.io(state.store.update_session, sid, dropped_frames=dropped)
                    self._stored_dropped = dropped
                if self.next_index + self._settings.frame_index_reserve // 2 >= self._reserved_below:
                    await self.reserve()
                self._failing = False
            except SessionNotFoundError:
                self._deleted = True
                state.logs.event("tracking_session_gone", session_id=sid, lost_samples=len(batch))
            except Exception as exc:
                self._failing = True
                self._buffer[:0] = batch
                self._bound()
                state.logs.event(
                    "store_append_failed",
                    level=logging.WARNING,
                    session_id=sid,
                    pending=len(self._buffer),
                    error=str(exc),
                )

    def _cap(self, n: int) -> None:
        """``n`` samples not stored: the session is full (``Settings.max_samples_per_session``). Counted
        (``gazescope_refused_total{reason="samples_capped"}``), logged once per connection."""
        if self.capped == 0:
            self._state.logs.event(
                "samples_capped",
                level=logging.WARNING,
                session_id=self._session_id,
                limit=self._settings.max_samples_per_session,
            )
        self.capped += n
        self._state.metrics.refused.labels(reason="samples_capped").inc(n)

    def _bound(self) -> None:
        limit = self._settings.store_backlog_max_samples
        if len(self._buffer) > limit:
            lost = len(self._buffer) - limit
            del self._buffer[:lost]
            self._state.logs.event(
                "samples_lost",
                level=logging.ERROR,
                session_id=self._session_id,
                lost=lost,
                reason="store_backlog_max_samples",
                limit=limit,
            )

    async def finish(self) -> None:
        """Stop the flush loop (a write in progress commits first), flush, and hand what the store refused
        to the backlog; when everything is stored, give back the frame indices reserved but unseen."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.flush()
        dropped = self._dropped_total()
        if self._buffer or dropped != self._stored_dropped:
            # the store failed: the backlog keeps retrying in the background
            batch, self._buffer = self._buffer, []
            if not self._deleted:
                self._state.backlog.hold(self._session_id, [s.to_dict() for s in batch], dropped)
                self.held_back = len(batch)
        elif not self._deleted:
            await self._release()
