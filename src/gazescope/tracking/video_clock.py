"""Which video a viewer watched at a moment, and how far into it: the clock that stamps samples recorded
while a video stimulus plays with ``stimulus_id`` and ``video_t_s``.

* :class:`VideoClock`: the client reports the video position now and then (play, pause, seek, and about
  once a second); between reports a playing video advances in real time, a paused one stands still.
* :class:`Playlist`: videos played one after another from a start moment, as seed 004's phone app plays
  the URLs it asked for (its frames say nothing about the video).

Times: ``t_ms`` on the session clock (ms), video positions in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class VideoMoment:
    """``stimulus_id`` of the video shown and ``video_t_s`` (>= 0, seconds into it)."""

    stimulus_id: str
    video_t_s: float

    def to_fields(self) -> dict[str, object]:
        """The sample fields of this moment."""
        return {"stimulus_id": self.stimulus_id, "video_t_s": round(self.video_t_s, 4)}


@dataclass(slots=True)
class VideoClock:
    """The last reported position of a video, extrapolated (see the module docstring)."""

    stimulus_id: str | None = None
    anchor_t_ms: float = 0.0
    anchor_video_s: float = 0.0
    playing: bool = False
    duration_s: float | None = None

    def report(
        self,
        stimulus_id: str | None,
        video_t_s: float,
        t_ms: float,
        *,
        playing: bool,
        duration_s: float | None,
    ) -> None:
        """The video ``stimulus_id`` was at ``video_t_s`` at ``t_ms``; None: no video is shown any more."""
        self.stimulus_id = stimulus_id
        self.anchor_t_ms = float(t_ms)
        self.anchor_video_s = max(0.0, float(video_t_s))
        self.playing = playing
        self.duration_s = duration_s

    def at(self, t_ms: float) -> VideoMoment | None:
        """The moment of the video shown at ``t_ms``, or None when none is shown."""
        if self.stimulus_id is None:
            return None
        v = self.anchor_video_s + (max(0.0, t_ms - self.anchor_t_ms) / 1000.0 if self.playing else 0.0)
        if self.duration_s is not None:
            v = min(v, self.duration_s)
        return VideoMoment(self.stimulus_id, v)


@dataclass(slots=True)
class Playlist:
    """Videos ``(stimulus_id, duration_s)`` played back to back from ``start_t_ms``."""

    items: list[tuple[str, float]] = field(default_factory=list)
    start_t_ms: float = 0.0

    def at(self, t_ms: float) -> VideoMoment | None:
        """The video and its position at ``t_ms``; None before the start or after the last video."""
        elapsed = (t_ms - self.start_t_ms) / 1000.0
        if elapsed < 0:
            return None
        for stimulus_id, duration in self.items:
            if elapsed < duration:
                return VideoMoment(stimulus_id, elapsed)
            elapsed -= duration
        return None
