"""Bounds on HTTP connections below the application: the time to send a request's headers and the number
of open connections (``gazescope serve``; issue 20, defect 1).

uvicorn (0.55, h11) starts no timer on a new connection: one that sends nothing, or half a request line,
is kept until the client leaves, and each holds a file descriptor. Its ``timeout_keep_alive`` runs only
between requests, and its ``limit_concurrency`` answers 503 to a complete request but keeps the socket, so
neither bounds descriptors. :class:`GuardedH11Protocol` (the ``http`` protocol that
:func:`gazescope.cli.serve.run_server` gives uvicorn) adds both bounds:

* **Header timeout** (``Settings.http_header_timeout_s``): from the connection's start, and from the first
  byte of each next request on a kept-alive connection, the request line and headers must be complete
  within the timeout, else the connection is closed (as nginx's ``client_header_timeout``; no response,
  since HTTP has none for a request that never arrived). Bodies and WebSockets are not timed by it.
* **Open connections** (:func:`max_open_connections`): a connection accepted while that many are open
  (HTTP and WebSocket together, in this process) is closed at once, before it costs anything else.

Both are logged, at most one line a second per kind with the count since the last line
(``http_connection_refused``, ``http_header_timeout``), so a flood cannot flood the log.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from gazescope.config import Settings

FD_HEADROOM = 256
"""Descriptors kept for everything but client connections (store files, Redis, worker pipes, models,
logs) when the connection cap is derived from ``RLIMIT_NOFILE``."""
MIN_OPEN_CONNECTIONS = 16
"""Smallest derived connection cap (a tiny descriptor limit still serves a few clients)."""


def max_open_connections(settings: Settings) -> int:
    """Most open client connections of one server process: ``Settings.max_open_connections`` when set,
    else the soft ``RLIMIT_NOFILE`` less :data:`FD_HEADROOM` (at least :data:`MIN_OPEN_CONNECTIONS`;
    768 under the common soft limit of 1,024)."""
    if settings.max_open_connections is not None:
        return settings.max_open_connections
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(MIN_OPEN_CONNECTIONS, soft - FD_HEADROOM)


class GuardedConfig(uvicorn.Config):
    """uvicorn's Config with the two bounds read by :class:`GuardedH11Protocol` (a module-level class, so it
    pickles into worker processes)."""

    def __init__(self, *args: Any, header_timeout_s: float, max_open_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.max_open_connections = max_open_connections


class _EveryOther:
    """Logs one event a second at most, with the count of occurrences since the last line; what a burst
    leaves uncounted is written a second after its last line (on the running event loop)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.last = 0.0
        self.fields: dict[str, Any] = {}
        self._flush: asyncio.TimerHandle | None = None

    def note(self, **fields: Any) -> None:
        self.count += 1
        self.fields = fields
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.write()
        elif self._flush is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._flush = loop.call_later(1.0 - (now - self.last), self.write)

    def write(self) -> None:
        """Log the count since the last line (nothing when it is 0)."""
        from gazescope.api import logs

        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self.count:
            logs.event(self.name, level=logging.WARNING, count=self.count, **self.fields)
            self.count = 0
            self.last = time.monotonic()


_REFUSED = _EveryOther("http_connection_refused")
_TIMED_OUT = _EveryOther("http_header_timeout")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a cap on open connections (module docstring)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout_s: float | None = getattr(config, "header_timeout_s", None)
        self.max_open: int | None = getattr(config, "max_open_connections", None)
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.max_open is not None and len(self.connections) > self.max_open:
            self.connections.discard(self)
            _REFUSED.note(client=_client(self.client), open=len(self.connections), limit=self.max_open)
            transport.abort()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first byte of a next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the request line and headers are in (or the connection failed or upgraded)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self.header_timeout_s is not None and self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        _TIMED_OUT.note(client=_client(self.client), timeout_s=self.header_timeout_s)
        self.transport.close()


def _client(addr: tuple[str, int] | None) -> str:
    return addr[0] if addr else "?"
