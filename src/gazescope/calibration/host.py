"""What the calibration of one tracking stream needs of its stream and of the store (``docs/protocol.md``,
"Calibration over the tracking WebSocket").

:class:`CalibrationHost` is the stream (frame counter, thread pools, sending, applying a mapping; the API
adapts a tracking connection to it in :mod:`gazescope.api.ws.calibration`); :class:`Profiles` is where
profiles and records are kept (:class:`gazescope.storage.profiles.ProfileRepository`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal, Protocol, TypeVar

from gazescope.calibration.messages import Reply
from gazescope.calibration.profile import FittedCalibration
from gazescope.config import CalibrationSettings
from gazescope.domain import SessionInfo

T = TypeVar("T")

RecordKind = Literal["calibration", "applied", "drift"]


class StoredProfile(Protocol):
    """A stored profile (:class:`gazescope.storage.profiles.ProfileDocument`)."""

    id: str
    accepted: bool

    def calibration(self) -> FittedCalibration: ...


class Profiles(Protocol):
    """Where profiles and calibration records are kept (:class:`gazescope.storage.profiles.ProfileRepository`);
    synchronous, called in the host's I/O pool."""

    def save(
        self, cal: FittedCalibration, *, source_session_id: str | None = None, accepted: bool = True
    ) -> StoredProfile: ...

    def get(self, profile_id: str) -> StoredProfile: ...

    def accept(self, profile_id: str) -> StoredProfile: ...

    def latest(
        self, user_id: str, screen_w_px: int | None = None, screen_h_px: int | None = None
    ) -> StoredProfile: ...

    def record(self, session_id: str, kind: RecordKind, **fields: Any) -> Any: ...


class CalibrationHost(Protocol):
    """What the calibration needs of its tracking stream (the API adapts a tracking connection to it)."""

    session_id: str
    session: SessionInfo

    @property
    def settings(self) -> CalibrationSettings: ...

    @property
    def next_frame_index(self) -> int:
        """The ``frame_index`` the next frame received will get."""
        ...

    @property
    def ending(self) -> bool:
        """True once the stream is ending or its session was deleted."""
        ...

    @property
    def landmarks_only(self) -> bool:
        """True when the stream sends landmarks instead of frames (its latest frame message was one): no
        eye pixels, so an appearance mapper cannot be calibrated."""
        ...

    def set_calibration(self, calibration: FittedCalibration | None) -> None: ...

    def update_session(self, **fields: Any) -> SessionInfo:
        """Store changed session fields (blocking: called in the I/O pool); returns the session as stored."""
        ...

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

    def reserve_fit(self) -> bool:
        """Take a fit slot; False (and the refusal counted) when all are taken."""
        ...

    def release_fit(self) -> None: ...

    async def fit(self, fn: Callable[..., T], *args: Any, cancel: threading.Event, **kwargs: Any) -> T:
        """Run a fit in the fit pool under the reserved slot, which it gives back when its thread is done."""
        ...

    async def send(self, reply: Reply) -> None: ...

    def event(self, name: str, **fields: Any) -> None:
        """Log an event of this stream."""
        ...
