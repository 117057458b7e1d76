"""``GazeTracker``: per-stream state that turns :class:`FrameFeatures` into :class:`GazeSample`.

One tracker per stream (a WebSocket connection's session, a video). It smooths the gaze signals with
One Euro filters, holds gaze steady through blinks (a closing lid drags the iris landmarks down), detects
blink events, keeps rolling eye-contact %, blink rate and PERCLOS, decides the attention state, and, when
a calibration is attached, maps gaze to the screen.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from gazescope.config import Settings, TrackingSettings
from gazescope.domain import BlinkEvent, Direction, FrameFeatures, GazeSample
from gazescope.tracking.attention import AttentionModel, WindowedRate
from gazescope.tracking.blinks import BlinkDetector
from gazescope.tracking.filters import OneEuroFilters
from gazescope.tracking.neutral import NeutralGaze
from gazescope.vision.eyes import mean_or_none
from gazescope.vision.gaze import gaze_vector

# A mapped point this far outside the screen (fraction of its width) still counts as on the screen: webcam
# gaze estimates are off by 5-20% of the screen width (RealEye 106 px to WebGazer 172 px on ~1500 px wide
# screens), so a point just past the edge is more likely an error than a look away.
ON_SCREEN_MARGIN = 0.1


class ScreenMapper(Protocol):
    """What the tracker needs of a fitted calibration (``gazescope.calibration.profile``)."""

    @property
    def screen_w_px(self) -> int: ...

    @property
    def screen_h_px(self) -> int: ...

    def predict_screen(
        self, ff: FrameFeatures, image_rgb: Any = None, *, clip: bool = True
    ) -> tuple[float, float] | None: ...

    def head_in_range(self, ff: FrameFeatures) -> bool: ...


class GazeTracker:
    """Per-stream tracking.

    Args:
        settings: the tracking group (:class:`~gazescope.config.TrackingSettings`: gaze and eye contact,
            smoothing, blinks, attention); a ``Settings`` is one. None: ``Settings()`` (the environment).
        calibration: an optional fitted calibration; when set, samples carry screen coordinates.
    """

    def __init__(
        self, settings: TrackingSettings | None = None, calibration: ScreenMapper | None = None
    ) -> None:
        s: TrackingSettings = settings if settings is not None else Settings()
        self.settings = s
        self.calibration = calibration
        self._ratios = OneEuroFilters(2, s, scale=1.0)
        self._angles = OneEuroFilters(2, s, scale=45.0)
        self._screen: OneEuroFilters | None = None
        self.blinks = BlinkDetector(s)
        self.attention = AttentionModel(s)
        self.neutral = NeutralGaze(
            s.attention_neutral_window_s,
            s.attention_neutral_max_deg,
            s.camera_offset_pitch_deg,
            s.attention_pitch_weight,
        )
        self._eye_contact = WindowedRate(s.eye_contact_window_s)
        self._blink_times: deque[float] = deque()
        self._frames = 0
        self._first_t: float | None = None
        self._contact = False
        self._on_screen: bool | None = None

    def set_calibration(self, calibration: ScreenMapper | None) -> None:
        """Attach (or detach with None) a fitted calibration; screen smoothing restarts."""
        self.calibration = calibration
        self._screen = None

    @property
    def blink_events(self) -> list[BlinkEvent]:
        return self.blinks.events

    def _blink_rate(self, t_ms: float) -> float:
        window_ms = self.settings.blink_rate_window_s * 1000
        while self._blink_times and self._blink_times[0] < t_ms - window_ms:
            self._blink_times.popleft()
        assert self._first_t is not None
        span_ms = min(max(t_ms - self._first_t, 1000.0), window_ms)
        return len(self._blink_times) * 60000.0 / span_ms

    def _blink_ear(self, ff: FrameFeatures) -> float | None:
        """The EAR the blink detector reads: both eyes' mean, or the wider (nearer) eye's alone once the head
        is turned ``blink_near_eye_yaw_deg`` or more."""
        r, left = ff.right_eye, ff.left_eye
        turned = ff.head is not None and abs(ff.head.yaw_deg) >= self.settings.blink_near_eye_yaw_deg
        if r is not None and left is not None and turned:
            return (r if r.width_px >= left.width_px else left).ear
        return ff.ear_mean

    def _closed(self, ff: FrameFeatures, detector_closed: bool) -> bool:
        """Closed eyes in this frame: a closure of the blink detector during which the iris landmarks
        dropped with the lid (``closed_iris_drop``); with the iris still in view the lids are lowered
        (looking down), which the gaze pitch's lid term carries instead."""
        if not detector_closed or not ff.face_detected:
            return False
        oy = mean_or_none([e.offset_y for e in (ff.right_eye, ff.left_eye) if e is not None])
        rest = self.neutral.offset_y
        return oy is None or rest is None or oy - rest >= self.settings.closed_iris_drop

    def _screen_point(
        self, ff: FrameFeatures, held: bool, t_s: float, image_rgb: Any
    ) -> tuple[float | None, float | None, bool | None, bool | None]:
        """(screen_x_px, screen_y_px, on_screen, head_in_range) from the calibration, None without one;
        held through a closure (``held``)."""
        cal = self.calibration
        if cal is None or not ff.face_detected:
            return None, None, None, None
        in_range = cal.head_in_range(ff)
        if self._screen is None:
            self._screen = OneEuroFilters(2, self.settings, scale=float(cal.screen_w_px))
        sx = sy = on_screen = None
        if held:
            sx, sy = self._screen.last()
            on_screen = self._on_screen
        else:
            raw = cal.predict_screen(ff, image_rgb, clip=False)
            if raw is not None:
                sw, sh = cal.screen_w_px, cal.screen_h_px
                m = ON_SCREEN_MARGIN * sw
                on_screen = bool(-m <= raw[0] <= sw + m and -m <= raw[1] <= sh + m)
                clipped = (min(max(raw[0], 0.0), sw - 1.0), min(max(raw[1], 0.0), sh - 1.0))
                sx, sy = self._screen(clipped, t_s)
        self._on_screen = on_screen
        return sx, sy, on_screen, in_range

    def update(
        self,
        ff: FrameFeatures,
        t_ms: float,
        frame_index: int | None = None,
        *,
        processing_ms: float = 0.0,
        dropped_frames: int = 0,
        image_rgb: Any = None,
    ) -> GazeSample:
        """Fold one frame's features into the stream; returns its sample.

        Args:
            ff: the frame's features from ``FrameAnalyzer``.
            t_ms: the frame's time in milliseconds (monotonic within the stream).
            frame_index: the frame's index (defaults to a running count).
            processing_ms: time spent on the frame so far (decode + vision), reported in the sample.
            dropped_frames: frames dropped so far in the stream (reported in the sample).
            image_rgb: the frame, only for mappers that read eye patches.
        """
        s = self.settings
        if frame_index is None:
            frame_index = self._frames
        self._frames += 1
        if self._first_t is None:
            self._first_t = t_ms
        t_s = t_ms / 1000.0
        ear = self._blink_ear(ff)
        bu = self.blinks.update(t_ms, frame_index, ear if ff.face_detected else None)
        if bu.event is not None:
            self._blink_times.append(t_ms)
        h = v = gyaw = gpitch = None
        if ff.face_detected:
            eyes = [e for e in (ff.right_eye, ff.left_eye) if e is not None]
            raw_h = mean_or_none([e.horizontal_ratio for e in eyes])
            raw_v = mean_or_none([e.vertical_ratio for e in eyes])
            if bu.is_closed:  # hold gaze through blinks
                h, v = self._ratios.last()
                gyaw, gpitch = self._angles.last()
            else:
                if raw_h is not None and raw_v is not None:
                    h, v = self._ratios((raw_h, raw_v), t_s)
                if ff.gaze_yaw_deg is not None and ff.gaze_pitch_deg is not None:
                    gyaw, gpitch = self._angles((ff.gaze_yaw_deg, ff.gaze_pitch_deg), t_s)
        else:
            self._ratios.reset()
            self._angles.reset()
        # a closure outlasting lowered_lids_after_ms is lowered lids (looking down) until eyes_closed_after_s
        lowered = bu.is_closed and s.lowered_lids_after_ms < bu.closed_ms < s.eyes_closed_after_s * 1000.0
        closed = self._closed(ff, bu.is_closed) and not lowered
        deviation = None
        if ff.face_detected and not closed and ff.gaze_yaw_deg is not None and ff.gaze_pitch_deg is not None:
            pitch = ff.gaze_pitch_deg + s.lid_pitch_gain_deg * ((bu.openness or 1.0) - 1.0)
            oy = mean_or_none([e.offset_y for e in (ff.right_eye, ff.left_eye) if e is not None])
            if oy is not None and not bu.is_closed and not self.neutral.n:
                self.neutral.update(t_ms, ff.gaze_yaw_deg, pitch, oy)  # the first open-eyed frame seeds it
            deviation = min(self.neutral.deviation_deg(ff.gaze_yaw_deg, pitch), 180.0)
            self._contact = deviation <= s.eye_contact_cone_deg
            if oy is not None and not bu.is_closed:
                self.neutral.update(t_ms, ff.gaze_yaw_deg, pitch, oy)
        elif not ff.face_detected or closed:
            self._contact = False
        contact_pct = 100.0 * self._eye_contact.update(t_ms, self._contact)
        sx, sy, on_screen, in_range = self._screen_point(ff, bu.is_closed, t_s, image_rgb)
        score, state, perclos = self.attention.update(
            t_ms,
            face=ff.face_detected,
            openness=bu.openness,
            closed_ms=bu.closed_ms if closed else 0.0,
            deviation_deg=deviation,
            on_screen=on_screen,
        )
        direction = None
        if h is not None:
            if h <= s.direction_right_threshold:
                direction = Direction.RIGHT
            elif h >= s.direction_left_threshold:
                direction = Direction.LEFT
            else:
                direction = Direction.CENTER
        cal = self.calibration
        head = ff.head
        right, left = ff.right_eye, ff.left_eye
        return GazeSample(
            t_ms=t_ms,
            frame_index=frame_index,
            face_detected=ff.face_detected,
            face_count=ff.face_count,
            confidence=ff.confidence,
            pupil_left_px=left.pupil_px if left else None,
            pupil_right_px=right.pupil_px if right else None,
            horizontal_ratio=h,
            vertical_ratio=v,
            direction=direction,
            ear_left=left.ear if left else None,
            ear_right=right.ear if right else None,
            is_blinking=closed,
            blink_count=len(self.blinks.events),
            yaw_deg=head.yaw_deg if head else None,
            pitch_deg=head.pitch_deg if head else None,
            roll_deg=head.roll_deg if head else None,
            gaze_yaw_deg=gyaw,
            gaze_pitch_deg=gpitch,
            gaze_vector=gaze_vector(gyaw, gpitch) if gyaw is not None and gpitch is not None else None,
            gaze_offset_deg=deviation,
            eye_contact=self._contact,
            eye_contact_pct=contact_pct,
            blink_rate_per_min=self._blink_rate(t_ms),
            perclos=perclos,
            attention_score=score,
            attention_state=state,
            screen_x_px=sx,
            screen_y_px=sy,
            on_screen=on_screen,
            head_in_range=in_range,
            processing_ms=processing_ms,
            dropped_frames=dropped_frames,
            calibration_fit=getattr(cal, "fit_id", None) if sx is not None else None,
        )
