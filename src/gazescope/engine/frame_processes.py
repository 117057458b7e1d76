"""Frame work in worker processes: decode and landmarks of each stream in the process it is assigned to
(``Settings.frame_processes``; docs/engine.md).

Each worker is a one-process :class:`concurrent.futures.ProcessPoolExecutor` that keeps the
``FrameAnalyzer`` (MediaPipe graph and its tracking state) of every stream assigned to it, so a stream's
frames always reach the same graph. A stream is assigned to the worker with the fewest streams when its
first frame arrives and stays there until :meth:`FrameProcessPool.release`.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from gazescope.config import Settings
from gazescope.domain import FrameFeatures
from gazescope.errors import FrameDecodeError, GazescopeError
from gazescope.vision.frames import DecodeOptions

if TYPE_CHECKING:
    from gazescope.engine.wire import LandmarksMessage
    from gazescope.vision.pipeline import FrameAnalyzer


class FrameWorkerError(GazescopeError):
    """A frame worker process died while it held the frame (the next frame goes to a new process)."""

    code = "frame_worker_failed"


@dataclass(slots=True)
class AnalyzedFrame:
    """What a worker process returns for one frame.

    ``image_rgb`` (H, W, 3) uint8 only when asked for (calibration observers, appearance mappers);
    ``decode_ms`` the JPEG/PNG decode, ``total_ms`` decode + landmarks + measures, both in the worker.
    ``error`` is ``(code, message)`` of a :class:`~gazescope.errors.FrameDecodeError` instead of features.
    """

    features: FrameFeatures | None
    image_rgb: np.ndarray | None
    decode_ms: float
    total_ms: float
    error: tuple[str, str] | None = None

    def raise_error(self) -> None:
        """Raise the :class:`~gazescope.errors.FrameDecodeError` of a frame that did not decode."""
        if self.error is not None:
            raise FrameDecodeError(self.error[1], code=self.error[0])


def analyze_payload(
    analyzer: Callable[[], FrameAnalyzer], payload: bytes | str, options: DecodeOptions, *, keep_image: bool
) -> AnalyzedFrame:
    """Decode one frame with ``options`` and measure it with ``analyzer()`` (the stream's analyzer, made on
    first use): the one decode-and-analyse step of both paths, a worker thread of the server
    (``TrackingConnection``) and a worker process (:class:`FrameProcessPool`). A frame that does not
    decode is returned with ``error`` set (see :class:`AnalyzedFrame`), not raised."""
    t0 = time.perf_counter()
    try:
        rgb = options.decode(payload)
    except FrameDecodeError as exc:  # returned, not raised: its constructor does not survive pickling
        ms = (time.perf_counter() - t0) * 1000.0
        return AnalyzedFrame(None, None, ms, ms, error=(exc.code, exc.message))
    decode_ms = (time.perf_counter() - t0) * 1000.0
    ff = analyzer().analyze(rgb)
    total_ms = (time.perf_counter() - t0) * 1000.0
    return AnalyzedFrame(ff, rgb if keep_image else None, decode_ms, total_ms)


def analyze_landmarks(message: LandmarksMessage) -> AnalyzedFrame:
    """Measure one frame from a client's Face Mesh landmarks (issue 22): the face built as the server's
    Face Mesh detector builds it (:func:`~gazescope.vision.landmarks.mediapipe_facemesh.face_from_mesh`),
    then :func:`~gazescope.vision.pipeline.measure_face`, the frames' path from the landmarks on. No image,
    no decode (``decode_ms`` 0), no Face Mesh graph: quick enough for the event loop (well under 1 ms).
    ``face_count`` is the client's; a message without points is a frame without a face."""
    from gazescope.vision.landmarks.mediapipe_facemesh import face_from_mesh
    from gazescope.vision.pipeline import measure_face

    t0 = time.perf_counter()
    size = (message.width_px, message.height_px)
    if len(message.points_norm) == 0:
        ff = FrameFeatures(face_detected=False, face_count=message.face_count, image_size=size)
    else:
        face = face_from_mesh(message.points_norm, *size)
        ff = measure_face(face, message.face_count)
        ff = replace(ff, measure_ms=(time.perf_counter() - t0) * 1e3)
    return AnalyzedFrame(ff, None, 0.0, (time.perf_counter() - t0) * 1e3)


