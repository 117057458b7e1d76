"""Eye-movement events from gaze samples: fixations (I-DT, I-VT), saccades and blinks.

One detector per module, as pymovements lays them out: :mod:`.idt`, :mod:`.ivt` (registered by name with
:func:`register_fixation_detector`, looked up with :func:`fixation_detector`), :mod:`.saccades`,
:mod:`.blinks`; :mod:`.detect` runs them on sample dicts. Detectors take arrays (``positions`` (N, 2) px,
``timestamps`` (N,) ms) and one frozen :class:`EventParams` (thresholds, durations, geometry, merging); :mod:`gazescope.analytics.samples` turns stored samples (``GazeSample.to_dict()``
dicts, or client gaze points) into them. Screen points are in screen pixels (x right, y down, origin
top-left).

A sample is *valid* for fixation detection when a face was found, the eyes are not in a blink, the
screen point is present and finite, and ``on_screen`` is not False. Invalid samples (no face, blink,
off-screen, uncalibrated) and time gaps longer than ``max_gap_ms`` between valid samples split the stream
into *segments*; no fixation or saccade spans a segment boundary.

Methods (Salvucci & Goldberg, "Identifying Fixations and Saccades in Eye-Tracking Protocols", ETRA 2000):

* I-DT (dispersion threshold, the default): a window covering ``min_duration_ms`` whose dispersion
  ``D = (max x - min x) + (max y - min y)`` is at most the threshold is grown while D stays within it;
  the window is one fixation at its centroid. Otherwise the window start moves one sample on.
* I-VT (velocity threshold): point-to-point velocities between consecutive samples; consecutive samples
  joined by a velocity under the threshold form one fixation group (a sample whose neighbouring velocities
  are all over the threshold is a saccade sample). Groups shorter than ``min_duration_ms`` are dropped.

Timing convention: a fixation starts at the timestamp of its first sample and ends at the timestamp of its
last sample, ``duration_ms = end_ms - start_ms`` (as pymovements and PyGaze do). At 30 Hz a 100 ms
fixation therefore needs 4 samples, at 15 Hz 3 samples.

Defaults for 15-30 Hz webcam gaze:

* ``min_duration_ms = 100``: Salvucci & Goldberg 2000 (100-200 ms); Blignaut 2009 ("Fixation
  identification: the optimum threshold for a dispersion algorithm", Attention, Perception &
  Psychophysics 71(4)) used 100 ms.
* dispersion 2.5 degrees, or 100 px without screen geometry: Blignaut 2009 found about 1 degree best for
  lab trackers (accuracy about 0.5 degree, precision well under 0.1 degree). Webcam gaze after smoothing still
  jitters by tens of pixels (a webcam tracker's accuracy is about 100-170 px, 2.5-4.5 degrees at 60 cm:
  RealEye, WebGazer; see the data README), so a 1 degree (about 40 px) window would break every fixation
  into pieces. 100 px is about 2.6 degrees on a 53 cm wide 1920 px screen at 60 cm.
* I-VT threshold 50 deg/s, or 2000 px/s without geometry: 30 deg/s is the Tobii I-VT default for
  60-300 Hz trackers (Olsen 2012, "The Tobii I-VT Fixation Filter"); Salvucci & Goldberg quote about
  20-100 deg/s. Frame-to-frame webcam noise of 20-40 px at 30 Hz already reads as 600-1200 px/s, so the
  default is raised to 50 deg/s (about 1900 px/s at the geometry above).
* ``max_gap_ms = 200``: longer pauses between valid samples split a fixation. Olsen 2012 interpolates
  gaps up to 75 ms at lab rates; one dropped frame at 15 Hz already leaves 133 ms, so webcam data needs
  about two frame intervals more.
* Merging adjacent fixations (Olsen 2012: merge when at most 75 ms and 0.5 degree apart): with webcam noise
  the dispersion of a long fixation keeps growing with its length, so I-DT cuts it into neighbours at the
  same place, and one noisy frame cuts an I-VT group. Consecutive fixations of one segment whose gap is at
  most ``merge_gap_ms`` (default 150 ms: one or two frame intervals at 10-30 Hz instead of Olsen's 75 ms)
  and whose centroids are at most ``merge_distance_px`` apart (default half the I-DT dispersion threshold
  in use, and for I-VT half the default one, 50 px or 1.25 degrees: points closer than that could not be
  told apart by the threshold) become one
  fixation over all samples from the first one's start to the second one's end. ``merge_distance_px=0``
  turns merging off.
"""

from gazescope.analytics.events import idt, ivt  # noqa: F401  (importing registers the detectors)
from gazescope.analytics.events._library import (
    FixationDetector,
    fixation_detector,
    fixation_detectors,
    register_fixation_detector,
)
from gazescope.analytics.events.blinks import blink_events, detect_blinks
from gazescope.analytics.events.detect import (
    FixationMethod,
    detect_events,
    detect_fixations,
    events_of_arrays,
)
from gazescope.analytics.events.geometry import ScreenGeometry
from gazescope.analytics.events.idt import detect_fixations_idt
from gazescope.analytics.events.ivt import detect_fixations_ivt
from gazescope.analytics.events.params import (
    DEFAULT_DISPERSION_DEG,
    DEFAULT_DISPERSION_PX,
    DEFAULT_EVENT_PARAMS,
    DEFAULT_MERGE_GAP_MS,
    DEFAULT_MIN_DURATION_MS,
    DEFAULT_VELOCITY_DEG_S,
    DEFAULT_VELOCITY_PX_S,
    EventParams,
)
from gazescope.analytics.events.results import Fixation, GazeEvents, Saccade
from gazescope.analytics.events.saccades import detect_saccades
from gazescope.analytics.samples import (
    DEFAULT_MAX_GAP_MS,
    GazeArrays,
    client_gaze_samples,
    gaze_arrays,
    gaze_points_to_samples,
    is_finite_number,
    sample_durations_ms,
    scale_screen_points,
)

__all__ = [
    "DEFAULT_DISPERSION_DEG",
    "DEFAULT_DISPERSION_PX",
    "DEFAULT_EVENT_PARAMS",
    "DEFAULT_MAX_GAP_MS",
    "DEFAULT_MERGE_GAP_MS",
    "DEFAULT_MIN_DURATION_MS",
    "DEFAULT_VELOCITY_DEG_S",
    "DEFAULT_VELOCITY_PX_S",
    "EventParams",
    "Fixation",
    "FixationDetector",
    "FixationMethod",
    "GazeArrays",
    "GazeEvents",
    "Saccade",
    "ScreenGeometry",
    "blink_events",
    "client_gaze_samples",
    "detect_blinks",
    "detect_events",
    "detect_fixations",
    "detect_fixations_idt",
    "detect_fixations_ivt",
    "detect_saccades",
    "events_of_arrays",
    "fixation_detector",
    "fixation_detectors",
    "gaze_arrays",
    "gaze_points_to_samples",
    "is_finite_number",
    "register_fixation_detector",
    "sample_durations_ms",
    "scale_screen_points",
]
