"""gazescope as a Python library: the public names exported at the package top (``gazescope.Tracker``
and so on; see docs/python.md). One job a module: :mod:`.quiet` (native log noise), :mod:`.tracker`
(BGR frames in, typed samples out), :mod:`.video` (a whole file), :mod:`.calibrate` (screen calibration
from (frame, target) pairs), :mod:`.compat` (GazeTracking's API on top of the tracker)."""
