"""Session tokens: short-lived credentials a participant's browser may hold instead of the API token
(issue 20; docs/tokens.md).

A token grants ``rights`` on one session until ``exp`` (epoch s):

* ``track``: the session's tracking WebSocket (``/ws/sessions/{id}/track``);
* ``live``: its live observer WebSocket (``/ws/sessions/{id}/live``);
* ``read``: ``GET /api/sessions/{id}`` and ``GET /api/sessions/{id}/report``.

Nothing else: every other route refuses it with 403 and a reason; an expired token gets 401, and so does
a token whose signature does not verify (tampered, or signed with another secret).

Format: ``gst1.<payload>.<signature>``, ``payload`` the base64url (no padding) of the JSON
``{"sid": ..., "rights": [...], "iat": <s>, "exp": <s>}`` and ``signature`` the base64url of
HMAC-SHA256(secret, ``"gst1." + payload``) (RFC 2104; RFC 4648 section 5), compared in constant time.
The secret is ``Settings.token_secret``; unset, it is derived from ``Settings.api_token`` (SHA-256 of a
fixed label and the token), or, without an API token either, random per process (a warning is logged: a
token then works only on the process that minted it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Literal, get_args

from gazescope.config import SecuritySettings

Right = Literal["track", "live", "read"]
RIGHTS: tuple[str, ...] = get_args(Right)
DEFAULT_RIGHTS: tuple[Right, ...] = ("track", "read")
PREFIX = "gst1."
_LABEL = b"gazescope session tokens v1\0"
_RANDOM_SECRET = secrets.token_bytes(32)
_warned = False
_log = logging.getLogger("gazescope.tokens")


class TokenError(Exception):
    """A session token that does not verify (``expired`` False) or has expired (``expired`` True)."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


@dataclass(frozen=True)
class SessionToken:
    """A verified token: the session it is for, its rights and its expiry (epoch seconds)."""

    session_id: str
    rights: frozenset[str]
    expires_at_s: int


def is_session_token(value: str | None) -> bool:
    """Whether ``value`` has the session token form (it may still not verify)."""
    return bool(value) and value.startswith(PREFIX)  # type: ignore[union-attr]


def signing_secret(settings: SecuritySettings) -> bytes:
    """The HMAC key (see the module docstring for its three sources)."""
    global _warned
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode()
    if settings.api_token is not None:
        return hashlib.sha256(_LABEL + settings.api_token.get_secret_value().encode()).digest()
    if not _warned:
        _warned = True
        _log.warning(
            "session tokens are signed with a random per-process secret: set GAZESCOPE_TOKEN_SECRET (or "
            "GAZESCOPE_API_TOKEN) so they survive a restart and work across workers"
        )
    return _RANDOM_SECRET


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, (PREFIX + payload).encode("ascii"), hashlib.sha256).digest())


def mint(
    settings: SecuritySettings,
    session_id: str,
    rights: tuple[str, ...],
    ttl_s: int,
    *,
    now_s: float | None = None,
) -> tuple[str, int]:
    """A token for ``session_id`` granting ``rights`` (each in :data:`RIGHTS`) for ``ttl_s`` seconds;
    returns ``(token, expires_at_s)``. Raises ValueError for an unknown right or a ttl_s below 1."""
    if ttl_s < 1 or any(r not in RIGHTS for r in rights):
        raise ValueError(f"rights must be among {RIGHTS} and ttl_s >= 1")
    iat = int(time.time() if now_s is None else now_s)
    exp = iat + int(ttl_s)
    body = {"sid": session_id, "rights": sorted(set(rights)), "iat": iat, "exp": exp}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{PREFIX}{payload}.{_sign(signing_secret(settings), payload)}", exp


def verify(settings: SecuritySettings, token: str, *, now_s: float | None = None) -> SessionToken:
    """The token's session, rights and expiry.

    Raises:
        TokenError: malformed or bad signature (``expired=False``), or past its expiry (``expired=True``).
    """
    if not is_session_token(token):
        raise TokenError("not a session token")
    payload, _, sig = token[len(PREFIX) :].partition(".")
    if not payload or not sig or not hmac.compare_digest(sig, _sign(signing_secret(settings), payload)):
        raise TokenError("session token signature does not verify")
    try:
        body = json.loads(_unb64(payload))
        sid, rights, exp = body["sid"], body["rights"], body["exp"]
        if not isinstance(sid, str) or not isinstance(exp, int) or not isinstance(rights, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise TokenError("malformed session token") from None
    now = time.time() if now_s is None else now_s
    if now >= exp:
        raise TokenError("session token expired", expired=True)
    return SessionToken(sid, frozenset(str(r) for r in rights), exp)
