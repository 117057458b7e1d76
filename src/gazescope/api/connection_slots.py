"""Open WebSockets, in total and per client address: the connection limits of :mod:`gazescope.api.limits`
(``Settings.max_connections``, ``max_connections_per_client``), kept in :class:`~gazescope.api.state.AppState`
and taken by every WebSocket route before its handshake (:func:`gazescope.api.ws.tracking.admit`)."""

from __future__ import annotations

from collections import Counter


class ConnectionSlots:
    """Open WebSockets, in total and per client address (``Settings.max_connections``,
    ``max_connections_per_client``). Runs on the event loop only (no lock needed)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.by_client: Counter[str] = Counter()
        self.open = 0

    def acquire(self, client: str) -> tuple[str, str] | None:
        """Take a slot for ``client``; None when taken, else (which limit: ``connections`` or
        ``connections_per_client``, the reason of the refusal)."""
        if self.open >= self.total:
            return "connections", (
                f"server busy: {self.open} WebSockets are open, the most it serves "
                f"(GAZESCOPE_MAX_CONNECTIONS={self.total}); try again later"
            )
        if self.by_client[client] >= self.per_client:
            return "connections_per_client", (
                f"too many connections from your address: {self.by_client[client]} are open, the most per "
                f"client (GAZESCOPE_MAX_CONNECTIONS_PER_CLIENT={self.per_client}); close one first"
            )
        self.open += 1
        self.by_client[client] += 1
        return None

    def release(self, client: str) -> None:
        self.open = max(0, self.open - 1)
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]
