"""Bounds on what one client can make the server spend: request bodies, JSON values, numbers, WebSockets.

Every limit is a :class:`~gazescope.config.Settings` field (README, "Reliability and limits" / "Limits").

* **Request bodies** (:class:`RequestGuardMiddleware`, inside the Host check and CORS): a body larger than
  ``Settings.max_body_bytes`` (the multipart stimulus upload ``POST /api/stimuli``: the larger of
  ``max_stimulus_bytes`` and ``max_stimulus_video_bytes``, plus :data:`MULTIPART_OVERHEAD_BYTES`; the route
  then holds each kind to its own limit) is answered 413 before it is read when ``Content-Length`` says so,
  and as soon as the count passes the limit while a chunked body streams. The same middleware refuses
  cross-site state-changing requests (:func:`gazescope.api.security.csrf_refusal`) and adds
  ``X-Content-Type-Options: nosniff`` to every response.
* **JSON bodies** (:class:`GuardedRoute`, the route class of every REST router): a body over
  :data:`OFFLOOP_JSON_BYTES` is parsed in a worker thread, never on the event loop; the parsed value is
  walked (:func:`check_client_json`) before any validation: more than ``Settings.max_json_items`` values is
  413, a number that is not finite or beyond :data:`MAX_CLIENT_NUMBER` is 422.
* **WebSocket messages** get the same number check at the edge (:mod:`gazescope.api.wire`), so a huge
  integer or a NaN never reaches a handler (an ``error`` reply; the connection goes on).
* **WebSocket connections** (:class:`gazescope.api.connection_slots.ConnectionSlots`): at most ``Settings.max_connections`` open at once
  and ``Settings.max_connections_per_client`` per client address; the next one is refused with HTTP 503 at
  the handshake.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

import anyio
from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gazescope.api.deps import app_state
from gazescope.config import LimitSettings, Settings

MAX_CLIENT_NUMBER = 1e15
"""Largest magnitude of any number a client sends (REST bodies and WebSocket messages): 1e15 ms is 31,700
years, above every time, pixel or count gazescope reads, and within the range where floats hold integers
exactly (2**53 ~ 9.0e15). A larger number, NaN or an infinity is refused at the edge."""
MAX_QUERY_INT = 1_000_000_000
"""Largest ``offset``/``start``/``limit`` query value (SQLite integers are 64-bit: larger ones would
overflow in the store; no store here holds a billion rows)."""
OFFLOOP_JSON_BYTES = 64 * 1024
"""JSON bodies larger than this are parsed in a worker thread (a 64 KiB body parses in well under 1 ms)."""
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Allowance over the stimulus limits for a multipart upload's boundaries, headers and text fields."""
STIMULUS_UPLOAD_PATH = "/api/stimuli"
"""The one route that takes a multipart body (an image or a video stimulus)."""
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BadClientNumber(ValueError):
    """A number from a client that is not finite or is beyond :data:`MAX_CLIENT_NUMBER`; ``loc`` is its
    path in the message (keys and list indices)."""

    loc: tuple[Any, ...] = ()

    def __init__(self, where: str, value: Any) -> None:
        text = (
            repr(value)
            if isinstance(value, float)
            else f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1} digits"
        )
        super().__init__(
            f"{where or 'the value'} must be a finite number within ±{MAX_CLIENT_NUMBER:.0e}, got {text}"
        )
        self.where = where


class TooManyItems(ValueError):
    """A JSON value with more than the allowed number of values in it."""


def _path(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def check_number(v: Any, where: str = "") -> None:
    """Raise :class:`BadClientNumber` when ``v`` is a number (not bool) that is NaN, infinite or beyond
    :data:`MAX_CLIENT_NUMBER`."""
    if isinstance(v, bool):
        return
    if isinstance(v, int):
        if -MAX_CLIENT_NUMBER <= v <= MAX_CLIENT_NUMBER:
            return
        raise BadClientNumber(where, v)
    if isinstance(v, float) and not (math.isfinite(v) and abs(v) <= MAX_CLIENT_NUMBER):
        raise BadClientNumber(where, v)


def check_client_json(value: Any, *, max_items: int | None = None, root: str = "") -> int:
    """Walk a parsed JSON value (iteratively: no recursion limit) and return how many values it holds.

    Raises:
        TooManyItems: more than ``max_items`` values (counted before anything is validated).
        BadClientNumber: a number that is NaN, infinite or beyond :data:`MAX_CLIENT_NUMBER`, named by its
            path (``points[3].t_ms``).
    """
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, (root,) if root else ())]
    count = 0
    while stack:
        v, where = stack.pop()
        count += 1
        if max_items is not None and count > max_items:
            raise TooManyItems(f"more than {max_items} JSON values in one message")
        if isinstance(v, dict):
            stack.extend((x, (*where, str(k)[:64])) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, (*where, i)) for i, x in enumerate(v))
        elif isinstance(v, int | float):
            try:
                check_number(v, "")
            except BadClientNumber:
                exc = BadClientNumber(_path(where), v)
                exc.loc = where
                raise exc from None
    return count


