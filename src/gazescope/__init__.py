"""gazescope: self-hosted webcam gaze and attention tracking.

The Python library (docs/python.md)::

    import gazescope

    with gazescope.Tracker() as tracker:          # BGR frames as OpenCV gives them
        sample = tracker.process(frame)           # a typed gazescope.GazeSample
    result = gazescope.analyze_video("clip.mp4")  # samples, blinks and the report of a file
    gaze = gazescope.GazeTracking()               # GazeTracking's API

Names are imported on first use (module ``__getattr__``), so ``import gazescope`` loads neither MediaPipe
nor FastAPI.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    "Tracker": "gazescope.library.tracker",
    "analyze_video": "gazescope.library.video",
    "VideoAnalysis": "gazescope.library.video",
    "Calibrator": "gazescope.library.calibrate",
    "load_calibration": "gazescope.library.calibrate",
    "save_calibration": "gazescope.library.calibrate",
    "GazeTracking": "gazescope.library.compat",
    "quiet_native_logs": "gazescope.library.quiet",
    "GazeSample": "gazescope.domain",
    "BlinkEvent": "gazescope.domain",
    "Direction": "gazescope.domain",
    "AttentionState": "gazescope.domain",
    "Settings": "gazescope.config",
    "GazescopeError": "gazescope.errors",
}

__all__ = [
    "AttentionState",
    "BlinkEvent",
    "Calibrator",
    "Direction",
    "GazeSample",
    "GazeTracking",
    "GazescopeError",
    "Settings",
    "Tracker",
    "VideoAnalysis",
    "__version__",
    "analyze_video",
    "load_calibration",
    "quiet_native_logs",
    "save_calibration",
]  # every name of _EXPORTS (tests/unit/test_package.py checks)

if TYPE_CHECKING:
    from gazescope.config import Settings
    from gazescope.domain import AttentionState, BlinkEvent, Direction, GazeSample
    from gazescope.errors import GazescopeError
    from gazescope.library.calibrate import Calibrator, load_calibration, save_calibration
    from gazescope.library.compat import GazeTracking
    from gazescope.library.quiet import quiet_native_logs
    from gazescope.library.tracker import Tracker
    from gazescope.library.video import VideoAnalysis, analyze_video


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gazescope' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
