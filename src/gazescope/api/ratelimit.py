"""Admission of writes: a per-client rate limit and the free-disk watermark (docs/operations.md, "Limits").

:class:`WriteLimitMiddleware` (inside CORS, outside the body limits) looks at every HTTP request that
writes: ``POST``, ``PUT``, ``PATCH`` and ``DELETE`` on any route, seed 003's ``/upload`` included.
WebSockets (tracking frames have their own pacing) and reads pass untouched.

* **Rate limit**: a token bucket per client address (the ASGI client, the same address the WebSocket caps
  count by: the TCP peer, or the forwarded client when uvicorn trusts the proxy), holding
  ``Settings.rate_limit_burst`` writes and refilled at ``rate_limit_writes_per_s``, and a second one of
  request-body bytes (``Content-Length``; ``rate_limit_bytes_burst``, ``rate_limit_bytes_per_s``). An empty bucket is
  answered 429 ``rate_limited`` with ``Retry-After`` (whole seconds until one write is allowed) before the
  body is read. The first refusal of a run is logged (``rate_limited``), not every one; every refusal is
  counted in ``gazescope_refused_total{reason="rate_limited"}`` (``storage_full`` for the next one).
* **Free disk**: while :func:`gazescope.services.quotas.free_disk_refusal` gives a reason (SQLite store with
  less than ``min_free_disk_bytes`` free), writes other than ``DELETE`` and a session's ``/end`` are
  answered 503 ``storage_full`` (logged once per run of refusals). Tracking WebSockets go on replying;
  samples the store then refuses go through the store-outage backlog (counted, logged as lost when dropped).
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from gazescope.api import logs
from gazescope.config import Settings
from gazescope.services.quotas import free_disk_refusal

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths that answer CORS themselves (seed 003's ``/upload`` allows any origin): refusals carry the header.
_OPEN_CORS_PATHS = frozenset({"/upload"})


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens at most, refilled at ``rate`` per second, at most
    ``max_keys`` buckets kept (the least recently used is forgotten first: a full bucket again)."""

    def __init__(
        self, rate: float, burst: int, max_keys: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.max_keys, self.clock = rate, float(burst), max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens (at most ``burst``) from ``key``'s bucket: 0.0 when taken, else the seconds
        until they are there (nothing is taken then)."""
        now = self.clock()
        cost = min(float(cost), self.burst)
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def client_key(scope: Scope) -> str:
    """The client address of a request (as ``api.ws.tracking.client_address`` for WebSockets)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class WriteLimitMiddleware:
    """The rate limit and free-disk refusal of writes (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        q = settings.quotas
        self.buckets = (
            TokenBuckets(q.rate_limit_writes_per_s, q.rate_limit_burst, q.rate_limit_max_clients)
            if q.rate_limit_writes_per_s > 0
            else None
        )
        self.byte_buckets = (
            TokenBuckets(q.rate_limit_bytes_per_s, q.rate_limit_bytes_burst, q.rate_limit_max_clients)
            if q.rate_limit_bytes_per_s > 0
            else None
        )
        self._limited: set[str] = set()  # clients whose last write was refused (logged once a run)
        self._disk_full = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        client = client_key(scope)
        wait = self.buckets.take(client) if self.buckets is not None else 0.0
        if wait == 0.0 and self.byte_buckets is not None:
            wait = self.byte_buckets.take(client, _content_length(scope))
        if wait > 0:
            _count(scope, "rate_limited")
            await self._refuse_rate(send, client, path, wait)
            return
        self._limited.discard(client)
        if scope["method"] != "DELETE" and not path.endswith("/end"):
            reason = free_disk_refusal(self.settings.quotas, self.settings.storage)
            if reason is not None:
                if not self._disk_full:
                    logs.event("storage_full", path=path, reason=reason)
                self._disk_full = True
                _count(scope, "storage_full")
                await _send(send, path, 503, {"detail": reason, "code": "storage_full"}, {})
                return
            self._disk_full = False
        await self.app(scope, receive, send)

    async def _refuse_rate(self, send: Send, client: str, path: str, wait: float) -> None:
        q = self.settings.quotas
        retry = max(1, math.ceil(wait))
        if client not in self._limited:
            self._limited.add(client)
            logs.event("rate_limited", client=client, path=path, retry_after_s=retry)
        detail = (
            f"too many writes from this client: at most {q.rate_limit_burst} at once and "
            f"{q.rate_limit_writes_per_s:g} a second, {q.rate_limit_bytes_burst} bytes at once and "
            f"{q.rate_limit_bytes_per_s} a second (GAZESCOPE_RATE_LIMIT_BURST, "
            f"GAZESCOPE_RATE_LIMIT_WRITES_PER_S, GAZESCOPE_RATE_LIMIT_BYTES_BURST, "
            f"GAZESCOPE_RATE_LIMIT_BYTES_PER_S); retry in {retry} s"
        )
        body = {"detail": detail, "code": "rate_limited", "retry_after_s": retry}
        await _send(send, path, 429, body, {"retry-after": str(retry)})


def _content_length(scope: Scope) -> int:
    """The request's ``Content-Length`` (0 when absent or bad: chunked bodies are bounded by the body
    limits of ``api/limits.py``)."""
    for k, v in scope.get("headers") or ():
        if k == b"content-length":
            try:
                return max(0, int(v))
            except ValueError:
                return 0
    return 0


def _count(scope: Scope, reason: str) -> None:
    """Count a refusal in ``gazescope_refused_total{reason}`` (once the app has started)."""
    app = scope.get("app")
    gs = getattr(getattr(app, "state", None), "gs", None)
    if gs is not None:
        gs.metrics.refused.labels(reason=reason).inc()


async def _send(send: Send, path: str, status: int, body: dict[str, object], headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    head = {
        **headers,
        "content-type": "application/json",
        "content-length": str(len(data)),
        "x-content-type-options": "nosniff",
    }
    if path in _OPEN_CORS_PATHS:
        head["access-control-allow-origin"] = "*"
    raw = [(k.encode(), v.encode()) for k, v in head.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})
