"""Access control: the Origin allowlist (WebSockets and CORS) and the optional API token.

Origins (``Settings.allowed_origins``, env ``GAZESCOPE_ALLOWED_ORIGINS``): a browser WebSocket may come from
the server's own origin, from ``http(s)://localhost``, ``127.0.0.1`` or ``[::1]`` on any port, or from a
listed origin; ``*`` allows every origin. Clients that send no ``Origin`` header (non-browser programs)
are not restricted by it: the Origin check protects browsers against cross-site WebSocket hijacking
(OWASP, "Cross-Site WebSocket Hijacking"; RFC 6455 section 10.2). A refused WebSocket gets HTTP 403 before
the handshake completes.

Cross-site requests (:func:`csrf_refusal`, applied to every HTTP request by
:class:`gazescope.api.limits.RequestGuardMiddleware`): CORS only hides responses from a foreign page; it does
not stop a form POST. A state-changing request (POST, PUT, PATCH, DELETE) is refused with 403 and a reason
when its ``Origin`` is present and not allowed (the rule above; ``Origin: null``, sent by sandboxed and
``file://`` pages, is not allowed), or when it has no ``Origin`` but ``Sec-Fetch-Site: cross-site``
(Fetch Metadata; OWASP CSRF Prevention Cheat Sheet). Requests without either header (curl, scripts) pass:
they are not made by a browser on another site's behalf. The paths of :data:`CSRF_EXEMPT_PATHS` are exempt.

Token (``Settings.api_token``, env ``GAZESCOPE_API_TOKEN``): when set, REST calls need
``Authorization: Bearer <token>`` (or ``?token=<token>``) and WebSockets ``?token=<token>``; otherwise REST
answers 401 and a WebSocket gets HTTP 401 before the handshake (or, where the server cannot send a
response, is closed with 1008 right after it). Tokens are compared with :func:`hmac.compare_digest`
(constant time) and never logged.

Session tokens (:mod:`gazescope.api.session_tokens`, docs/tokens.md) are accepted in the same places but
only for their session and rights: ``GET /api/sessions/{id}`` and ``/report`` (right ``read``), the
session's tracking WebSocket (``track``) and live WebSocket (``live``). Anywhere else they get 403 with a
reason; expired or not verifying, 401. A study's participant link token (``gsl1_...``,
docs/studies.md) is accepted only by the participant routes (``/api/participate``, which check it
themselves); anywhere else, 403 with a reason.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, WebSocket, status
from starlette.responses import PlainTextResponse

from gazescope.api import logs
from gazescope.api.deps import app_state
from gazescope.api.session_tokens import TokenError, is_session_token, verify
from gazescope.config import SecuritySettings
from gazescope.services.studies import is_link_token

LOCAL_ORIGIN_RE = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
_LOCAL_ORIGIN = re.compile(LOCAL_ORIGIN_RE + r"\Z")

#: Paths whose state-changing requests any origin may make (no cross-site check): seed 003's ``POST /upload``,
#: posted by the seed's ``file://`` page (``Origin: null``), which answers CORS for any origin itself (it is
#: in :data:`gazescope.api.seeds.CORS_OWN_PATHS`). The one place such exemptions are listed.
CSRF_EXEMPT_PATHS: frozenset[str] = frozenset({"/upload"})
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Close code for a policy violation (RFC 6455 section 7.4.1).
WS_POLICY_VIOLATION = 1008
#: Close code "try again later" (IANA WebSocket close code registry).
WS_TRY_AGAIN_LATER = 1013


def origin_allowed(origin: str | None, host: str | None, settings: SecuritySettings) -> bool:
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
    if not host:
        return False
    # same origin: the Origin's host:port is the Host the client connected to
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


def csrf_refusal(scope: Mapping[str, Any], settings: SecuritySettings) -> str | None:
    """The reason to refuse HTTP request ``scope`` as cross-site (see the module docstring), else None."""
    if scope.get("method") not in _STATE_CHANGING or scope.get("path") in CSRF_EXEMPT_PATHS:
        return None
    origin = host = fetch_site = None
    for k, v in scope.get("headers") or ():
        if k == b"origin":
            origin = v.decode("latin-1")
        elif k == b"host":
            host = v.decode("latin-1")
        elif k == b"sec-fetch-site":
            fetch_site = v.decode("latin-1").strip().lower()
    if origin is not None:
        if origin_allowed(origin, host, settings):
            return None
        return (
            f"cross-site request refused: Origin {origin[:100]!r} is not allowed to change data here "
            "(allowed: this server's origin, localhost, and GAZESCOPE_ALLOWED_ORIGINS)"
        )
    if fetch_site == "cross-site":
        return (
            "cross-site request refused: Sec-Fetch-Site is cross-site and the request has no allowed Origin"
        )
    return None


def token_ok(given: str | None, settings: SecuritySettings) -> bool:
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


#: Why a study's participant link token is refused outside its own routes.
LINK_TOKEN_REFUSAL = (
    "a study link token is accepted only on the participant routes /api/participate/... (docs/studies.md); "
    "this route needs the API token"
)

#: REST routes (method, path template) a session token may call, and the right each needs.
SESSION_TOKEN_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/sessions/{session_id}"): "read",
    ("GET", "/api/sessions/{session_id}/report"): "read",
}


def session_token_refusal(
    token: str, settings: SecuritySettings, session_id: str | None, right: str | None
) -> tuple[int, str] | None:
    """Why session token ``token`` may not do ``right`` on ``session_id`` (None when it may): ``(401,
    reason)`` when it is expired or does not verify, ``(403, reason)`` when it is for another session,
    lacks the right, or the route takes no session token (``right`` None)."""
    try:
        tok = verify(settings, token)
    except TokenError as exc:
        return status.HTTP_401_UNAUTHORIZED, exc.message
    if right is None or session_id is None:
        return (
            status.HTTP_403_FORBIDDEN,
            "a session token is not accepted here: this route needs the API token",
        )
    if tok.session_id != session_id:
        return status.HTTP_403_FORBIDDEN, "this session token is for another session"
    if right not in tok.rights:
        return status.HTTP_403_FORBIDDEN, f"this session token does not grant {right!r}"
    return None


def require_token(request: Request) -> None:
    """FastAPI dependency of the protected REST routes: 401 unless the token matches (when one is set).
    A session token passes only on :data:`SESSION_TOKEN_ROUTES` of its session (else 403, or 401 when
    expired or not verifying)."""
    settings: SecuritySettings = app_state(request).settings
    if settings.api_token is None:
        return
    given = bearer_token(request.headers.get("authorization")) or request.query_params.get("token")
    if given and is_link_token(given):
        logs.event("auth_refused", path=request.url.path, reason="study_link_token")
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=LINK_TOKEN_REFUSAL)
    if given and is_session_token(given):
        route = request.scope.get("route")
        template = getattr(route, "path", None)
        right = SESSION_TOKEN_ROUTES.get((request.method, template or ""))
        refusal = session_token_refusal(given, settings, request.path_params.get("session_id"), right)
        if refusal is None:
            return
        code, reason = refusal
        logs.event("auth_refused", path=request.url.path, reason="session_token", detail=reason)
        raise HTTPException(
            status_code=code,
            detail=reason,
            headers={"WWW-Authenticate": "Bearer"} if code == status.HTTP_401_UNAUTHORIZED else None,
        )
    if not token_ok(given, settings):
        logs.event("auth_refused", path=request.url.path, reason="missing" if not given else "mismatch")
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def deny_websocket(ws: WebSocket, status_code: int, detail: str) -> None:
    """Refuse a WebSocket before accepting it: an HTTP response where the server supports it (ASGI
    ``websocket.http.response``), else close (403 from the server before accept; after an accept, 1008
    with the reason for 401, 1013 "try again later" for 503)."""
    if "websocket.http.response" in ws.scope.get("extensions", {}):
        await ws.send_denial_response(PlainTextResponse(detail, status_code=status_code))
    elif status_code == status.HTTP_401_UNAUTHORIZED:
        await ws.accept()
        await ws.close(code=WS_POLICY_VIOLATION, reason=detail[:120])
    elif status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
        await ws.accept()
        await ws.close(code=WS_TRY_AGAIN_LATER, reason=detail[:120])
    else:
        await ws.close(code=WS_POLICY_VIOLATION)


_deny = deny_websocket


async def guard_websocket(
    ws: WebSocket, settings: SecuritySettings, *, session_id: str | None = None, right: str | None = None
) -> bool:
    """Check Origin and token of a WebSocket before it is accepted; refuse it and return False when either
    fails (403 for the Origin, 401 for the token). A session token passes only when it grants ``right``
    (``track``, ``live``) on ``session_id``; else 403, or 401 when expired or not verifying."""
    origin = ws.headers.get("origin")
    if not origin_allowed(origin, ws.headers.get("host"), settings):
        logs.event("ws_refused", path=ws.url.path, reason="origin", origin=origin)
        await _deny(ws, status.HTTP_403_FORBIDDEN, "origin not allowed")
        return False
    given = ws.query_params.get("token")
    if settings.api_token is not None and given and is_link_token(given):
        logs.event("ws_refused", path=ws.url.path, reason="study_link_token")
        await _deny(ws, status.HTTP_403_FORBIDDEN, LINK_TOKEN_REFUSAL)
        return False
    if settings.api_token is not None and given and is_session_token(given):
        refusal = session_token_refusal(given, settings, session_id, right)
        if refusal is None:
            return True
        logs.event("ws_refused", path=ws.url.path, reason="session_token", detail=refusal[1])
        await _deny(ws, *refusal)
        return False
    if not token_ok(given, settings):
        logs.event("ws_refused", path=ws.url.path, reason="token")
        await _deny(ws, status.HTTP_401_UNAUTHORIZED, "missing or invalid API token: add ?token=<token>")
        return False
    return True
