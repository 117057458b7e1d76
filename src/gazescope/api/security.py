"""Access control: the Origin allowlist (WebSockets and CORS) and the optional API token.

Origins (``Settings.allowed_origins``, env ``GAZESCOPE_ALLOWED_ORIGINS``): a browser WebSocket may come from
the server's own origin, from ``http(s)://localhost``, ``127.0.0.1`` or ``[::1]`` on any port, or from a
listed origin; ``*`` allows every origin. Clients that send no ``Origin`` header (non-browser programs)
are not restricted by it: the Origin check protects browsers against cross-site WebSocket hijacking
(OWASP, "Cross-Site WebSocket Hijacking"; RFC 6455 section 10.2). A refused WebSocket gets HTTP 403 before
the handshake completes.

Token (``Settings.api_token``, env ``GAZESCOPE_API_TOKEN``): when set, REST calls need
``Authorization: Bearer <token>`` (or ``?token=<token>``) and WebSockets ``?token=<token>``; otherwise REST
answers 401 and a WebSocket gets HTTP 401 before the handshake (or, where the server cannot send a
response, is closed with 1008 right after it). Tokens are compared with :func:`hmac.compare_digest`
(constant time) and never logged.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, WebSocket, status
from starlette.responses import PlainTextResponse

from gazescope.api import logs
from gazescope.config import Settings

LOCAL_ORIGIN_RE = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
_LOCAL_ORIGIN = re.compile(LOCAL_ORIGIN_RE + r"\Z")

#: Close code for a policy violation (RFC 6455 section 7.4.1).
WS_POLICY_VIOLATION = 1008


def origin_allowed(origin: str | None, host: str | None, settings: Settings) -> bool:
    """Whether a request with header ``Origin: origin`` to ``Host: host`` is allowed (see module doc)."""
    if origin is None:
        return True
    origin = origin.strip().rstrip("/")
    allowed = settings.allowed_origins
    if "*" in allowed or origin in allowed:
        return True
    if _LOCAL_ORIGIN.match(origin):
        return True
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    # same origin: the Origin's host:port is the Host the client connected to
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def token_ok(given: str | None, settings: Settings) -> bool:
    """True when no token is configured or ``given`` equals it (constant-time comparison)."""
    if settings.api_token is None:
        return True
    if not given:
        return False
    expected = settings.api_token.get_secret_value().encode()
    return hmac.compare_digest(given.encode(), expected)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_token(request: Request) -> None:
    """FastAPI dependency of the protected REST routes: 401 unless the token matches (when one is set)."""
    settings: Settings = request.app.state.gs.settings
    if settings.api_token is None:
        return
    given = bearer_token(request.headers.get("authorization")) or request.query_params.get("token")
    if not token_ok(given, settings):
        logs.event("auth_refused", path=request.url.path, reason="missing" if not given else "mismatch")
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def _deny(ws: WebSocket, status_code: int, detail: str) -> None:
    """Refuse a WebSocket before accepting it: an HTTP response where the server supports it (ASGI
    ``websocket.http.response``), else close (403 from the server before accept)."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(PlainTextResponse(detail, status_code=status_code))
    elif status_code == status.HTTP_401_UNAUTHORIZED:
        await ws.accept()
        await ws.close(code=WS_POLICY_VIOLATION, reason=detail[:120])
    else:
        await ws.close(code=WS_POLICY_VIOLATION)


async def guard_websocket(ws: WebSocket, settings: Settings) -> bool:
    """Check Origin and token of a WebSocket before it is accepted; refuse it and return False when either
    fails (403 for the Origin, 401 for the token)."""
    origin = ws.headers.get("origin")
    if not origin_allowed(origin, ws.headers.get("host"), settings):
        logs.event("ws_refused", path=ws.url.path, reason="origin", origin=origin)
        await _deny(ws, status.HTTP_403_FORBIDDEN, "origin not allowed")
        return False
    if not token_ok(ws.query_params.get("token"), settings):
        logs.event("ws_refused", path=ws.url.path, reason="token")
        await _deny(ws, status.HTTP_401_UNAUTHORIZED, "missing or invalid API token: add ?token=<token>")
        return False
    return True
