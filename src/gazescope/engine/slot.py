"""The latest-wins slot: frames waiting for the worker, bounded, the oldest dropped and counted."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gazescope.engine.wire import Inbound


@dataclass(slots=True)
class FrameJob:
    """A received frame on its way to the worker.

    ``frame_index`` and ``t_ms`` (ms since the session was created) are the sample's; ``epoch_ms`` is the
    server's Unix time in ms when it arrived; ``held`` marks a frame kept by :meth:`FrameSlot.hold`.
    """

    inbound: Inbound
    frame_index: int
    t_ms: float
    epoch_ms: float
    features: Any = None  # the FrameFeatures, set in the worker thread for wires that want them
    held: bool = False

    @property
    def payload_bytes(self) -> int:
        """Size of the frame's payload (bytes, or characters of base64 text; a landmarks message's binary
        size)."""
        if self.inbound.landmarks is not None:
            return self.inbound.landmarks.nbytes
        return len(self.inbound.payload or b"")


class FrameSlot:
    """Frames waiting to be processed, in arrival order.

    Normally (latest wins) at most ``queue_size`` wait and a newer frame pushes out the oldest. While
    :meth:`hold` is on, every frame is kept, bounded by count and payload bytes, and frames from
    ``pause_from`` on wait until :meth:`release`. Every frame pushed out or discarded is counted in
    :attr:`dropped` and reported to ``on_drop(n)``.

    Args:
        queue_size: frames waiting at most under the latest-wins rule (>= 1).
        on_drop: called with the number of frames dropped, each time some are.
    """

    def __init__(self, queue_size: int, on_drop: Callable[[int], None]) -> None:
        self._queue_size = queue_size
        self._on_drop = on_drop
        self._waiting: deque[FrameJob] = deque()
        self._hold_limit = 0  # > 0 while frames are held
        self._hold_bytes: int | None = None
        self._pause_from: int | None = None
        self._current: int | None = None
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        #: Frames dropped from this slot so far.
        self.dropped = 0

    @property
    def waiting(self) -> tuple[FrameJob, ...]:
        """The frames waiting, oldest first."""
        return tuple(self._waiting)

    def __len__(self) -> int:
        return len(self._waiting)

    @property
    def holding(self) -> bool:
        """True while :meth:`hold` is on."""
        return self._hold_limit > 0

    def put(self, job: FrameJob) -> list[FrameJob]:
        """Add a received frame; returns the waiting frames it pushed out (already counted as dropped)."""
        job.held = self._hold_limit > 0
        waiting = self._waiting
        dropped: list[FrameJob] = []
        if job.held:  # bounded in count and in payload bytes (a held frame keeps its payload)
            held_bytes = sum(j.payload_bytes for j in waiting) + job.payload_bytes
            while waiting and (
                len(waiting) >= self._hold_limit
                or (self._hold_bytes is not None and held_bytes > self._hold_bytes)
            ):
                old = waiting.popleft()
                held_bytes -= old.payload_bytes
                dropped.append(old)
                self.count_drop()
        else:  # held frames still waiting are kept; the latest-wins rule applies to the others
            while sum(not j.held for j in waiting) >= self._queue_size:
                old = next(j for j in waiting if not j.held)
                waiting.remove(old)
                dropped.append(old)
                self.count_drop()
        waiting.append(job)
        self._wake.set()
        return dropped

    def count_drop(self, n: int = 1) -> None:
        """Count ``n`` frames as dropped."""
        self.dropped += n
        self._progress.set()
        self._on_drop(n)

    def hold(self, limit: int, *, pause_from: int | None = None, max_bytes: int | None = None) -> None:
        """Keep every frame instead of latest wins: at most ``limit`` (>= 1) and ``max_bytes`` of payload
        (None: no byte bound), the oldest dropped; frames with ``frame_index >= pause_from`` wait until
        :meth:`release`."""
        self._hold_limit = max(1, int(limit))
        self._hold_bytes = max_bytes
        self._pause_from = pause_from
        self._wake.set()

    def release(self) -> None:
        """End :meth:`hold`: kept frames go on in order; newer ones follow latest wins again."""
        self._hold_limit = 0
        self._pause_from = None
        self._wake.set()

    def paused(self) -> bool:
        """True when the oldest waiting frame is paused by :meth:`hold`."""
        p = self._pause_from
        return p is not None and bool(self._waiting) and self._waiting[0].frame_index >= p

    def ready(self) -> bool:
        """True when a frame can be taken now (one waits and it is not paused)."""
        return bool(self._waiting) and not self.paused()

    def take(self) -> FrameJob:
        """Take the oldest waiting frame and note it as in progress until :meth:`done`.

        Raises:
            IndexError: nothing waits.
        """
        job = self._waiting.popleft()
        self._current = job.frame_index
        return job

    def done(self) -> None:
        """The frame taken last was processed (or refused)."""
        self._current = None
        self._progress.set()

    def wake(self) -> None:
        """Wake :meth:`wait` (something changed: a frame, a release, the end of receiving)."""
        self._wake.set()

    async def wait(self) -> None:
        """Wait until :meth:`put`, :meth:`hold`, :meth:`release` or :meth:`wake` is called."""
        self._wake.clear()
        await self._wake.wait()

    async def drained(self, before_index: int) -> None:
        """Return once every frame with ``frame_index < before_index`` was processed, dropped or refused."""
        while any(j.frame_index < before_index for j in self._waiting) or (
            self._current is not None and self._current < before_index
        ):
            self._progress.clear()
            await self._progress.wait()

    def drop_unpaused(self) -> None:
        """Drop (and count) every waiting frame but those kept by :meth:`hold` (the client left): paused
        ones wait for their release, and held ones (calibration frames queued before a fit, frames a fit
        just released) are still processed."""
        p = self._pause_from
        kept = deque(j for j in self._waiting if j.held or (p is not None and j.frame_index >= p))
        if len(self._waiting) > len(kept):
            self.count_drop(len(self._waiting) - len(kept))
        self._waiting = kept

    def drop_all(self) -> None:
        """Drop (and count) every waiting frame."""
        if self._waiting:
            self.count_drop(len(self._waiting))
            self._waiting.clear()
