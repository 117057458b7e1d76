"""gazescope: self-hosted webcam gaze and attention tracking."""

__version__ = "0.1.0"
