"""Keep MediaPipe's native log lines (TensorFlow Lite, absl) out of a library user's terminal.

MediaPipe 0.10.21's C++ code writes INFO and WARNING lines such as "INFO: Created TensorFlow Lite XNNPACK
delegate for CPU" and "W0000 ... inference_feedback_manager.cc:114] Feedback manager requires ..." straight
to file descriptor 2, from its graph threads, at times of their choosing (also between two calls into the
graph). ``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL`` do not reach them in this version (absl logs to
stderr until ``absl::InitializeLog()``, which its Python bindings never call), so they are filtered at the
descriptor: :func:`quiet_native_logs` points fd 2 at a pipe, once for the process, and a thread copies every
line to the real stderr as it arrives, except those native INFO/WARNING lines.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Lines dropped: TensorFlow Lite's "INFO: " and absl's pre-initialisation notice, and absl/glog
#: INFO or WARNING lines ("I1207 14:43:26.123456  1234 file.cc:12] ..."). ERROR and FATAL lines pass.
NATIVE_NOISE = re.compile(
    rb"^(?:INFO: |WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] )"
)

_lock = threading.Lock()
_filter: _StderrFilter | None = None


class _StderrFilter:
    """fd 2 -> pipe -> this thread -> the original stderr, less :data:`NATIVE_NOISE` lines."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._real = os.dup(2)
        read_fd, self._write = os.pipe()
        os.dup2(self._write, 2)
        self._reader = os.fdopen(read_fd, "rb", buffering=0)
        self._thread = threading.Thread(target=self._pump, name="gazescope-stderr-filter", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        pending = b""
        while chunk := self._reader.read(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not NATIVE_NOISE.match(line))
            if kept:
                os.write(self._real, kept)
        if pending and not NATIVE_NOISE.match(pending):
            os.write(self._real, pending)

    def close(self) -> None:
        """Give fd 2 back and pass on what is still in the pipe (at interpreter exit)."""
        sys.stderr.flush()
        os.dup2(self._real, 2)
        os.close(self._write)  # the last write end: the reader sees end of file
        self._thread.join(timeout=5)


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    """From the first entry on, MediaPipe's native INFO/WARNING lines on fd 2 are dropped for the rest of
    the process (its graph threads log whenever they run, not only inside a call); every other line,
    Python's included, reaches the real stderr as it is written. Without a usable fd 2 (a detached
    process) nothing changes. Safe from several threads; the filter is removed at interpreter exit."""
    global _filter
    with _lock:
        if _filter is None:
            try:
                _filter = _StderrFilter()
            except OSError:
                pass
            else:
                atexit.register(_filter.close)
    yield


def flush_native_logs() -> None:
    """Pass on what Python wrote to ``sys.stderr`` so far (the filter forwards native output itself)."""
    sys.stderr.flush()
