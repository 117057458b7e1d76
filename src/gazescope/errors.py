"""The one family of gazescope errors.

Every error a caller can act on derives from :class:`GazescopeError` and carries a stable ``code``
(snake_case) that the API puts in error messages, next to the human-readable message.
"""

from __future__ import annotations


class GazescopeError(Exception):
    """Base class of gazescope errors; ``code`` is a stable machine-readable identifier."""

    code = "gazescope_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class ConfigurationError(GazescopeError):
    """A setting or an optional dependency is missing or invalid."""

    code = "configuration_error"


class FrameDecodeError(GazescopeError):
    """An image could not be decoded: empty, not JPEG/PNG, corrupt, truncated, or over a limit."""

    code = "bad_frame"


class FrameTooLargeError(FrameDecodeError):
    """An encoded frame exceeds the byte limit or its header claims pixel dimensions over the limit."""

    code = "frame_too_large"


class VideoReadError(GazescopeError):
    """A video or image folder could not be opened or holds no readable frame."""

    code = "bad_video"


class LandmarkBackendError(GazescopeError):
    """A landmark backend is unknown or its dependencies/models are missing."""

    code = "landmark_backend_error"


class CalibrationError(GazescopeError):
    """A calibration could not be fitted, validated or applied."""

    code = "calibration_error"


class NotEnoughDataError(CalibrationError):
    """Too few usable calibration points or samples; the message says how many are needed."""

    code = "not_enough_data"


class FitStoppedError(CalibrationError):
    """A mapper fit was stopped before it ended: its client left, its session was deleted, or it ran past
    the service's time limit (``should_stop`` of the mapper returned True)."""

    code = "fit_stopped"


class UnknownMapperError(CalibrationError):
    """No mapper is registered under the requested name; the message lists the available ones."""

    code = "unknown_mapper"


class ProfileNotFoundError(CalibrationError):
    """No calibration profile is stored under the requested name or user."""

    code = "profile_not_found"


class StorageError(GazescopeError):
    """The store failed or is unreachable."""

    code = "storage_error"


class SessionNotFoundError(StorageError):
    """No session with the requested id exists."""

    code = "session_not_found"


class BusyError(GazescopeError):
    """The service has too much of this kind of work running or waiting; retry later (HTTP 503)."""

    code = "busy"


class NotFoundError(GazescopeError):
    """A requested object (stimulus, area of interest, ...) does not exist."""

    code = "not_found"


class ValidationError(GazescopeError):
    """A request is well-formed but its content is not acceptable."""

    code = "invalid_request"


class StorageFullError(StorageError):
    """The store's disk has less free space than ``Settings.min_free_disk_bytes``: writes are refused
    (HTTP 503) until space is freed."""

    code = "storage_full"


class QuotaExceededError(GazescopeError):
    """Storing more would pass a quota on stored totals (``Settings.max_sessions`` ...); the message names
    the setting (HTTP 507)."""

    code = "quota_exceeded"


class AccessDeniedError(GazescopeError):
    """What a limited credential (a study's participant link) may not do, with the HTTP ``status`` the API
    answers: 401 unknown or revoked credential, 403 not allowed, 409 out of order, 410 gone (a closed
    study)."""

    code = "access_denied"

    def __init__(self, message: str, *, status: int = 403, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status
