"""The calibration protocol as a transport-free state machine.

A client shows targets one after another; for each it tells the session which target is shown
(:meth:`CalibrationSession.target_shown`) and streams frame features (:meth:`CalibrationSession.add`).
Samples in the first ``settle_ms`` after a target moves are skipped (saccade latency is 150-250 ms and
the eye then settles; Holmqvist et al., "Eye Tracking", OUP 2011, ch. 4 uses a comparable
"stabilisation" window), as are samples during blinks and frames without usable features.
:meth:`CalibrationSession.finish` fits the mapper on the calibration targets (one row per target: the
median of its samples' features, robust to stray frames), measures accuracy on the held-out validation
targets of the layout, and returns a :class:`CalibrationResult` with a
:class:`~gazescope.calibration.profile.FittedCalibration`.

Accuracy and precision follow Holmqvist, Nyström & Mulvey, "Eye tracker data quality: what it is and how
to measure it" (ETRA 2012): accuracy is the distance between a validation target and the mean of the
gaze estimates while it is fixated; precision is the RMS of sample-to-sample distances (RMS-S2S).

Grades, in % of the screen width (``GRADE_GOOD_PCT``, ``GRADE_FAIR_PCT``): webcam trackers in the field
report mean errors of 106 px (RealEye) to 172 px (WebGazer in a lab, Papoutsaki et al., IJCAI 2016) on
screens about 1,400-1,900 px wide, i.e. roughly 6-12% of the width. "good" is within that band (<= 10%),
"fair" up to twice it (<= 20%: enough for coarse areas of interest such as screen halves or quadrants),
"poor" beyond.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from gazescope.calibration.features import GazeFeatures, aggregate, extract_features
from gazescope.calibration.history import Sitting
from gazescope.calibration.mappers import create_mapper
from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.targets import TargetLayout, grid_layout
from gazescope.domain import FrameFeatures
from gazescope.errors import CalibrationError, FitStoppedError, NotEnoughDataError, ValidationError

GRADE_GOOD_PCT = 10.0
GRADE_FAIR_PCT = 20.0
MIN_SAMPLES_PER_POINT = 3
PURSUIT_STEP_FRAC = 0.05
MAX_SAMPLES_PER_TARGET = 120
"""Most samples kept per target (the newest win). The fit uses one aggregate (median) row per target and
validation a mean over its samples, so 120 (4 s at 30 fps; ``calibration_start`` asks for at most 100) is
plenty; the cap bounds the memory a client that keeps one target up can make the server hold (an
appearance mapper keeps two eye patches, about 17 KB, per sample)."""
MAX_CUSTOM_TARGETS = 400
"""Most custom targets (screen points not in the layout) one session accepts; more raise
ValidationError ("too many targets"). 400 is a 13 s smooth-pursuit path sent as points at 30 Hz or many
times any grid; longer pursuits use the ``pursuit`` layout, whose points are layout targets."""
MAX_SAMPLES_TOTAL = 15_000
"""Most samples kept over all targets; later ones are skipped (counted as ``full``). It is above the
longest ``pursuit`` layout the service offers (120 s at 120 Hz = 14,400 points, one sample each) and
bounds an appearance mapper's kept eye patches to about 250 MB."""


def grade_for(error_pct_width: float) -> str:
    """'good' (<= 10% of width), 'fair' (<= 20%), or 'poor' (see the module docstring for sources)."""
    if error_pct_width <= GRADE_GOOD_PCT:
        return "good"
    if error_pct_width <= GRADE_FAIR_PCT:
        return "fair"
    return "poor"


@dataclass(frozen=True, slots=True)
class PointError:
    """Accuracy at one target: target and mean estimate (px), their distance, and the sample count."""

    target_px: tuple[float, float]
    estimate_px: tuple[float, float]
    error_px: float
    n_samples: int
    validation: bool


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """Outcome of :meth:`CalibrationSession.finish`.

    ``mean_error_px``/``median_error_px``/``mean_error_pct_width``: accuracy over the validation
    targets (``validation_source`` says whether they were the layout's held-out targets,
    ``"leave_one_out"`` refits on the calibration targets, or ``"training"`` - optimistic - when neither
    was possible). ``precision_rms_px``: RMS sample-to-sample distance of the estimates while a target was
    shown (None with fewer than 2 samples per target). ``grade``: see :func:`grade_for`.
    """

    calibration: FittedCalibration
    mean_error_px: float
    median_error_px: float
    mean_error_pct_width: float
    precision_rms_px: float | None
    grade: str
    validation_source: str
    points: tuple[PointError, ...]
    n_calibration_points: int
    n_validation_points: int
    counts: dict[str, int] = field(default_factory=dict)

    def accuracy_dict(self) -> dict[str, Any]:
        """The JSON-able accuracy summary (stored in the profile as ``accuracy``)."""
        return {
            "mean_error_px": round(self.mean_error_px, 2),
            "median_error_px": round(self.median_error_px, 2),
            "mean_error_pct_width": round(self.mean_error_pct_width, 3),
            "precision_rms_px": None if self.precision_rms_px is None else round(self.precision_rms_px, 2),
            "grade": self.grade,
            "validation_source": self.validation_source,
            "n_calibration_points": self.n_calibration_points,
            "n_validation_points": self.n_validation_points,
        }

    def to_dict(self) -> dict[str, Any]:
        d = self.accuracy_dict()
        d["points"] = [
            {
                "target_px": list(p.target_px),
                "estimate_px": [round(v, 2) for v in p.estimate_px],
                "error_px": round(p.error_px, 2),
                "n_samples": p.n_samples,
                "validation": p.validation,
            }
            for p in self.points
        ]
        d["counts"] = dict(self.counts)
        d["mapper"] = self.calibration.mapper_name
        d["profile_id"] = self.calibration.profile_id
        return d


