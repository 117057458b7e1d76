"""The low half of what the engine takes from the app: logs, metrics and the storage context of the
writer and the backlog. It names no engine class; the connection's whole context
(:class:`gazescope.engine.connection.EngineContext`) extends :class:`StoreContext` there."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from gazescope.config import Settings
from gazescope.storage import Store

if TYPE_CHECKING:
    from prometheus_client import Counter, Gauge, Histogram

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


class StoreContext(Protocol):
    """What the engine's storage parts (:mod:`~gazescope.engine.writer`, :mod:`~gazescope.engine.backlog`)
    take from the app: settings, the store and a way to call it off the event loop, metrics and logs.
    The whole context of a connection, :class:`gazescope.engine.connection.EngineContext`, extends it."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def metrics(self) -> EngineMetrics: ...
    @property
    def logs(self) -> EngineLog: ...

    async def io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store call off the event loop."""
        ...


class SampleBacklog(Protocol):
    """Where a writer leaves what the store refused at its end
    (:class:`~gazescope.engine.backlog.StoreBacklog` is one)."""

    def hold(self, session_id: str, samples: list[dict[str, Any]], dropped_frames: int | None) -> None: ...


class WriterContext(StoreContext, Protocol):
    """A :class:`~gazescope.engine.writer.SampleWriter`'s context: storage plus the app's backlog."""

    @property
    def backlog(self) -> SampleBacklog: ...