def parse_client_json(body: bytes, max_items: int) -> Any:
    """``json.loads`` plus :func:`check_client_json`; HTTP 413 for too many values, 422 for a bad number.
    A malformed body raises ``json.JSONDecodeError`` (FastAPI answers it 422)."""
    try:
        value = json.loads(body)
    except RecursionError:  # "[" * 100000
        raise HTTPException(422, "the JSON body is nested too deeply") from None
    try:
        check_client_json(value, max_items=max_items, root="body")
    except TooManyItems as exc:
        raise HTTPException(413, f"{exc} (GAZESCOPE_MAX_JSON_ITEMS)") from None
    except BadClientNumber as exc:  # the shape of FastAPI's own 422 body
        detail = [{"type": "finite_number", "loc": list(exc.loc), "msg": str(exc), "input": None}]
        raise HTTPException(422, detail) from None
    return value


class _CheckedRequest(Request):
    """A request whose ``json()`` is :func:`parse_client_json`, in a worker thread for large bodies."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                limits: LimitSettings = app_state(self).settings
            except AttributeError:  # an app whose lifespan has not run (no AppState yet)
                limits = LimitSettings()
            max_items = limits.max_json_items
            if len(body) > OFFLOOP_JSON_BYTES:
                self._json = await anyio.to_thread.run_sync(parse_client_json, body, max_items)
            else:
                self._json = parse_client_json(body, max_items)
        return self._json


class GuardedRoute(APIRoute):
    """Route class of the REST routers: JSON bodies are parsed by :class:`_CheckedRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            return await handler(_CheckedRequest(request.scope, request.receive))

        return guarded


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, setting: str, value: int | None = None) -> None:
        named = f"GAZESCOPE_{setting.upper()}"
        if value is not None and value != limit:
            named += f"={value}, plus {limit - value} bytes of multipart framing"
        super().__init__(413, f"request body exceeds the limit of {limit} bytes ({named})")


def body_limit(scope: Scope, settings: LimitSettings) -> tuple[int, str, int]:
    """(limit in bytes, name of its setting, the setting's value) of the body of request ``scope``.

    A multipart body to :data:`STIMULUS_UPLOAD_PATH` may be an image or a video, unknown until it is read:
    its limit is the larger of ``max_stimulus_bytes`` and ``max_stimulus_video_bytes`` (plus
    :data:`MULTIPART_OVERHEAD_BYTES`); the route refuses an image over the image limit. Any other body,
    multipart or not, has ``max_body_bytes``."""
    ctype = ""
    for k, v in scope.get("headers") or ():
        if k == b"content-type":
            ctype = v.decode("latin-1").lower()
            break
    path = str(scope.get("path") or "").rstrip("/")
    if ctype.startswith("multipart/") and path == STIMULUS_UPLOAD_PATH:
        value, setting = max(
            (settings.max_stimulus_video_bytes, "max_stimulus_video_bytes"),
            (settings.max_stimulus_bytes, "max_stimulus_bytes"),
        )
        return value + MULTIPART_OVERHEAD_BYTES, setting, value
    return settings.max_body_bytes, "max_body_bytes", settings.max_body_bytes


async def _send_json(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


NOSNIFF = (b"x-content-type-options", b"nosniff")


class RequestGuardMiddleware:
    """Body size limits, the cross-site check of state-changing requests, and ``nosniff`` on every
    response (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from gazescope.api import logs
        from gazescope.api.security import csrf_refusal

        s = self.settings
        refusal = csrf_refusal(scope, s)
        if refusal is not None:
            logs.event("csrf_refused", path=scope.get("path"), method=scope.get("method"), reason=refusal)
            await _send_json(send, 403, refusal, [NOSNIFF])
            return

        async def send_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                if not any(k.lower() == NOSNIFF[0] for k, _ in headers):
                    headers.append(NOSNIFF)
                message = {**message, "headers": headers}
            await send(message)

        if scope.get("method") not in _BODY_METHODS:
            await self.app(scope, receive, send_nosniff)
            return
        limit, setting, value = body_limit(scope, s)
        for k, v in scope.get("headers") or ():
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    await _send_json(send, 400, "malformed Content-Length", [NOSNIFF])
                    return
                if declared > limit:
                    logs.event("body_refused", path=scope.get("path"), declared=declared, limit=limit)
                    await _send_json(send, 413, BodyTooLarge(limit, setting, value).detail, [NOSNIFF])
                    return
                break
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    logs.event("body_refused", path=scope.get("path"), received=seen, limit=limit)
                    raise BodyTooLarge(limit, setting, value)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send_nosniff(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:  # raised where the app does not turn it into a response itself
            if started:
                raise
            await _send_json(send, 413, str(exc.detail), [NOSNIFF])