# --- in the worker process ---------------------------------------------------------------------------

_settings: Settings | None = None
_options: DecodeOptions | None = None
_analyzers: dict[str, Any] = {}


def _init_worker(settings: Settings) -> None:
    global _settings, _options
    _settings = settings
    _options = DecodeOptions.live(settings)
    parent = os.getppid()

    def watch_parent() -> None:  # a killed server must not leave its workers behind
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch_parent, name="gazescope-parent-watch", daemon=True).start()
    from gazescope.vision.pipeline import FrameAnalyzer  # noqa: F401  (imports MediaPipe once, now)


def _ping() -> int:
    return os.getpid()


def _analyze(stream: str, payload: bytes | str, want_image: bool) -> AnalyzedFrame:
    from gazescope.vision.pipeline import FrameAnalyzer

    s, options = _settings, _options
    assert s is not None and options is not None, "worker not initialised"

    def analyzer() -> FrameAnalyzer:
        a = _analyzers.get(stream)
        if a is None:
            a = _analyzers[stream] = FrameAnalyzer(s)
        return a

    return analyze_payload(analyzer, payload, options, keep_image=want_image)


def _release(stream: str) -> None:
    analyzer = _analyzers.pop(stream, None)
    if analyzer is not None:
        analyzer.close()


# --- in the server process ---------------------------------------------------------------------------


class FrameProcessPool:
    """``n`` worker processes (spawned, never forked: MediaPipe and the event loop hold threads).

    Args:
        settings: passed to every worker (landmark backend, frame limits).
        n: worker processes, >= 1 (one per core is the intent).

    Raises (from :meth:`analyze`): :class:`FrameDecodeError` for a frame that does not decode;
    :class:`FrameWorkerError` when the worker process died (it is replaced; the stream's next frame
    starts a new graph there).
    """

    def __init__(self, settings: Settings, n: int) -> None:
        if n < 1:
            raise ValueError("n must be >= 1")
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")
        self._workers = [self._new_worker() for _ in range(n)]
        self._streams: dict[str, int] = {}
        self._load = [0] * n

    def _new_worker(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            1, mp_context=self._ctx, initializer=_init_worker, initargs=(self.settings,)
        )

    def streams_per_worker(self) -> list[int]:
        """Streams assigned to each worker now."""
        return list(self._load)

    async def start(self) -> list[int]:
        """Spawn every worker and wait until each has imported the pipeline; returns their pids."""
        loop = asyncio.get_running_loop()
        return list(await asyncio.gather(*(loop.run_in_executor(w, _ping) for w in self._workers)))

    def _worker_of(self, stream: str) -> int:
        i = self._streams.get(stream)
        if i is None:
            i = min(range(len(self._workers)), key=self._load.__getitem__)
            self._streams[stream] = i
            self._load[i] += 1
        return i

    async def analyze(self, stream: str, payload: bytes | str, *, want_image: bool = False) -> AnalyzedFrame:
        """Decode and measure one frame of ``stream`` in its worker process."""
        i = self._worker_of(stream)
        worker = self._workers[i]
        loop = asyncio.get_running_loop()
        try:
            result: AnalyzedFrame = await loop.run_in_executor(worker, _analyze, stream, payload, want_image)
        except BrokenProcessPool as exc:
            self._replace(i, worker)
            raise FrameWorkerError(
                "the frame worker process stopped; the next frame starts it again"
            ) from exc
        result.raise_error()
        return result

    def _replace(self, i: int, broken: ProcessPoolExecutor) -> None:
        if self._workers[i] is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self._workers[i] = self._new_worker()

    async def release(self, stream: str) -> None:
        """Close ``stream``'s graph in its worker (no-op for a stream that sent no frame)."""
        i = self._streams.pop(stream, None)
        if i is None:
            return
        self._load[i] -= 1
        loop = asyncio.get_running_loop()
        with contextlib.suppress(BrokenProcessPool, RuntimeError):  # a dead worker closed it already
            await loop.run_in_executor(self._workers[i], _release, stream)

    def shutdown(self) -> None:
        """Stop every worker (their graphs go with them)."""
        for w in self._workers:
            w.shutdown(wait=True, cancel_futures=True)
