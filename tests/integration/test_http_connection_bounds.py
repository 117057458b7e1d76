"""Half-open HTTP connections are bounded on a real ``gazescope serve`` (issue 20, defect 1): a connection
that does not finish its request line and headers within ``GAZESCOPE_HTTP_HEADER_TIMEOUT_S`` is closed,
one accepted past ``GAZESCOPE_MAX_OPEN_CONNECTIONS`` is closed at once, both are logged, and ``/healthz``
answers meanwhile (or, at the cap, once the half-open ones are gone).

Before: uvicorn started no timer on a new connection; 200 half-open requests held for 60 s were all kept.
"""

from __future__ import annotations

import contextlib
import socket
import time

import httpx
import pytest

pytestmark = pytest.mark.integration

#: Longest wait for the server to close a connection (a bound for the test, far above the timeouts set).
CLOSE_WAIT_S = 30.0


def _half_open(port: int, n: int, partial: bytes) -> list[socket.socket]:
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        if partial:
            s.sendall(partial)
        socks.append(s)
    return socks


def _closed_by_server(s: socket.socket, deadline: float) -> bool:
    """Whether the server closes ``s`` (EOF or reset, with no response) before ``deadline``."""
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _healthz(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code
    except httpx.HTTPError:
        return None


def test_half_open_connections_are_closed_and_healthz_answers(serve) -> None:
    srv = serve(GAZESCOPE_HTTP_HEADER_TIMEOUT_S="2")
    socks = _half_open(srv.port, 40, b"GET /healthz HT") + _half_open(srv.port, 20, b"")
    socks += _half_open(srv.port, 20, b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n")
    try:
        assert _healthz(srv.url) == 200  # served while the half-open ones wait
        deadline = time.monotonic() + CLOSE_WAIT_S
        still_open = sum(not _closed_by_server(s, deadline) for s in socks)
        assert still_open == 0, f"{still_open} of {len(socks)} half-open connections were kept"
        assert _healthz(srv.url) == 200
        # a complete request is not cut by the timer, also on a kept-alive connection
        with httpx.Client(base_url=srv.url) as c:
            assert [c.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]
        assert "http_header_timeout" in srv.log()
    finally:
        for s in socks:
            s.close()


def test_connections_past_the_cap_are_closed_at_once_and_logged(serve) -> None:
    srv = serve(GAZESCOPE_HTTP_HEADER_TIMEOUT_S="3", GAZESCOPE_MAX_OPEN_CONNECTIONS="20")
    socks = _half_open(srv.port, 20, b"GET / HTTP/1.1\r\n")
    try:
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            with contextlib.suppress(OSError):  # reset before the request went out
                extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _closed_by_server(extra, time.monotonic() + CLOSE_WAIT_S), "served past the cap"
        finally:
            extra.close()
        assert "http_connection_refused" in srv.log()
        # once the half-open ones time out, new clients are served again
        deadline = time.monotonic() + CLOSE_WAIT_S
        assert all(_closed_by_server(s, deadline) for s in socks)
        assert _healthz(srv.url) == 200
    finally:
        for s in socks:
            s.close()
