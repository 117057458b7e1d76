"""Stamping frames with the session clock: ``t_ms`` strictly increasing, following the client's clock
while it stays near the server's (docs/engine.md, "Time")."""

from __future__ import annotations

import math
import time
from typing import NamedTuple

#: A client clock further than this from the server clock is re-anchored (ms).
CLOCK_SLACK_MS = 2000.0


class Stamp(NamedTuple):
    """When a frame arrived: ``t_ms`` on the session clock (ms since the session was created, rounded to
    1 µs) and ``epoch_ms``, the server's Unix time in ms."""

    t_ms: float
    epoch_ms: float


class SessionClock:
    """The clock of one session's samples.

    Args:
        created_at_ms: the session's creation time (Unix ms): ``t_ms`` 0.
        last_t_ms: ``t_ms`` of the session's last stored sample (a reconnect continues after it).
    """

    def __init__(self, created_at_ms: float, last_t_ms: float = -math.inf) -> None:
        self.created_at_ms = created_at_ms
        self.last_t_ms = last_t_ms
        self._offset: float | None = None  # client clock -> session clock, set on the first client time

    def stamp(self, client_t_ms: float | None) -> Stamp:
        """Stamp a frame received now. With the client's capture time (ms on any clock), intervals follow
        the client's clock, re-anchored to the server's when it goes backwards or is more than
        :data:`CLOCK_SLACK_MS` off; without it, the server's receive time. Always > the previous stamp."""
        epoch_ms = time.time() * 1000.0
        server_t = epoch_ms - self.created_at_ms
        t = server_t
        if client_t_ms is not None:
            if self._offset is None:
                self._offset = server_t - client_t_ms
            t = client_t_ms + self._offset
            if t <= self.last_t_ms or abs(t - server_t) > CLOCK_SLACK_MS:
                self._offset = server_t - client_t_ms
                t = server_t
        t = round(max(t, self.last_t_ms + 0.001), 3)
        self.last_t_ms = t
        return Stamp(t, epoch_ms)
