"""The parameters of fixation detection as one frozen value (:class:`EventParams`), with the defaults for
15-30 Hz webcam gaze and their sources (see :mod:`gazescope.analytics.events` for the reasoning).

Every detector (:func:`~gazescope.analytics.events.idt.idt`, :func:`~gazescope.analytics.events.ivt.ivt`)
and every entry point over sample dicts (:func:`~gazescope.analytics.events.detect.detect_fixations`,
:func:`~gazescope.analytics.events.detect.detect_events`) takes one :class:`EventParams`; a caller changes
what it needs with ``EventParams(threshold_px=50)`` or :func:`dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gazescope.analytics.events.geometry import ScreenGeometry
from gazescope.analytics.samples import DEFAULT_MAX_GAP_MS

#: Shortest fixation (ms): Salvucci & Goldberg 2000 (100-200 ms); Blignaut 2009 used 100 ms.
DEFAULT_MIN_DURATION_MS = 100.0
#: I-DT dispersion threshold without screen geometry (px): 2.5 deg widened for webcam noise (Blignaut 2009).
DEFAULT_DISPERSION_PX = 100.0
#: I-DT dispersion threshold with screen geometry (deg; Blignaut 2009's 1 deg widened for webcam noise).
DEFAULT_DISPERSION_DEG = 2.5
#: I-VT velocity threshold without screen geometry (px/s; about 50 deg/s at 60 cm from a 53 cm, 1920 px screen).
DEFAULT_VELOCITY_PX_S = 2000.0
#: I-VT velocity threshold with screen geometry (deg/s; Tobii's 30 deg/s, Olsen 2012, raised for webcam noise).
DEFAULT_VELOCITY_DEG_S = 50.0
#: Adjacent fixations at most this far apart in time (ms) may merge (Olsen 2012's 75 ms, doubled for 10-30 Hz).
DEFAULT_MERGE_GAP_MS = 150.0


@dataclass(frozen=True, slots=True)
class EventParams:
    """What a fixation detector is told, besides the samples.

    Attributes:
        threshold_px: The detector's threshold in px (I-DT: dispersion ``(max x - min x) + (max y - min y)``;
            I-VT: velocity in px/s), > 0; wins over ``threshold_deg``. None: ``threshold_deg``, else the
            detector's default (2.5 deg / 100 px for I-DT, 50 deg/s / 2000 px/s for I-VT).
        threshold_deg: The threshold in degrees of visual angle (deg or deg/s), > 0; needs ``geometry``.
        min_duration_ms: Shortest fixation (ms), >= 0, default 100 (Salvucci & Goldberg 2000).
        geometry: Screen size and viewing distance for degree thresholds; None: px only.
        max_gap_ms: A longer pause (ms, > 0) between valid samples splits fixations and segments
            (default 200).
        merge_distance_px: Adjacent fixations whose centroids are at most this far apart (px, >= 0) merge
            (Olsen 2012); 0 turns merging off. None: half the I-DT threshold in use (I-VT: half the default
            I-DT threshold).
        merge_gap_ms: ... and at most this far apart in time (ms; default 150).

    Values are checked by the detector that reads them (:class:`gazescope.errors.ValidationError`).
    """

    threshold_px: float | None = None
    threshold_deg: float | None = None
    min_duration_ms: float = DEFAULT_MIN_DURATION_MS
    geometry: ScreenGeometry | None = None
    max_gap_ms: float = DEFAULT_MAX_GAP_MS
    merge_distance_px: float | None = None
    merge_gap_ms: float = DEFAULT_MERGE_GAP_MS


#: The defaults (for 15-30 Hz webcam gaze, without screen geometry).
DEFAULT_EVENT_PARAMS = EventParams()
