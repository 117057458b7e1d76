"""Keep MediaPipe's native log lines (TensorFlow Lite, absl) out of a library user's terminal.

MediaPipe 0.10.21's C++ code writes INFO and WARNING lines such as "INFO: Created TensorFlow Lite XNNPACK
delegate for CPU" and "W0000 ... inference_feedback_manager.cc:114] Feedback manager requires ..." straight
to file descriptor 2 while its graphs start (the first frames of each graph). ``GLOG_minloglevel`` and
``TF_CPP_MIN_LOG_LEVEL`` do not reach them in this version (absl logs to stderr until
``absl::InitializeLog()``, which its Python bindings never call), so they are filtered at the descriptor:
:func:`quiet_native_logs` points fd 2 at a temporary file for the duration of the native call and, when it
ends, copies every line to the real stderr except those native INFO/WARNING lines (native errors and
everything Python or other threads wrote pass, a frame's time later).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

#: Lines dropped: TensorFlow Lite's "INFO: " and absl's pre-initialisation notice, and absl/glog
#: INFO or WARNING lines ("I1207 14:43:26.123456  1234 file.cc:12] ..."). ERROR and FATAL lines pass.
NATIVE_NOISE = re.compile(
    rb"^(?:INFO: |WARNING: All log messages before absl::InitializeLog\(\)|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] )"
)

_lock = threading.Lock()
_depth = 0
_saved_fd: int | None = None
_capture: IO[bytes] | None = None  # one temporary file, kept for the process


def _forward() -> None:
    """Copy what fd 2 received since the last call, less the native noise, to the real stderr."""
    if _capture is None or _saved_fd is None:
        return
    _capture.seek(0)
    lines = _capture.read().splitlines(keepends=True)
    _capture.seek(0)
    _capture.truncate()
    kept = b"".join(line for line in lines if not NATIVE_NOISE.match(line))
    if kept:
        os.write(_saved_fd, kept)


def flush_native_logs() -> None:
    """Inside :func:`quiet_native_logs`, pass on now what was written so far (a long call's progress)."""
    with _lock:
        if _depth:
            sys.stderr.flush()
            _forward()


@contextmanager
def quiet_native_logs() -> Iterator[None]:
    """While inside, MediaPipe's native INFO/WARNING lines on fd 2 are dropped; the rest is copied to the
    real stderr on exit. Nests, and may be entered from several threads (fd 2 belongs to the process: the
    outermost exit restores it)."""
    global _depth, _saved_fd, _capture
    with _lock:
        if _depth == 0:
            sys.stderr.flush()
            if _capture is None:
                _capture = tempfile.TemporaryFile()  # noqa: SIM115 (kept open for the process)
            _saved_fd = os.dup(2)
            os.dup2(_capture.fileno(), 2)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                sys.stderr.flush()
                os.dup2(_saved_fd, 2)
                try:
                    _forward()
                finally:
                    os.close(_saved_fd)
                    _saved_fd = None
