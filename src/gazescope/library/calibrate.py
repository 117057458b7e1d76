"""Screen calibration from Python: (frame, target screen point) pairs fitted by the mapper registry.

:class:`Calibrator` feeds :class:`~gazescope.calibration.session.CalibrationSession` (the state machine
the service's calibration runs on) with the features of frames in which the person looks at a known
point; :meth:`Calibrator.fit` returns its :class:`~gazescope.calibration.session.CalibrationResult`,
whose ``calibration`` a :class:`~gazescope.library.tracker.Tracker` applies.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType
from typing import Any

from gazescope.calibration.profile import FittedCalibration
from gazescope.calibration.session import CalibrationResult, CalibrationSession
from gazescope.calibration.targets import TargetLayout
from gazescope.config import Settings
from gazescope.errors import CalibrationError
from gazescope.library.tracker import Tracker

#: The layout of a calibration from Python: no preset targets; each ``add`` names its own point.
PYTHON_LAYOUT = TargetLayout("python", (), ())


class Calibrator:
    """Collects frames at known screen points, then fits a screen mapping.

    Args:
        screen_w_px, screen_h_px: the screen (or window) the targets are shown on, in px (positive).
        mapper: a registered mapper name (``ridge``, the default; ``cnn`` with ``pip install '.[cnn]'``).
        mapper_params: passed to the mapper (e.g. ``{"alphas": [0.01, 0.1, 1]}`` for ridge).
        tracker: the :class:`Tracker` whose frames calibrate (its stream state, no second landmark graph);
            None creates one (``static`` and ``settings`` apply to it), closed by :meth:`close`.
        settle_ms: frames this soon after the target moved are skipped (the eye is still travelling;
            the service uses 300). 0 keeps every frame, for frames taken when the person was on target.
        min_samples_per_point: a target with fewer kept frames is left out of the fit.
        static: the frames are unrelated still images (used only when ``tracker`` is None).
        settings: as :class:`Tracker` (used only when ``tracker`` is None).

    Raises:
        ValidationError: bad screen size. UnknownMapperError: unknown mapper (the message lists them).

    A target is any screen point; at least 4 distinct targets are needed by ``ridge`` (a 3x3 grid or more
    is better). Targets added with ``validation=True`` are not fitted: the result's accuracy is measured
    on them (else by leave-one-out refits).
    """

    def __init__(
        self,
        screen_w_px: int,
        screen_h_px: int,
        *,
        mapper: str = "ridge",
        mapper_params: dict[str, Any] | None = None,
        tracker: Tracker | None = None,
        settle_ms: float = 0.0,
        min_samples_per_point: int = 1,
        static: bool = False,
        settings: Settings | None = None,
    ) -> None:
        self.session = CalibrationSession(
            PYTHON_LAYOUT,
            screen_w_px,
            screen_h_px,
            mapper,
            settle_ms,
            mapper_params=mapper_params,
            min_samples_per_point=min_samples_per_point,
        )
        self._own = tracker is None
        self.tracker = tracker if tracker is not None else Tracker(settings=settings, static=static)
        self._static = static and self._own

    def add(
        self,
        frame: Any,
        target_px: tuple[float, float],
        *,
        t_ms: float | None = None,
        validation: bool = False,
        rgb: bool = False,
    ) -> bool:
        """Offer one frame in which the person looks at ``target_px`` (x, y screen px, origin top-left).

        Returns True when the frame was kept; False when skipped (no face or irises, a blink, within
        ``settle_ms`` of the target appearing): ``self.session.counts`` counts each reason.

        Raises:
            ValidationError: a bad frame or timestamp (as :meth:`Tracker.process`), a point off the screen.
            CalibrationError: after :meth:`fit`.
        """
        ff, sample, image = self.tracker.step(frame, t_ms, rgb=rgb)
        self.session.target_shown(
            (float(target_px[0]), float(target_px[1])), sample.t_ms, validation=validation
        )
        blinking = False if self._static else bool(sample.is_blinking)
        return self.session.add(ff, sample.t_ms, is_blinking=blinking, image_rgb=image)

    def fit(self) -> CalibrationResult:
        """Fit the mapper and measure its accuracy (``mean_error_px``, ``grade`` ...).

        Raises:
            NotEnoughDataError: fewer usable targets than the mapper needs (the message says how many).
        """
        return self.session.finish()

    def close(self) -> None:
        """Close the tracker this calibrator created (a tracker passed in stays open)."""
        if self._own:
            self.tracker.close()

    def __enter__(self) -> Calibrator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def save_calibration(calibration: FittedCalibration, path: str | Path) -> Path:
    """Write a fitted calibration as the JSON profile ``gazescope analyze --calibration`` reads."""
    p = Path(path)
    p.write_text(calibration.to_json())
    return p


def load_calibration(path: str | Path) -> FittedCalibration:
    """A calibration profile file: the JSON :func:`save_calibration` writes, or the document
    ``GET /api/profiles/{id}`` answers (``{"profile": {...}}``).

    Raises:
        CalibrationError: unreadable file, bad JSON or schema.
    """
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"cannot read calibration profile {path}: {exc}") from exc
    if isinstance(doc, dict) and isinstance(doc.get("profile"), dict):
        doc = doc["profile"]
    return FittedCalibration.from_dict(doc)
