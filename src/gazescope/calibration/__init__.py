"""Calibration: where on the screen a person looks, per user.

* :mod:`.targets`: target layouts (5/9/13/16-point grids with validation points, smooth-pursuit path).
* :mod:`.features`: head-normalised eye features from :class:`~gazescope.domain.FrameFeatures`.
* :mod:`.mappers`: the mapper registry (``ridge``; ``cnn`` with the ``gazescope[cnn]`` extra).
* :mod:`.session`: the calibration protocol as a state machine; accuracy, precision, grade.
* :mod:`.drift`: the drift check of an applied calibration (scoring, and one stream's check).
* :mod:`.profile`: :class:`FittedCalibration` (JSON, versioned); :mod:`.history`: sittings pooled, clicks.
* :mod:`.messages`: the calibration WebSocket messages; :mod:`.catalogue`: layouts and mappers offered.
* One stream's calibration, without a transport: :mod:`.protocol` (the controller, a thin coordinator) of
  :mod:`.choreography` (targets shown, samples collected), :mod:`.fitting` (the fit and its scheduling),
  :mod:`.profiles` (applied profile, reuse, pooling, records) and :mod:`.drift`; :mod:`.host` names what
  they need of the stream and the store.
"""

from gazescope.calibration.drift import DriftCheck, check_drift
from gazescope.calibration.features import (
    FEATURE_NAMES,
    GazeFeatures,
    analyze_views,
    extract_features,
    eye_patches,
    zoom_views,
)
from gazescope.calibration.mappers import (
    Mapper,
    available_mappers,
    create_mapper,
    mapper_from_dict,
    register_mapper,
)
from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.session import CalibrationResult, CalibrationSession, PointError, grade_for
from gazescope.calibration.targets import LAYOUT_NAMES, TargetLayout, grid_layout, pursuit_path

__all__ = [
    "FEATURE_NAMES",
    "LAYOUT_NAMES",
    "CalibrationResult",
    "CalibrationSession",
    "DriftCheck",
    "FittedCalibration",
    "GazeFeatures",
    "Mapper",
    "PointError",
    "TargetLayout",
    "analyze_views",
    "available_mappers",
    "check_drift",
    "create_mapper",
    "extract_features",
    "eye_patches",
    "grade_for",
    "grid_layout",
    "mapper_from_dict",
    "pursuit_path",
    "register_mapper",
    "zoom_views",
]
