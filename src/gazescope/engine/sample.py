"""The sample as the engine carries it: a :class:`~gazescope.domain.GazeSample` plus the fields the
connection's hooks add (:class:`TrackedSample`), typed from the tracker to the writer, the live hub and the
wire formats; :meth:`TrackedSample.to_dict` is its JSON, taken only at those edges (docs/engine.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gazescope.domain import GazeSample, Point


@dataclass(frozen=True, slots=True)
class SampleExtras:
    """Fields a connection's frame hooks add to a sample (None: not set).

    ``stimulus_id`` and ``video_t_s`` (seconds into the video, >= 0): the video shown when the frame
    arrived (``api/ws/video_time.py``, seed 004's prediction frames). ``calibration_target_px``: the
    screen point (x, y px) of the dot shown (seed 004's calibration frames). ``source``: ``"landmarks"``
    when the sample was measured from a client's landmarks message instead of a frame (issue 22).
    """

    stimulus_id: str | None = None
    video_t_s: float | None = None
    calibration_target_px: Point | None = None
    source: str | None = None

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> SampleExtras:
        """The extras of a hook's returned fields (``VideoMoment.to_fields()`` and the like).

        Raises:
            ValueError: a key that is not one of the extras (listed in the message).
        """
        unknown = set(fields) - set(cls.__slots__)
        if unknown:
            raise ValueError(
                f"unknown sample field(s) {sorted(unknown)} from a frame hook; known: {', '.join(cls.__slots__)}"
            )
        target = fields.get("calibration_target_px")
        return cls(
            stimulus_id=fields.get("stimulus_id"),
            video_t_s=fields.get("video_t_s"),
            calibration_target_px=(target[0], target[1]) if target is not None else None,
            source=fields.get("source"),
        )

    def merged(self, newer: SampleExtras) -> SampleExtras:
        """These extras with ``newer``'s set fields written over them (hooks run in order, later wins)."""
        return SampleExtras(
            newer.stimulus_id if newer.stimulus_id is not None else self.stimulus_id,
            newer.video_t_s if newer.video_t_s is not None else self.video_t_s,
            newer.calibration_target_px
            if newer.calibration_target_px is not None
            else self.calibration_target_px,
            newer.source if newer.source is not None else self.source,
        )


NO_EXTRAS = SampleExtras()
LANDMARKS_EXTRAS = SampleExtras(source="landmarks")
"""The extras of a sample measured from a landmarks message."""


@dataclass(frozen=True, slots=True)
class TrackedSample:
    """One processed frame of a connection: the tracker's ``sample`` (its ``blink_count`` continued across
    the session's connections) and the hooks' ``extras``."""

    sample: GazeSample
    extras: SampleExtras = NO_EXTRAS

    @property
    def frame_index(self) -> int:
        return self.sample.frame_index

    @property
    def t_ms(self) -> float:
        return self.sample.t_ms

    def to_dict(self) -> dict[str, Any]:
        """The sample as stored and sent: :meth:`GazeSample.to_dict` (JSON-ready, docs/samples.md), then
        the extras that are set, in the order ``stimulus_id``, ``video_t_s``, ``calibration_target_px``,
        ``source``."""
        d = self.sample.to_dict()
        x = self.extras
        if x is NO_EXTRAS:
            return d
        if x.stimulus_id is not None:
            d["stimulus_id"] = x.stimulus_id
        if x.video_t_s is not None:
            d["video_t_s"] = x.video_t_s
        if x.calibration_target_px is not None:
            d["calibration_target_px"] = list(x.calibration_target_px)
        if x.source is not None:
            d["source"] = x.source
        return d
