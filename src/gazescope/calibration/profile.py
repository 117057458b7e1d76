"""A fitted calibration (:class:`FittedCalibration`) and its JSON form.

The JSON form is the unit of storage: a versioned object (``version``), numbers and lists only (NumPy
arrays become lists), never pickle, so a profile can be read by any language and cannot execute code
when loaded. Where profiles are kept: :mod:`gazescope.storage.profiles`; the CLI reads a profile file by
path (``--calibration``).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gazescope.calibration.features import (
    FEATURE_NAMES,
    HEAD_RANGE_FEATURES,
    N_FEATURES,
    PATCH_SIZE,
    GazeFeatures,
    extract_features,
)
from gazescope.calibration.history import Sitting
from gazescope.calibration.mappers import Mapper, mapper_from_dict
from gazescope.domain import FrameFeatures
from gazescope.errors import (
    CalibrationError,
    GazescopeError,
)

PROFILE_SCHEMA_VERSION = 1
#: Largest screen side (px) a profile may name; the same limit ``calibration_start`` applies.
MAX_SCREEN_PX = 100_000

HEAD_RANGE_MARGINS: dict[str, float] = {
    "yaw_deg": 10.0,
    "pitch_deg": 10.0,
    "nose_x_norm": 0.1,
    "nose_y_norm": 0.1,
    "interocular_norm": 0.2,  # relative: +-20% of the calibrated range's ends (distance to the camera)
}
"""Margins beyond the calibrated range within which the head still counts as in range. A heuristic: a
10-degree head rotation or a 10%-of-frame move shifts a webcam estimate by more than its own accuracy
(about 1-2 degrees of gaze per degree of uncorrected head rotation), and a 20% change of the iris
distance is a 20% change of viewing distance."""


@dataclass(frozen=True, eq=False)
class FittedCalibration:
    """A fitted screen mapping for one person and one screen.

    Attributes:
        mapper: the fitted :class:`~gazescope.calibration.mappers.Mapper`.
        screen_w_px, screen_h_px: the screen (viewport) size the calibration was made on, in px.
        accuracy: the validation figures of :class:`~gazescope.calibration.session.CalibrationResult`
            (``mean_error_px``, ``median_error_px``, ``mean_error_pct_width``, ``precision_rms_px``,
            ``grade`` ...), JSON-able.
        head_range: {feature: [min, max]} of head pose/position seen while calibrating.
        mirror: whether features were mirror-averaged (then ``predict_screen`` needs mirrored features).
        user_id, profile_id, created_at_ms, layout: bookkeeping.
        sittings: the calibration rows this fit pooled (:class:`~gazescope.calibration.history.Sitting`,
            oldest first; empty for profiles made before they were kept, or by an appearance mapper).
        refit: how many click refits (:class:`~gazescope.calibration.history.OnlineRefit`) the mapper has
            had since the profile was fitted (0: the profile's own fit).
    """

    mapper: Mapper
    screen_w_px: int
    screen_h_px: int
    accuracy: dict[str, Any] = field(default_factory=dict)
    head_range: dict[str, list[float]] = field(default_factory=dict)
    mirror: bool = False
    user_id: str | None = None
    profile_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created_at_ms: float = field(default_factory=lambda: time.time() * 1000.0)
    layout: str | None = None
    sittings: tuple[Sitting, ...] = ()
    refit: int = 0

    @property
    def mapper_name(self) -> str:
        return self.mapper.name

    @property
    def fit_id(self) -> str:
        """Which fit maps: the profile id, plus ``+N`` after N click refits (recorded on each sample)."""
        return self.profile_id if self.refit == 0 else f"{self.profile_id}+{self.refit}"

    # -- prediction ----------------------------------------------------------------------------------
    def predict_features(self, feats: list[GazeFeatures], *, clip: bool = True) -> np.ndarray:
        """Screen points (n, 2) px for calibration features; clipped to the screen when ``clip``.

        Raises:
            CalibrationError: the mapper needs eye patches and a feature has none.
        """
        if not feats:
            return np.zeros((0, 2))
        rows = [f.row(self.mapper.needs_patches) for f in feats]
        if any(r is None for r in rows):
            raise CalibrationError(f"mapper {self.mapper_name!r} needs eye patches: pass image_rgb")
        P = self.mapper.predict(np.stack(rows))  # type: ignore[arg-type]
        if clip:
            P = np.clip(P, [0.0, 0.0], [float(self.screen_w_px), float(self.screen_h_px)])
        return P

    def predict_screen(
        self,
        ff: FrameFeatures,
        image_rgb: np.ndarray | None = None,
        *,
        mirrored: FrameFeatures | None = None,
        clip: bool = True,
        views: Sequence[tuple[FrameFeatures, bool]] = (),
    ) -> tuple[float, float] | None:
        """Screen point (x, y) in px of one frame, or None when the face, head pose, irises (or, for an
        appearance mapper, the frame ``image_rgb``) are missing.

        Predictions are clipped to the screen rectangle by default (people look at the screen during
        use; clipping halves large errors: webcam_dots 416 -> 357 px); ``clip=False`` gives the raw
        mapping, for deciding whether the gaze is off the screen. ``mirrored`` / ``views``: extra views
        of the frame averaged into the features (:func:`~gazescope.calibration.features.analyze_views`);
        pass the same kind of views the calibration used.
        """
        if self.mapper.needs_patches and image_rgb is None:
            return None
        gf = extract_features(
            ff, image_rgb if self.mapper.needs_patches else None, mirrored=mirrored, views=views
        )
        if gf is None:
            return None
        p = self.predict_features([gf], clip=clip)[0]
        return float(p[0]), float(p[1])

    def head_in_range(self, ff: FrameFeatures) -> bool:
        """True when head pose and position lie within the calibrated range plus
        :data:`HEAD_RANGE_MARGINS`; False without a face or head pose, or without a recorded range."""
        gf = extract_features(ff)
        if gf is None or not self.head_range:
            return False
        for name, (lo, hi) in self.head_range.items():
            v = getattr(gf, name)
            m = HEAD_RANGE_MARGINS.get(name, 0.0)
            if name == "interocular_norm":
                lo, hi = lo * (1 - m), hi * (1 + m)
            else:
                lo, hi = lo - m, hi + m
            if not lo <= v <= hi:
                return False
        return True

    @staticmethod
    def head_range_of(feats: list[GazeFeatures]) -> dict[str, list[float]]:
        """{feature: [min, max]} over calibration features, for :data:`HEAD_RANGE_FEATURES`."""
        if not feats:
            return {}
        return {
            n: [float(min(getattr(f, n) for f in feats)), float(max(getattr(f, n) for f in feats))]
            for n in HEAD_RANGE_FEATURES
        }

    # -- JSON ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PROFILE_SCHEMA_VERSION,
            "profile_id": self.profile_id,
            "user_id": self.user_id,
            "created_at_ms": self.created_at_ms,
            "screen_w_px": int(self.screen_w_px),
            "screen_h_px": int(self.screen_h_px),
            "layout": self.layout,
            "mirror": self.mirror,
            "feature_names": list(FEATURE_NAMES),
            "mapper_name": self.mapper_name,
            "mapper": self.mapper.to_dict(),
            "accuracy": self.accuracy,
            "head_range": self.head_range,
            "sittings": [s.to_dict() for s in self.sittings],
        }

    def to_json(self) -> str:
        """The profile as JSON (schema ``version`` :data:`PROFILE_SCHEMA_VERSION`)."""
        return json.dumps(self.to_dict(), default=_json_default)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FittedCalibration:
        """Inverse of :meth:`to_dict`.

        Raises:
            CalibrationError: wrong ``version``, other feature columns, missing or malformed fields, or a
                profile that could not map a frame (see :meth:`_check_usable`; the message says why).
        """
        if not isinstance(d, dict):
            raise CalibrationError("a calibration profile must be a JSON object")
        if d.get("version") != PROFILE_SCHEMA_VERSION:
            raise CalibrationError(
                f"unsupported calibration profile version {d.get('version')!r} (expected {PROFILE_SCHEMA_VERSION})"
            )
        if d.get("feature_names") != list(FEATURE_NAMES):
            raise CalibrationError("the profile was made with other calibration features; recalibrate")
        try:
            cal = cls(
                mapper=mapper_from_dict(d["mapper"]),
                screen_w_px=int(d["screen_w_px"]),
                screen_h_px=int(d["screen_h_px"]),
                accuracy=dict(d.get("accuracy") or {}),
                head_range={k: [float(a), float(b)] for k, (a, b) in (d.get("head_range") or {}).items()},
                mirror=bool(d.get("mirror", False)),
                user_id=d.get("user_id"),
                profile_id=str(d["profile_id"]),
                created_at_ms=float(d["created_at_ms"]),
                layout=d.get("layout"),
                sittings=tuple(Sitting.from_dict(x) for x in (d.get("sittings") or [])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CalibrationError(f"malformed calibration profile: {exc}") from exc
        cal._check_usable()
        return cal

    def _check_usable(self) -> None:
        """Refuse a profile that would fail on every frame once applied: a screen size outside
        1..:data:`MAX_SCREEN_PX` px, a ``head_range`` with unknown features or non-finite/reversed
        bounds, or a mapper whose trial prediction on one all-zero feature row (of the mapper's width)
        raises or is not a finite (1, 2) array (e.g. an unfitted mapper, wrong-shaped or non-numeric
        coefficients, a zero scale).

        Raises:
            CalibrationError: the reason, naming the field.
        """
        for name, v in (("screen_w_px", self.screen_w_px), ("screen_h_px", self.screen_h_px)):
            if not 0 < v <= MAX_SCREEN_PX:
                raise CalibrationError(f"{name} must be within 1..{MAX_SCREEN_PX}, got {v}")
        for name, (lo, hi) in self.head_range.items():
            if name not in HEAD_RANGE_FEATURES:
                raise CalibrationError(
                    f"head_range has an unknown feature {name!r}; known: {', '.join(HEAD_RANGE_FEATURES)}"
                )
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise CalibrationError(f"head_range[{name!r}] must be finite [min, max], got [{lo}, {hi}]")
        width = N_FEATURES + (PATCH_SIZE if self.mapper.needs_patches else 0)
        try:
            with np.errstate(all="ignore"):
                P = np.asarray(self.mapper.predict(np.zeros((1, width))), dtype=np.float64)
        except CalibrationError as exc:
            raise CalibrationError(f"the {self.mapper_name} mapper cannot predict: {exc.message}") from exc
        except (GazescopeError, ArithmeticError, LookupError, TypeError, ValueError, RuntimeError) as exc:
            raise CalibrationError(f"the {self.mapper_name} mapper cannot predict: {exc}") from exc
        if P.shape != (1, 2) or not np.all(np.isfinite(P)):
            raise CalibrationError(
                f"the {self.mapper_name} mapper does not predict finite screen points "
                f"(trial on a zero feature row gave {np.array2string(P.ravel()[:4], precision=3)})"
            )

    @classmethod
    def from_json(cls, text: str) -> FittedCalibration:
        """Parse :meth:`to_json` output. Raises CalibrationError on bad JSON or schema."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"calibration profile is not valid JSON: {exc}") from exc
        return cls.from_dict(d)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
