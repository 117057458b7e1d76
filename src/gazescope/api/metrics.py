"""Prometheus metrics of the service (prometheus-client, https://prometheus.github.io/client_python/).

Each app has its own :class:`prometheus_client.CollectorRegistry`, so several apps (tests) never collide.
Exposed at ``GET /metrics`` in the text exposition format.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# Processing time buckets in seconds: a 640x480 frame takes about 10-60 ms (decode + Face Mesh + tracking).
_BUCKETS_S = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's counters, histogram and gauges in one registry.

    * ``gazescope_frames_received_total{route}``: frames received on tracking WebSockets.
    * ``gazescope_frames_processed_total{route}``: frames turned into samples.
    * ``gazescope_frames_dropped_total{route}``: frames replaced by newer ones while waiting (newest wins).
    * ``gazescope_frame_errors_total{code}``: frames refused (bad_frame, frame_too_large, ...).
    * ``gazescope_frame_processing_seconds``: decode + vision + tracking time per frame (worker thread).
    * ``gazescope_samples_stored_total``: samples written to the store.
    * ``gazescope_active_connections{kind}``: open WebSockets (track, live, seed001, seed002).
    * ``gazescope_active_sessions``: sessions with an open tracking connection.
    * ``gazescope_calibration_fits``: calibration fits reserved or running.
    * ``gazescope_refused_total{reason}``: requests and WebSockets refused by a limit (connections,
      connections_per_client, fits, body_size).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.frames_received = Counter(
            "gazescope_frames_received", "Frames received on tracking WebSockets.", ["route"], registry=r
        )
        self.frames_processed = Counter(
            "gazescope_frames_processed", "Frames processed into samples.", ["route"], registry=r
        )
        self.frames_dropped = Counter(
            "gazescope_frames_dropped",
            "Frames dropped while waiting because a newer frame arrived (newest wins).",
            ["route"],
            registry=r,
        )
        self.frame_errors = Counter(
            "gazescope_frame_errors", "Frames refused, by error code.", ["code"], registry=r
        )
        self.processing_seconds = Histogram(
            "gazescope_frame_processing_seconds",
            "Decode + vision + tracking time of one frame in a worker thread.",
            buckets=_BUCKETS_S,
            registry=r,
        )
        self.samples_stored = Counter("gazescope_samples_stored", "Samples written to the store.", registry=r)
        self.active_connections = Gauge(
            "gazescope_active_connections", "Open WebSocket connections.", ["kind"], registry=r
        )
        self.active_sessions = Gauge(
            "gazescope_active_sessions", "Sessions with an open tracking connection.", registry=r
        )

        self.calibration_fits = Gauge(
            "gazescope_calibration_fits", "Calibration fits reserved or running.", registry=r
        )
        self.refused = Counter(
            "gazescope_refused",
            "Requests and WebSockets refused by a limit, by reason.",
            ["reason"],
            registry=r,
        )

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)
