"""How a tracking connection reads client messages and writes replies: :class:`WireFormat`, one per
connection (it may keep per-connection state), the parsed message :class:`Inbound` and a validated
landmarks message :class:`LandmarksMessage` (read by :mod:`gazescope.engine.landmarks`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from gazescope.config import Settings
from gazescope.domain import FrameFeatures


class ProtocolError(Exception):
    """A client message that cannot be read; ``code`` goes into the error reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class LandmarksMessage:
    """One frame's landmarks as the client's Face Mesh gave them.

    ``points_norm``: float32 (478, 3) read-only, x and y normalised to the image width and height (0..1
    inside the image), z MediaPipe's relative depth (in image widths); (0, 3) when no face was found.
    ``width_px``/``height_px``: the image the landmarks were found in (1..``landmarks_max_image_px``).
    ``face_count``: faces the client's Face Mesh found (0..255; 0 exactly when there are no points).
    ``client_t_ms``: the client's capture time (ms, any clock), None when not given.
    """

    points_norm: np.ndarray
    width_px: int
    height_px: int
    face_count: int
    client_t_ms: float | None

    @property
    def nbytes(self) -> int:
        """Size of the message in the binary form (what a held landmarks frame keeps)."""
        return 20 + 12 * len(self.points_norm)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One client message: its ``type``, and for frames the encoded ``payload`` (bytes, base64 text or a
    data URL; decoded later in a worker thread) and the client's timestamp ``client_t_ms`` (any clock).
    A ``landmarks`` message (docs/protocol.md) arrives with its binary ``payload`` or its JSON ``body``;
    once validated (:func:`gazescope.engine.landmarks.parse_landmarks`) it carries ``landmarks`` instead."""

    type: str
    payload: bytes | str | None = None
    client_t_ms: float | None = None
    body: dict[str, Any] = field(default_factory=dict)
    landmarks: LandmarksMessage | None = None


class WireFormat:
    """Base wire format (the native one's reading of binary frames)."""

    name: ClassVar[str] = "native"
    #: Whether connections of this format announce their session on connect and its end.
    announces: ClassVar[bool] = True
    #: Whether :meth:`sample` reads the frame's features: they are kept until the reply only then (else
    #: :meth:`sample` gets None).
    wants_features: ClassVar[bool] = False
    #: Whether the format reads ``landmarks`` messages (binary ``GSLM`` and JSON; docs/protocol.md).
    accepts_landmarks: ClassVar[bool] = False

    def parse_bytes(self, data: bytes) -> Inbound:
        """A binary message is always a frame (JPEG or PNG bytes)."""
        return Inbound("frame", payload=data)

    def parse_text(self, text: str) -> Inbound | None:
        """The message of a text frame; None for a message the format ignores (no reply)."""
        raise NotImplementedError

    def sample(
        self,
        sample: dict[str, Any],
        inbound: Inbound,
        epoch_ms: float,
        features: FrameFeatures | None = None,
    ) -> dict[str, Any] | None:
        """The reply to a processed frame (the wire edge: it writes the JSON reply).

        Args:
            sample: the sample's JSON fields as stored
                (:meth:`~gazescope.engine.sample.TrackedSample.to_dict`, docs/samples.md).
            inbound: the frame's message.
            epoch_ms: the server's epoch ms when the frame arrived.
            features: the frame's :class:`~gazescope.domain.FrameFeatures` (e.g. for a face box) when the
                format has :attr:`wants_features`, else None.

        Returns:
            The reply object; None: no reply (seed 004).
        """
        raise NotImplementedError

    def hello(self, message: dict[str, Any]) -> dict[str, Any]:
        """The ``session`` message sent on connect (formats with ``announces``)."""
        return message

    def pong(self, inbound: Inbound) -> dict[str, Any]:
        """The reply to ``{"type": "ping"}``."""
        return {"type": "pong", "t_ms": inbound.body.get("t_ms")}

    def dropped(self, inbound: Inbound, epoch_ms: float) -> dict[str, Any] | None:
        """The reply to a frame dropped unprocessed (pushed out by a newer one), or None for no reply."""
        return None

    #: Whether the client has started (a seed wire that must send ``init`` or a frame first sets it False
    #: until it does; see :meth:`start_timeout_s`).
    started: bool = True

    def start_timeout_s(self, settings: Settings) -> float | None:
        """Seconds a connection may stay open without having :attr:`started`, then it is closed (1001);
        None: no such limit (the native wire: its clients start when they are ready)."""
        return None

    def idle_timeout_s(self, settings: Settings) -> float:
        """Seconds without a frame after which the connection is closed (1001); other messages, pings
        included, do not reset the timer."""
        return settings.idle_timeout_s

    def error(self, code: str, message: str, inbound: Inbound | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if inbound is not None and inbound.client_t_ms is not None:
            out["client_t_ms"] = inbound.client_t_ms
        return out
