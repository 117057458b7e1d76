"""Wire formats of the tracking WebSockets: how client messages are read and how replies are written.

One tracking engine (:mod:`gazescope.engine`) serves every tracking route; a
:class:`~gazescope.engine.wire.WireFormat` adapts it to a route's message format:

* :class:`NativeWire` (``/ws/sessions/{id}/track``): binary JPEG/PNG frames, or JSON text
  ``{"type": "frame", "data": <base64 or data URL>, "t_ms": <client time>}``; or, instead of a frame, its
  Face Mesh landmarks (binary ``GSLM`` or ``{"type": "landmarks", ...}``; :mod:`gazescope.engine.landmarks`,
  docs/protocol.md); other JSON messages are
  dispatched by their ``type``. Every reply is a JSON object with a ``type``: ``session`` (on connect),
  ``sample`` (one per processed frame, the :class:`~gazescope.domain.GazeSample` fields plus
  ``client_t_ms``), ``error`` (``code``, ``message``), ``pong``, ``session_ended``.
* The seeds' wire formats live in :mod:`gazescope.api.seeds` (one module per seed).

A wire format object serves one connection, so it may keep per-connection state (e.g. seed 002's
eye-contact share since the connection opened).
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

from gazescope.api.limits import BadClientNumber, TooManyItems, check_client_json
from gazescope.domain import FrameFeatures
from gazescope.engine.landmarks import MAGIC
from gazescope.engine.wire import Inbound, ProtocolError, WireFormat

__all__ = ["MAX_MESSAGE_VALUES", "Inbound", "NativeWire", "ProtocolError", "WireFormat"]

MAX_MESSAGE_VALUES = 10_000
"""Most JSON values in one WebSocket text message (a frame message has 2-4; the largest calibration
message, ``calibration_start`` with ``mapper_params``, a few dozen); more is a ``bad_message``, found
without walking the rest of the message."""


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    try:
        return float(v) if math.isfinite(v) else None
    except OverflowError:  # an int too large for a float (the edge check refuses these before)
        return None


def _loads_object(text: str) -> dict[str, Any]:
    try:
        msg = json.loads(text)
    except ValueError:
        raise ProtocolError("bad_message", "text messages must be JSON objects") from None
    except RecursionError:  # e.g. "[" * 100000: nesting deeper than the parser's recursion limit
        raise ProtocolError("bad_message", "text message nested too deeply") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_message", "text messages must be JSON objects, not " + type(msg).__name__)
    try:  # every number from the client is range-checked here, once (gazescope.api.limits)
        check_client_json(msg, max_items=MAX_MESSAGE_VALUES)
    except (BadClientNumber, TooManyItems) as exc:
        raise ProtocolError("bad_message", str(exc)) from None
    return msg


class NativeWire(WireFormat):
    """gazescope's own tracking protocol (see module docstring)."""

    name = "native"
    type_hint: ClassVar[str] = "a message needs a string 'type' (e.g. 'frame')"
    data_hint: ClassVar[str] = "a frame message needs 'data': base64 JPEG/PNG or a data URL"
    time_keys: ClassVar[tuple[str, ...]] = ("t_ms",)  # the client's capture time, first one present wins
    accepts_landmarks: ClassVar[bool] = True

    def parse_bytes(self, data: bytes) -> Inbound:
        """A frame (JPEG or PNG bytes), or a landmarks message when it starts with ``GSLM`` (validated by
        the engine)."""
        if self.accepts_landmarks and data[:4] == MAGIC:
            return Inbound("landmarks", payload=data)
        return Inbound("frame", payload=data)

    def parse_text(self, text: str) -> Inbound | None:
        return self.read(_loads_object(text))

    def read(self, msg: dict[str, Any]) -> Inbound:
        """The message of a parsed JSON object (``ProtocolError`` when it is not one of ours)."""
        mtype = msg.get("type")
        if not isinstance(mtype, str) or not mtype:
            raise ProtocolError("bad_message", self.type_hint)
        if mtype == "landmarks" and self.accepts_landmarks:
            return Inbound("landmarks", body=msg)
        if mtype != "frame":
            return Inbound(mtype, body=msg)
        data = msg.get("data")
        if not isinstance(data, str) or not data:
            raise ProtocolError("bad_message", self.data_hint)
        times = (_number(msg.get(k)) for k in self.time_keys)
        return Inbound("frame", payload=data, client_t_ms=next((t for t in times if t is not None), None))

    def sample(
        self,
        sample: dict[str, Any],
        inbound: Inbound,
        epoch_ms: float,
        features: FrameFeatures | None = None,
    ) -> dict[str, Any]:
        return {"type": "sample", **sample, "client_t_ms": inbound.client_t_ms}
