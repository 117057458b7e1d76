"""What the engine takes from the application that runs it (:class:`EngineContext`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gazescope.config import Settings
from gazescope.storage import LiveHub, Store
from gazescope.storage.ownership import SessionOwnership

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

    from gazescope.engine.backlog import StoreBacklog
    from gazescope.engine.connection import TrackingConnection
    from gazescope.engine.frame_processes import FrameProcessPool
    from gazescope.engine.handlers import HandlerRegistry

T = TypeVar("T")


class EngineLog(Protocol):
    """Structured logs (``gazescope.api.logs`` is one): ``log`` for exceptions, ``event`` for key=value
    events. Never pass frame data."""

    @property
    def log(self) -> logging.Logger: ...

    def event(self, name: str, *, level: int = logging.INFO, **fields: Any) -> None: ...


class EngineMetrics(Protocol):
    """The Prometheus metrics the engine updates (``gazescope.api.metrics.Metrics`` has them)."""

    @property
    def frames_received(self) -> Counter: ...  # labels: route
    @property
    def frames_processed(self) -> Counter: ...  # labels: route
    @property
    def frames_dropped(self) -> Counter: ...  # labels: route
    @property
    def frame_errors(self) -> Counter: ...  # labels: code
    @property
    def processing_seconds(self) -> Histogram: ...
    @property
    def samples_stored(self) -> Counter: ...
    @property
    def refused(self) -> Counter: ...  # labels: reason
    @property
    def active_sessions(self) -> Gauge: ...


class EngineContext(Protocol):
    """The application's objects the engine uses (one per app; ``gazescope.api.state.AppState``).

    ``connections`` maps each session id to its open tracking connection in this process (at most one).
    """

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def hub(self) -> LiveHub: ...
    @property
    def metrics(self) -> EngineMetrics: ...
    @property
    def ownership(self) -> SessionOwnership: ...
    @property
    def backlog(self) -> StoreBacklog: ...
    @property
    def handlers(self) -> HandlerRegistry: ...
    @property
    def connections(self) -> dict[str, TrackingConnection[Any]]: ...
    @property
    def logs(self) -> EngineLog: ...
    @property
    def frame_pool(self) -> FrameProcessPool | None:
        """Worker processes for frames (``Settings.frame_processes``), None: frames run in :meth:`cpu`."""
        ...

    async def cpu(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in the CPU thread pool (decoding, vision, fits)."""
        ...

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call off the event loop."""
        ...
