"""Client-side gaze points (seed 003: gaze computed in the browser) stored as samples of a running session,
so every analysis of stored samples works on them.

A point is ``{"t_ms", "x_px", "y_px"}`` (client clock ms; viewport px, origin top-left; ``x_px``/``y_px``
None for a moment without gaze). The session must be running, not tracked over its WebSocket at the same
time, and know its screen size; a batch continues the session's frame indices and must not start before its
last stored sample. The caller holds the session's lock around these steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gazescope.domain import SessionInfo
from gazescope.errors import GazescopeError
from gazescope.storage.frame_indices import Continuation

MAX_GAZE_POINTS = 10_000
"""Most gaze points per request (about 5 minutes at 30 Hz)."""


class GazeRejected(GazescopeError):
    """Gaze points that cannot be added: ``conflict`` True when they contradict the session's state
    (ended, tracked, another screen size, earlier than its samples; HTTP 409), False when the session
    lacks what they need (a screen size; HTTP 422)."""

    code = "gaze_rejected"

    def __init__(self, message: str, *, conflict: bool) -> None:
        super().__init__(message)
        self.conflict = conflict


@dataclass(frozen=True, slots=True)
class GazeScreen:
    """The screen the points are in (px) and whether it is new to the session (to be stored on it)."""

    width_px: int
    height_px: int
    new: bool


@dataclass(frozen=True, slots=True)
class GazeCounts:
    """Points stored, of which on the screen, and without a point."""

    accepted: int
    on_screen: int
    without_point: int


def check_gaze_target(info: SessionInfo, *, tracked: bool) -> None:
    """Raise :class:`GazeRejected` (conflict) when the session has ended or is ``tracked`` over its
    WebSocket now."""
    if info.status == "ended":
        raise GazeRejected(
            f"session {info.id!r} has ended; gaze can only be added while it runs", conflict=True
        )
    if tracked:
        raise GazeRejected(
            f"session {info.id!r} is being tracked over its WebSocket; post gaze to another session",
            conflict=True,
        )


def gaze_screen(info: SessionInfo, screen_w_px: int | None, screen_h_px: int | None) -> GazeScreen:
    """The screen size of the points: the session's, or the one given with them (both or neither) when
    the session has none. Raises :class:`GazeRejected`: conflict when the given size contradicts the
    session's, not a conflict when neither has one."""
    w, h = info.screen_w_px, info.screen_h_px
    new = False
    if screen_w_px is not None and screen_h_px is not None:
        if w and h and (w, h) != (screen_w_px, screen_h_px):
            raise GazeRejected(
                f"screen size {screen_w_px}x{screen_h_px} contradicts the session's {w}x{h}", conflict=True
            )
        if not (w and h):
            w, h, new = screen_w_px, screen_h_px, True
    if not (w and h):
        raise GazeRejected(
            "the session has no screen size: create it with screen_w_px and screen_h_px, or send them "
            "with the points",
            conflict=False,
        )
    return GazeScreen(int(w), int(h), new)


def gaze_samples(
    points: Iterable[Mapping[str, Any]], screen: GazeScreen, continuation: Continuation
) -> list[dict[str, Any]]:
    """The samples to store for ``points`` (:func:`gazescope.analytics.events.client_gaze_samples`: sorted
    by ``t_ms``, ``source: "client_gaze"``, an ``attention_state`` from each point), numbered after the
    session's ``continuation``. Raises :class:`GazeRejected` (conflict) when they start before the last
    stored sample."""
    from gazescope.analytics.events import client_gaze_samples

    samples = client_gaze_samples(
        points,
        screen_w_px=screen.width_px,
        screen_h_px=screen.height_px,
        first_index=continuation.next_frame_index,
    )
    if continuation.last_sample:
        last_t = continuation.last_sample.get("t_ms")
        if isinstance(last_t, int | float) and samples[0]["t_ms"] < last_t:
            raise GazeRejected(
                f"points go back in time: the first t_ms {samples[0]['t_ms']} is before the last "
                f"stored sample's {last_t}",
                conflict=True,
            )
    return samples


def gaze_counts(samples: Sequence[Mapping[str, Any]]) -> GazeCounts:
    """How many of the stored ``samples`` are on the screen and how many have no point."""
    on = sum(1 for s in samples if s["on_screen"])
    without = sum(1 for s in samples if s["screen_x_px"] is None)
    return GazeCounts(len(samples), on, without)
