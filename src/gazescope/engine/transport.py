"""What the engine needs of a connection to a client (:class:`Transport`) and the codes it closes with."""

from __future__ import annotations

from enum import IntEnum
from typing import Protocol


class CloseCode(IntEnum):
    """WebSocket close codes of tracking connections (RFC 6455 7.4; 4000-4999 are the application's)."""

    NORMAL = 1000  # the session ended
    GOING_AWAY = 1001  # idle timeout or server shutdown
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    REPLACED = 4000  # taken over by a newer connection of the session
    SESSION_NOT_FOUND = 4404
    SESSION_ENDED = 4409
    SESSION_DELETED = 4410


class Disconnected(Exception):
    """The client closed the connection; ``code`` is its close code (None when it sent none)."""

    def __init__(self, code: int | None = None) -> None:
        super().__init__(f"disconnected ({code})")
        self.code = code


class TransportError(OSError):
    """The connection broke or can no longer be used (sending or receiving failed)."""


class Transport(Protocol):
    """One client connection as the engine uses it (a WebSocket, or an in-memory pair in tests)."""

    @property
    def connected(self) -> bool:
        """True while messages can be sent (accepted and not closed)."""
        ...

    async def send_text(self, text: str) -> None:
        """Send one text message.

        Raises:
            TransportError: the connection is gone.
        """
        ...

    async def receive(self) -> str | bytes:
        """The next message: ``str`` for a text message, ``bytes`` for a binary one.

        Raises:
            Disconnected: the client closed the connection.
            TransportError: the connection broke.
        """
        ...

    async def close(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason`` (at most 123 bytes of UTF-8; callers pass <= 120 chars)."""
        ...
