"""Video time on the tracking WebSocket: samples recorded while a video stimulus plays carry
``stimulus_id`` and ``video_t_s``.

The client says where the video is with ``{"type": "stimulus_time", "stimulus_id": "<video stimulus>",
"video_t_s": 12.3, "playing": true}`` on play, pause, seek and about once a second (``"stimulus_id":
null`` when it stops showing a video); frames between reports are stamped by
:class:`~gazescope.tracking.video_clock.VideoClock` with the moment at which they arrived (read on the
event loop, where reports change it; not when a worker thread processes the frame). No reply; a stimulus that is not a video is answered
with an ``error`` (``stimulus_not_found`` / ``not_a_video``).

Every video a session watched is recorded as a document of
:data:`gazescope.services.videos.VIDEO_VIEWS` linked to the session (deleted with it), so the analyses of a
video find every session that watched it (:func:`gazescope.services.videos.sessions_watching`).
"""

from __future__ import annotations

import math
import time
from typing import Any

from gazescope.domain import FrameFeatures, GazeSample
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.wire import Inbound
from gazescope.errors import NotFoundError, ValidationError
from gazescope.services.stimuli import load_stimulus
from gazescope.services.videos import record_video_view
from gazescope.storage.base import SESSION_ID_RE
from gazescope.tracking.video_clock import VideoClock


def session_clock_ms(conn: TrackingConnection) -> float:
    """Now on the session clock (ms since the session was created), the clock of samples' ``t_ms``."""
    return time.time() * 1000.0 - conn.session.created_at_ms


_MOMENT = "_video_moment"
"""Key of a frame's ``Inbound.body`` that carries its video moment from arrival to its sample."""


class _ClockState:
    """The connection's video clock. Reports (``stimulus_time``) and reading the clock both happen on the
    event loop: a frame's moment is taken when it arrives (:meth:`on_receive`) and carried with it to the
    worker thread, so a seek reported after a frame arrived does not move that frame, and the worker
    never reads a clock being updated."""

    def __init__(self, conn: TrackingConnection) -> None:
        self.conn = conn
        self.clock = VideoClock()
        self.seen: set[str] = set()
        self.durations: dict[str, float | None] = {}
        conn.add_receive_hook(self.on_receive)
        conn.add_frame_hook(self.stamp)

    def on_receive(self, inbound: Inbound) -> None:
        """Event loop, as a frame arrives: the video moment shown now (the session clock)."""
        inbound.body[_MOMENT] = self.clock.at(session_clock_ms(self.conn))

    def stamp(
        self, inbound: Inbound, ff: FrameFeatures, sample: GazeSample, rgb: Any
    ) -> dict[str, Any] | None:
        """Worker thread: the moment the frame arrived at, as sample fields."""
        moment = inbound.body.get(_MOMENT)
        return moment.to_fields() if moment is not None else None


def _clock_of(conn: TrackingConnection) -> _ClockState:
    """The connection's video clock (one of its ``extensions``), made on its first ``stimulus_time``."""
    return conn.extensions.setdefault(_ClockState, lambda: _ClockState(conn))


async def handle_stimulus_time(conn: TrackingConnection, inbound: Inbound) -> None:
    """``stimulus_time``: where the video is now (see the module docstring)."""
    b = inbound.body
    sid = b.get("stimulus_id")
    st = _clock_of(conn)
    now = session_clock_ms(conn)
    if sid is None:
        st.clock.report(None, 0.0, now, playing=False, duration_s=None)
        return
    if not isinstance(sid, str) or not SESSION_ID_RE.match(sid):
        raise ValidationError("stimulus_id must be a stimulus id or null")
    t = b.get("video_t_s")
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
        raise ValidationError("video_t_s must be a finite number of seconds >= 0")
    playing = b.get("playing", True)
    if not isinstance(playing, bool):
        raise ValidationError("playing must be true or false")
    if sid not in st.durations:
        try:
            stim = await conn.state.io(load_stimulus, conn.state.store, sid, image=False)
        except NotFoundError:
            raise NotFoundError(f"no stimulus {sid!r}", code="stimulus_not_found") from None
        if stim.doc.get("kind") != "video":
            raise ValidationError(f"stimulus {sid!r} is not a video", code="not_a_video")
        st.durations[sid] = float(stim.doc["duration_s"]) if stim.doc.get("duration_s") else None
    if sid not in st.seen:
        await conn.state.io(record_video_view, conn.state.store, conn.session_id, sid)
        st.seen.add(sid)
    st.clock.report(sid, float(t), now, playing=playing, duration_s=st.durations[sid])


def register(registry: HandlerRegistry) -> None:
    """Handle ``stimulus_time`` on the app's tracking connections."""
    registry.register("stimulus_time", handle_stimulus_time)
