"""The data-quality card of a session report: effective frame rate, share of frames with a face,
calibration error and dropped frames, each judged pass or fail against a stated threshold
(:class:`gazescope.config.DataQualitySettings`, whose field descriptions give each threshold's source or
reason).

The figures (all from the session's samples and its recorded calibration accuracy):

* effective FPS = processed frames / session duration (first sample to the end of the last one), frames/s;
* face share = frames with a face / processed frames (0-1);
* calibration error = the applied calibration's validation mean error in % of the screen width (its px
  figure beside it); not applicable without a calibration;
* dropped share = frames dropped under load / (processed + dropped) (0-1).

Accuracy as Holmqvist, Nyström & Mulvey, "Eye tracker data quality: what it is and how to measure it"
(ETRA 2012): the distance between validation targets and the gaze on them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from gazescope.config import DataQualitySettings

__all__ = ["CheckStatus", "DataQuality", "QualityCheck", "assess_data_quality", "quality_of_report"]


class CheckStatus(StrEnum):
    """The verdict of one check: ``pass``, ``fail``, ``not_applicable`` (e.g. no calibration, no frames)
    or ``unknown`` (applicable, but the figure was not recorded)."""

    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class QualityCheck:
    """One line of the card.

    ``name``: ``effective_fps``, ``face_share``, ``calibration_error`` or ``dropped_share``; ``label``: its
    words for people; ``value`` in ``unit`` (None when not measured); ``threshold`` and ``comparison``
    (``">="``: the value must be at least the threshold, ``"<="``: at most); ``status``; ``detail``: the
    counts behind the value, or why it is not applicable; ``setting``: the
    :class:`~gazescope.config.Settings` field holding the threshold.
    """

    name: str
    label: str
    value: float | None
    unit: str
    threshold: float
    comparison: Literal[">=", "<="]
    status: CheckStatus
    detail: str
    setting: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "threshold": self.threshold,
            "comparison": self.comparison,
            "status": self.status.value,
            "detail": self.detail,
            "setting": self.setting,
        }


@dataclass(frozen=True, slots=True)
class DataQuality:
    """The card: its checks in a fixed order. ``status`` is ``fail`` when any check fails, else ``pass``
    when at least one passes, else ``unknown``."""

    checks: tuple[QualityCheck, ...]

    @property
    def status(self) -> CheckStatus:
        verdicts = {c.status for c in self.checks}
        if CheckStatus.FAIL in verdicts:
            return CheckStatus.FAIL
        return CheckStatus.PASS if CheckStatus.PASS in verdicts else CheckStatus.UNKNOWN

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the failed checks."""
        return tuple(c.name for c in self.checks if c.status is CheckStatus.FAIL)

    def check(self, name: str) -> QualityCheck:
        """The check called ``name``; ``KeyError`` when there is none."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "failed": list(self.failed),
            "checks": [c.to_dict() for c in self.checks],
        }


def _verdict(value: float, threshold: float, comparison: Literal[">=", "<="]) -> CheckStatus:
    ok = value >= threshold if comparison == ">=" else value <= threshold
    return CheckStatus.PASS if ok else CheckStatus.FAIL


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def assess_data_quality(
    *,
    frames: int,
    frames_with_face: int,
    duration_s: float,
    dropped_frames: int,
    calibrated: bool,
    calibration_error_px: float | None,
    screen_w_px: float | None,
    thresholds: DataQualitySettings | None = None,
) -> DataQuality:
    """The data-quality card of one session.

    Args:
        frames: Processed frames (samples), >= 0.
        frames_with_face: Those of them with a face, >= 0.
        duration_s: Session duration from the first sample to the end of the last one (s, >= 0).
        dropped_frames: Frames dropped under load (>= 0).
        calibrated: Whether a calibration was applied (screen gaze or a recorded calibration).
        calibration_error_px: Validation mean error of the applied calibration (screen px), None when not
            recorded.
        screen_w_px: Screen width (px) the error is expressed against, or None.
        thresholds: Optional :class:`DataQualitySettings`: the pass/fail thresholds (default: the
            settings' defaults).

    Returns:
        :class:`DataQuality`, whose checks are ``effective_fps`` (frames/s, >= ``quality_min_fps``),
        ``face_share`` (0-1, >= ``quality_min_face_share``), ``calibration_error`` (% of width, <=
        ``quality_max_calibration_error_pct_width``; not applicable without a calibration, unknown when
        its error or the screen width is not recorded) and ``dropped_share`` (0-1, <=
        ``quality_max_dropped_share``). With no frames, the frame checks are not applicable.
    """
    q = thresholds or DataQualitySettings()
    checks: list[QualityCheck] = []
    na = CheckStatus.NOT_APPLICABLE

    if frames >= 2 and duration_s > 0:
        fps = frames / duration_s
        checks.append(QualityCheck(
            "effective_fps", "effective frame rate", fps, "frames/s", q.quality_min_fps, ">=",
            _verdict(fps, q.quality_min_fps, ">="), f"{frames} frames in {duration_s:.1f} s", "quality_min_fps",
        ))  # fmt: skip
    else:
        checks.append(QualityCheck(
            "effective_fps", "effective frame rate", None, "frames/s", q.quality_min_fps, ">=", na,
            f"{frames} frame{'s' if frames != 1 else ''}: no rate to measure", "quality_min_fps",
        ))  # fmt: skip

    if frames > 0:
        share = frames_with_face / frames
        checks.append(QualityCheck(
            "face_share", "frames with a face", share, "share", q.quality_min_face_share, ">=",
            _verdict(share, q.quality_min_face_share, ">="), f"{frames_with_face} of {frames} frames",
            "quality_min_face_share",
        ))  # fmt: skip
    else:
        checks.append(QualityCheck(
            "face_share", "frames with a face", None, "share", q.quality_min_face_share, ">=", na,
            "no frames processed", "quality_min_face_share",
        ))  # fmt: skip

    limit = q.quality_max_calibration_error_pct_width
    name, label, setting = "calibration_error", "calibration error", "quality_max_calibration_error_pct_width"
    if not calibrated and calibration_error_px is None:
        checks.append(
            QualityCheck(name, label, None, "% of width", limit, "<=", na, "no calibration applied", setting)
        )
    elif not _finite(calibration_error_px):
        checks.append(QualityCheck(
            name, label, None, "% of width", limit, "<=", CheckStatus.UNKNOWN,
            "a calibration was applied but its validation error is not recorded", setting,
        ))  # fmt: skip
    elif not (_finite(screen_w_px) and screen_w_px and screen_w_px > 0):
        checks.append(QualityCheck(
            name, label, None, "% of width", limit, "<=", CheckStatus.UNKNOWN,
            f"{calibration_error_px:.0f} px; the screen width is not recorded", setting,
        ))  # fmt: skip
    else:
        assert calibration_error_px is not None and screen_w_px is not None
        pct = 100.0 * calibration_error_px / screen_w_px
        checks.append(QualityCheck(
            name, label, pct, "% of width", limit, "<=", _verdict(pct, limit, "<="),
            f"{calibration_error_px:.0f} px mean validation error on a {screen_w_px:.0f} px wide screen", setting,
        ))  # fmt: skip

    received = frames + dropped_frames
    if received > 0:
        dropped = dropped_frames / received
        checks.append(QualityCheck(
            "dropped_share", "frames dropped under load", dropped, "share", q.quality_max_dropped_share, "<=",
            _verdict(dropped, q.quality_max_dropped_share, "<="),
            f"{dropped_frames} dropped of {received} received", "quality_max_dropped_share",
        ))  # fmt: skip
    else:
        checks.append(QualityCheck(
            "dropped_share", "frames dropped under load", None, "share", q.quality_max_dropped_share, "<=", na,
            "no frames received", "quality_max_dropped_share",
        ))  # fmt: skip
    return DataQuality(tuple(checks))


def quality_of_report(
    report: Mapping[str, Any], thresholds: DataQualitySettings | None = None
) -> DataQuality:
    """The card of a stored session report's JSON (for reports made before they carried one): from its
    ``frames``, ``frames_with_face``, ``duration_s``, ``dropped_frames``, ``calibration_accuracy_px``,
    ``screen_w_px`` and ``has_gaze`` (a calibration counts as applied with an accuracy or screen gaze).
    Missing figures count as 0 / not recorded."""

    def num(key: str) -> float | None:
        v = report.get(key)
        return (
            float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None
        )

    acc = num("calibration_accuracy_px")
    return assess_data_quality(
        frames=int(num("frames") or 0),
        frames_with_face=int(num("frames_with_face") or 0),
        duration_s=num("duration_s") or 0.0,
        dropped_frames=int(num("dropped_frames") or 0),
        calibrated=acc is not None or report.get("has_gaze") is True,
        calibration_error_px=acc,
        screen_w_px=num("screen_w_px"),
        thresholds=thresholds,
    )
