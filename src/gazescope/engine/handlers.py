"""Message handlers by type and start hooks of an app's tracking connections (one registry per app)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from gazescope.engine.wire import Inbound

#: The connection type handlers get (``TrackingConnection``; a type parameter, so this module names no
#: engine class above it).
ConnT = TypeVar("ConnT")

#: ``await handler(conn, inbound)`` for a text message of its type, on the event loop.
MessageHandler = Callable[[ConnT, Inbound], Awaitable[None]]
#: ``await hook(conn)`` when a connection starts serving.
StartHook = Callable[[ConnT], Awaitable[None]]

#: Message types every connection handles itself.
BUILT_IN = ("frame", "ping")


class HandlerRegistry(Generic[ConnT]):
    """The message types an app's tracking connections understand beyond ``frame`` and ``ping``, and
    what runs when one starts (e.g. the calibration messages and applying a saved calibration).
    ``ConnT`` is the connection type (``HandlerRegistry[TrackingConnection[Any]]`` in the app)."""

    def __init__(self) -> None:
        self._handlers: dict[str, MessageHandler[ConnT]] = {}
        self._start_hooks: list[StartHook[ConnT]] = []

    def register(self, message_type: str, handler: MessageHandler[ConnT]) -> None:
        """Handle text messages of ``message_type`` (e.g. ``calibration_start``) with ``handler``.

        ``handler(conn, inbound)`` runs on the event loop; CPU work belongs in ``await conn.state.cpu``.
        A :class:`~gazescope.errors.GazescopeError` it raises is answered as an ``error`` message with its
        ``code``; the connection goes on.

        Raises:
            ValueError: ``message_type`` is built in (``frame``, ``ping``) or already has a handler.
        """
        if message_type in BUILT_IN:
            raise ValueError(f"message type {message_type!r} is built in ({', '.join(BUILT_IN)})")
        if self._handlers.get(message_type, handler) is not handler:
            raise ValueError(
                f"message type {message_type!r} already has a handler; registered: "
                + ", ".join(sorted(self._handlers))
            )
        self._handlers[message_type] = handler

    def add_start_hook(self, hook: StartHook[ConnT]) -> None:
        """Run ``await hook(conn)`` when a connection starts serving, after its ``session`` message and
        before any frame is read (in the order added; added once). A failing hook is logged; the
        connection goes on."""
        if hook not in self._start_hooks:
            self._start_hooks.append(hook)

    def handler(self, message_type: str) -> MessageHandler[ConnT] | None:
        """The handler of ``message_type``; None when it has none."""
        return self._handlers.get(message_type)

    @property
    def start_hooks(self) -> tuple[StartHook[ConnT], ...]:
        """The start hooks, in the order they run."""
        return tuple(self._start_hooks)

    def message_types(self) -> list[str]:
        """Every message type the connections understand, sorted (the built-in ones included)."""
        return sorted({*BUILT_IN, *self._handlers})
