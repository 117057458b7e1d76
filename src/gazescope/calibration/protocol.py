"""The calibration protocol of one tracking stream, without a transport (``docs/protocol.md``,
"Calibration over the tracking WebSocket").

:class:`CalibrationController` routes parsed messages (:mod:`gazescope.calibration.messages`) and
processed frames to the parts that do the work, each in its module:

* :class:`~gazescope.calibration.choreography.Choreography`: the targets shown and the samples collected;
* :class:`~gazescope.calibration.fitting.Fitting`: the fit, its slot, timeout and cancel, its result;
* :class:`~gazescope.calibration.profiles.StreamProfiles`: the applied profile, reuse, pooling, records;
* :class:`~gazescope.calibration.drift.DriftChecks`: drift checks of the applied calibration.

Whatever they need of the stream comes through a :class:`~gazescope.calibration.host.CalibrationHost`,
profiles and records through :class:`~gazescope.calibration.host.Profiles`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from gazescope.calibration.choreography import Choreography
from gazescope.calibration.drift import DriftChecks
from gazescope.calibration.fitting import Fitting
from gazescope.calibration.host import CalibrationHost, Profiles, StoredProfile
from gazescope.calibration.messages import (
    CalibrationApplied,
    CalibrationKeep,
    CalibrationStart,
    CalibrationTarget,
    CalibrationUse,
    DriftStart,
    Empty,
    ProfileSource,
    Reply,
    parse_message,
)
from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.profiles import StreamProfiles
from gazescope.domain import FrameFeatures, GazeSample


class CalibrationController:
    """Calibration, applied profile and drift check of one tracking stream.

    :meth:`observe` runs in the frame worker thread, everything else on the event loop. While a fit runs,
    frames are not offered to the calibration.

    Args:
        host: the tracking stream.
        profiles: where profiles and records are kept.
    """

    def __init__(self, host: CalibrationHost, profiles: Profiles) -> None:
        self.host = host
        self.choreography = Choreography(host)
        self.profiles = StreamProfiles(host, profiles)
        self.fitting = Fitting(host, self.choreography, self.profiles)
        self.drift = DriftChecks(host, self.profiles)

    async def handle(self, message_type: str, body: dict[str, Any]) -> Reply | None:
        """Handle one client message.

        Args:
            message_type: one of :data:`MESSAGE_TYPES`.
            body: the message's JSON object, parsed into its model here.

        Returns:
            The reply to send, if any (a fit's result is sent through the host later).

        Raises:
            GazescopeError: the refusal to answer as an ``error`` (its ``code``); the stream goes on.
        """
        model, method = _HANDLERS[message_type]
        return await method(self, parse_message(model, body))

    @property
    def collecting(self) -> bool:
        """True while a calibration or a drift check takes frames (appearance mappers read their pixels)."""
        return self.choreography.running is not None or self.drift.running

    def observe(self, ff: FrameFeatures, sample: GazeSample, image_rgb: Any) -> list[Reply]:
        """Offer a processed frame to the running calibration and drift check (worker thread).

        Args:
            ff: the frame's Face Mesh features.
            sample: the frame's sample.
            image_rgb: the frame (H, W, 3) uint8 RGB, used only by appearance mappers, in memory.

        Returns:
            The replies to send (progress, or an error for a target the session refused).
        """
        out = self.choreography.observe(ff, sample, image_rgb)
        self.drift.observe(ff, sample, image_rgb)
        return out

    @property
    def applied(self) -> FittedCalibration | None:
        """The calibration samples are mapped with, None before one is applied."""
        return self.profiles.applied

    @property
    def applied_profile_id(self) -> str | None:
        """The applied calibration's profile id (None for an unsaved fit or none applied)."""
        return self.profiles.applied_profile_id

    @property
    def last_saved_profile_id(self) -> str | None:
        """The profile the stream's last ``calibration_result`` saved (what ``calibration_keep`` keeps)."""
        return self.profiles.last_saved_profile_id

    async def apply_profile(self, doc: StoredProfile, source: ProfileSource) -> CalibrationApplied:
        """Apply a stored profile (:meth:`StreamProfiles.apply_profile
        <gazescope.calibration.profiles.StreamProfiles.apply_profile>`).

        Raises:
            CalibrationError: the stored profile cannot be read.
        """
        return await self.profiles.apply_profile(doc, source)

    def clear(self) -> None:
        """Drop the running calibration (the applied one stays)."""
        self.choreography.clear()

    async def close(self) -> None:
        """The stream ends: cancel a fit still running and wait for it to unwind (a store write it had
        begun completes first), then drop the collected samples."""
        await self.fitting.close()
        self.choreography.clear()
        self.drift.clear()


_Handler = Callable[[CalibrationController, Any], Awaitable[Reply | None]]
_HANDLERS: dict[str, tuple[type[BaseModel], _Handler]] = {
    "calibration_start": (CalibrationStart, lambda c, m: c.choreography.start(m)),
    "calibration_target": (CalibrationTarget, lambda c, m: c.choreography.target(m)),
    "calibration_finish": (Empty, lambda c, _m: c.fitting.finish()),
    "calibration_cancel": (Empty, lambda c, _m: c.choreography.cancel()),
    "calibration_use": (CalibrationUse, lambda c, m: c.profiles.use(m)),
    "calibration_keep": (CalibrationKeep, lambda c, m: c.profiles.keep(m)),
    "drift_start": (DriftStart, lambda c, m: c.drift.start(m)),
    "drift_finish": (Empty, lambda c, _m: c.drift.finish()),
}
#: The client message types :meth:`CalibrationController.handle` understands.
MESSAGE_TYPES: tuple[str, ...] = tuple(_HANDLERS)