@dataclass
class _Target:
    point_px: tuple[float, float]
    validation: bool
    samples: deque[tuple[float, GazeFeatures]] = field(
        default_factory=lambda: deque(maxlen=MAX_SAMPLES_PER_TARGET)
    )


class CalibrationSession:
    """Collects calibration samples while targets are shown, then fits and validates.

    Args:
        layout: a grid layout name ('5', '9', '13', '16'; see :func:`~gazescope.calibration.targets.grid_layout`)
            or a :class:`~gazescope.calibration.targets.TargetLayout`.
        screen_w_px, screen_h_px: the client's screen (viewport) size in px (positive).
        mapper: registered mapper name; ``mapper_params`` are passed to it.
        settle_ms: samples this soon after a target moves are skipped.
        min_samples_per_point: a target with fewer usable samples is left out of the fit.
        user_id: stored with the fitted calibration.

    Raises:
        ValidationError: bad screen size or layout. UnknownMapperError / ConfigurationError: bad mapper.

    Usage::

        s = CalibrationSession("9", 1920, 1080)
        s.target_shown(0, t_ms=0)
        s.add(features, t_ms=40, is_blinking=False)
        ...
        result = s.finish()
    """

    def __init__(
        self,
        layout: str | TargetLayout = "9",
        screen_w_px: int = 1920,
        screen_h_px: int = 1080,
        mapper: str = "ridge",
        settle_ms: float = 300.0,
        *,
        mapper_params: dict[str, Any] | None = None,
        min_samples_per_point: int = MIN_SAMPLES_PER_POINT,
        user_id: str | None = None,
    ) -> None:
        if screen_w_px <= 0 or screen_h_px <= 0:
            raise ValidationError("screen_w_px and screen_h_px must be positive")
        if settle_ms < 0:
            raise ValidationError("settle_ms must not be negative")
        self.layout = layout if isinstance(layout, TargetLayout) else grid_layout(layout)
        self.screen_w_px = int(screen_w_px)
        self.screen_h_px = int(screen_h_px)
        self.mapper_name = mapper
        self.mapper_params = dict(mapper_params or {})
        self._mapper_probe = create_mapper(mapper, **self.mapper_params)  # fail early on a bad name
        self.settle_ms = float(settle_ms)
        self.min_samples_per_point = max(1, int(min_samples_per_point))
        self.user_id = user_id
        self._targets: list[_Target] = [
            _Target((x, y), self.layout.is_validation(i))
            for i, (x, y) in enumerate(self.layout.to_px(self.screen_w_px, self.screen_h_px))
        ]
        self._n_layout_targets = len(self._targets)
        self._n_kept = 0
        self._current: int | None = None
        self._shown_at_ms = 0.0
        self._finished = False
        self.counts = {"accepted": 0, "settling": 0, "blink": 0, "no_features": 0, "no_target": 0, "full": 0}

    # -- state ---------------------------------------------------------------------------------------
    @property
    def targets_px(self) -> list[tuple[float, float]]:
        """Every target (layout calibration, layout validation, then any custom ones) in px."""
        return [t.point_px for t in self._targets]

    @property
    def current_target(self) -> int | None:
        return self._current

    def progress(self) -> list[dict[str, Any]]:
        """Per target: point, validation flag, usable sample count, and whether it has enough."""
        return [
            {
                "index": i,
                "target_px": list(t.point_px),
                "validation": t.validation,
                "samples": len(t.samples),
                "done": len(t.samples) >= self.min_samples_per_point,
            }
            for i, t in enumerate(self._targets)
        ]

    def target_shown(
        self, target: int | tuple[float, float], t_ms: float, *, validation: bool = False
    ) -> int:
        """The client now shows ``target``: a layout index (into ``targets_px``) or a screen point (x, y)
        in px (matched to an existing target within 1 px, else added as a custom target, a calibration
        target unless ``validation``). Starts the settle window,
        unless the target moved by less than ``PURSUIT_STEP_FRAC`` (5%) of the screen width: a
        smooth-pursuit target (:func:`~gazescope.calibration.targets.pursuit_path`, sent as points frame by
        frame) is followed without saccades, so only its first appearance settles; for pursuit use
        ``min_samples_per_point=1`` and mark some points ``validation=True``. Returns the target's index.

        Raises:
            ValidationError: index out of range, a point off the screen, or a new point beyond
                :data:`MAX_CUSTOM_TARGETS` ("too many targets"). CalibrationError: finished.
        """
        if self._finished:
            raise CalibrationError("this calibration session is finished")
        if isinstance(target, int | np.integer):
            idx = int(target)
            if not 0 <= idx < len(self._targets):
                raise ValidationError(f"target index {idx} out of range 0..{len(self._targets) - 1}")
        else:
            try:
                x, y = float(target[0]), float(target[1])
            except (TypeError, ValueError, IndexError) as exc:
                raise ValidationError("a target must be an index or an (x, y) point in px") from exc
            if not (0 <= x <= self.screen_w_px and 0 <= y <= self.screen_h_px):
                raise ValidationError(
                    f"target ({x}, {y}) lies off the {self.screen_w_px}x{self.screen_h_px} screen"
                )
            idx = next(
                (
                    i
                    for i, t in enumerate(self._targets)
                    if math.hypot(t.point_px[0] - x, t.point_px[1] - y) <= 1.0
                ),
                -1,
            )
            if idx < 0:
                if len(self._targets) - self._n_layout_targets >= MAX_CUSTOM_TARGETS:
                    raise ValidationError(
                        f"too many targets: a calibration accepts at most {MAX_CUSTOM_TARGETS} custom "
                        "points besides its layout's"
                    )
                self._targets.append(_Target((x, y), validation))
                idx = len(self._targets) - 1
        if idx != self._current:
            prev = self._targets[self._current].point_px if self._current is not None else None
            new = self._targets[idx].point_px
            step = math.inf if prev is None else math.hypot(new[0] - prev[0], new[1] - prev[1])
            self._current = idx
            if step > PURSUIT_STEP_FRAC * self.screen_w_px:
                self._shown_at_ms = float(t_ms)
        return idx

    def add(
        self,
        features: FrameFeatures,
        t_ms: float,
        is_blinking: bool = False,
        image_rgb: np.ndarray | None = None,
        *,
        mirrored: FrameFeatures | None = None,
        views: Sequence[tuple[FrameFeatures, bool]] = (),
    ) -> bool:
        """Offer one frame's features for the target shown now. Returns True when it was kept.

        Skipped (and counted in ``counts``): no target shown yet, within ``settle_ms`` of the target
        appearing, a blink, :data:`MAX_SAMPLES_TOTAL` samples kept already (``full``), or no usable features (no face/irises/head pose; for an appearance mapper
        also no ``image_rgb``). ``image_rgb`` is used in memory only (eye patches). ``mirrored`` and
        ``views`` (from :func:`~gazescope.calibration.features.analyze_views`) are averaged into the
        features (see :func:`~gazescope.calibration.features.extract_features`).

        Raises:
            CalibrationError: the session is finished.
        """
        if self._finished:
            raise CalibrationError("this calibration session is finished")
        if self._current is None:
            self.counts["no_target"] += 1
            return False
        if float(t_ms) - self._shown_at_ms < self.settle_ms:
            self.counts["settling"] += 1
            return False
        if is_blinking:
            self.counts["blink"] += 1
            return False
        needs = self._mapper_probe.needs_patches
        if needs and image_rgb is None:
            self.counts["no_features"] += 1
            return False
        gf = extract_features(features, image_rgb if needs else None, mirrored=mirrored, views=views)
        if gf is None:
            self.counts["no_features"] += 1
            return False
        samples = self._targets[self._current].samples
        if len(samples) < MAX_SAMPLES_PER_TARGET:
            if self._n_kept >= MAX_SAMPLES_TOTAL:
                self.counts["full"] += 1
                return False
            self._n_kept += 1
        samples.append((float(t_ms), gf))  # a full target drops its oldest sample
        self.counts["accepted"] += 1
        return True

    # -- fit -----------------------------------------------------------------------------------------
    def finish(
        self, should_stop: Callable[[], bool] | None = None, *, leave_one_out: bool = True
    ) -> CalibrationResult:
        """Fit the mapper and validate it (see the module docstring).

        ``should_stop``: called between fits and handed to every mapper fitted here
        (:attr:`~gazescope.calibration.mappers.Mapper.should_stop`); once it returns True the fit raises
        :class:`~gazescope.errors.FitStoppedError` (the service's cancel flag and time limit).
        ``leave_one_out``: without validation targets and with more targets than the mapper needs,
        estimate the error by refitting without each target in turn (one more fit per target: with the
        cnn mapper, 16 targets cost 17 training budgets); False: the error on the training targets
        (``validation_source`` ``training``, optimistic).

        Raises:
            FitStoppedError: ``should_stop()`` returned True.
            NotEnoughDataError: fewer calibration targets with ``min_samples_per_point`` usable samples
                than the mapper needs (the message says how many are needed and how many were usable).
        """
        usable = [t for t in self._targets if len(t.samples) >= self.min_samples_per_point]
        cal_t = [t for t in usable if not t.validation]
        val_t = [t for t in usable if t.validation]
        need = self._mapper_probe.min_points
        if len(cal_t) < need:
            raise NotEnoughDataError(
                f"mapper {self.mapper_name!r} needs at least {need} calibration points with "
                f"{self.min_samples_per_point}+ usable samples each; got {len(cal_t)} "
                f"(samples kept {self.counts['accepted']}, skipped: settling {self.counts['settling']}, "
                f"blink {self.counts['blink']}, no features {self.counts['no_features']})"
            )
        with_patches = self._mapper_probe.needs_patches
        X = np.stack([aggregate([g for _, g in t.samples]).row(with_patches) for t in cal_t])  # type: ignore[misc]
        Y = np.array([t.point_px for t in cal_t])

        def new_mapper() -> Any:
            if should_stop is not None and should_stop():
                raise FitStoppedError("the calibration fit was stopped")
            m = create_mapper(self.mapper_name, **self.mapper_params)
            m.should_stop = should_stop
            return m

        mapper = new_mapper().fit(X, Y)
        mapper.should_stop = None  # the fitted mapper outlives this fit
        all_feats = [g for t in usable for _, g in t.samples]
        fitted = FittedCalibration(
            mapper=mapper,
            screen_w_px=self.screen_w_px,
            screen_h_px=self.screen_h_px,
            head_range=FittedCalibration.head_range_of(all_feats),
            user_id=self.user_id,
            layout=self.layout.name,
        )
        if not with_patches:  # the fit rows, so later sittings can pool with this one
            fitted = replace(
                fitted,
                sittings=(Sitting(fitted.created_at_ms, X, Y, self.screen_w_px, self.screen_h_px).bounded(),),
            )

        points: list[PointError] = []
        s2s: list[float] = []
        if val_t:
            source = "validation"
            for t in val_t:
                P = fitted.predict_features([g for _, g in t.samples])
                points.append(_point_error(t, P, True))
                s2s.extend(_s2s(P))
        elif leave_one_out and len(cal_t) > need:
            source = "leave_one_out"
            for k, t in enumerate(cal_t):
                keep = [i for i in range(len(cal_t)) if i != k]
                m = new_mapper().fit(X[keep], Y[keep])
                rows = np.stack([g.row(with_patches) for _, g in t.samples])  # type: ignore[misc]
                P = np.clip(m.predict(rows), 0, [self.screen_w_px, self.screen_h_px])
                points.append(_point_error(t, P, False))
                s2s.extend(_s2s(P))
        else:
            source = "training"
            for t in cal_t:
                P = fitted.predict_features([g for _, g in t.samples])
                points.append(_point_error(t, P, False))
                s2s.extend(_s2s(P))
        errs = np.array([p.error_px for p in points])
        mean_px = float(errs.mean())
        pct = 100.0 * mean_px / self.screen_w_px
        precision = float(np.sqrt(np.mean(np.square(s2s)))) if s2s else None
        result_wo = CalibrationResult(
            calibration=fitted,
            mean_error_px=mean_px,
            median_error_px=float(np.median(errs)),
            mean_error_pct_width=pct,
            precision_rms_px=precision,
            grade=grade_for(pct),
            validation_source=source,
            points=tuple(points),
            n_calibration_points=len(cal_t),
            n_validation_points=len(val_t) if source == "validation" else len(points),
            counts=dict(self.counts),
        )
        fitted.accuracy.update(result_wo.accuracy_dict())
        self._finished = True
        return result_wo


def _point_error(t: _Target, P: np.ndarray, validation: bool) -> PointError:
    est = P.mean(axis=0)
    err = float(math.hypot(est[0] - t.point_px[0], est[1] - t.point_px[1]))
    return PointError(
        target_px=t.point_px, estimate_px=(float(est[0]), float(est[1])), error_px=err,
        n_samples=len(P), validation=validation,
    )  # fmt: skip


def _s2s(P: np.ndarray) -> list[float]:
    """Sample-to-sample distances (px) of consecutive estimates."""
    if len(P) < 2:
        return []
    return np.hypot(*np.diff(P, axis=0).T).tolist()
