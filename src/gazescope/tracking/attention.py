"""Attention: PERCLOS, rolling rates, and the attention score and state.

PERCLOS P80 (Wierwille et al., "Research on Vehicle-Based Driver Status/Performance Monitoring", NHTSA
1994; Dinges & Grace, "PERCLOS: A Valid Psychophysiological Measure of Alertness", FHWA 1998): the share
of time, over a one-minute window, during which the eyes are at least 80% closed. Eye closure is read from
the EAR relative to the person's open-eye baseline: ``closure = (1 - EAR/baseline) / (1 - CLOSED_OPENNESS)``,
where ``CLOSED_OPENNESS`` is the EAR ratio of a fully closed eye as Face Mesh sees it (its lids never
meet: about 0.35 of the open value, measured at the bottom of blinks in the ZJU and TalkingFace clips).

States, first rule that holds wins (thresholds, with their defaults and sources, in
:class:`~gazescope.config.AttentionSettings`; what each means for a user in docs/attention.md):

1. ``absent``: no face for ``absent_after_s``;
2. ``eyes_closed``: eyes closed continuously for ``eyes_closed_after_s`` (beyond any blink);
3. ``drowsy``: PERCLOS >= ``drowsy_perclos`` (Wierwille et al. 1994 rate 0.15 as the onset of drowsiness)
   once at least half a PERCLOS window has been seen;
4. ``looking_away``: for ``looking_away_after_s``, the gaze is further than ``looking_away_deg`` from the
   person's neutral direction (:mod:`gazescope.tracking.neutral`; its pitch lowered with the lids, see
   ``lid_pitch_gain_deg``), or a calibrated gaze point is off the screen; it ends once neither holds for
   ``attention_return_after_s``, the angle now compared with ``looking_away_release_deg`` (hysteresis);
5. ``focused`` otherwise.

Score: an exponential moving average (time constant ``attention_smoothing_s``) of an instantaneous value
that is 0 when absent, eyes closed or off the screen, 1 while the gaze is within half
the looking-away angle of the neutral, falling linearly to 0 at 1.5x that angle, and halved while drowsy;
the first frame with a face starts it at its own value. The score never contradicts the state: it is
kept at or above 0.5 while ``focused`` and below 0.5 otherwise (0 while ``absent``).
"""

from __future__ import annotations

from collections import deque

from gazescope.config import AttentionSettings
from gazescope.domain import AttentionState
from gazescope.tracking.filters import Ema

CLOSED_OPENNESS = 0.35


class WindowedRate:
    """Time-weighted share of a boolean over a sliding window (each value weighs its frame interval)."""

    def __init__(self, window_s: float) -> None:
        self.window_ms = window_s * 1000.0
        self._q: deque[tuple[float, float, bool]] = deque()
        self._true_ms = 0.0
        self._total_ms = 0.0
        self._last_t: float | None = None

    def update(self, t_ms: float, value: bool) -> float:
        """Add a value at ``t_ms``; returns the share of time it was True, 0..1."""
        dt = 33.3 if self._last_t is None else min(max(t_ms - self._last_t, 0.0), 1000.0)
        self._last_t = t_ms
        self._q.append((t_ms, dt, value))
        self._total_ms += dt
        self._true_ms += dt if value else 0.0
        while self._q and self._q[0][0] < t_ms - self.window_ms:
            _, odt, ov = self._q.popleft()
            self._total_ms -= odt
            self._true_ms -= odt if ov else 0.0
        return self.share

    @property
    def share(self) -> float:
        return min(max(self._true_ms / self._total_ms, 0.0), 1.0) if self._total_ms > 0 else 0.0

    @property
    def covered_s(self) -> float:
        return self._total_ms / 1000.0


def eye_closure(openness: float | None) -> float | None:
    """Closure 0 (as open as usual) .. 1 (fully closed) from EAR/baseline; None when unknown."""
    if openness is None:
        return None
    return min(max((1.0 - openness) / (1.0 - CLOSED_OPENNESS), 0.0), 1.0)


SCORE_SPLIT = 0.5  # focused scores at or above it, every other state below


class AttentionModel:
    """Attention score (0..1) and state for one stream; see the module docstring for the rules."""

    def __init__(self, settings: AttentionSettings | None = None) -> None:
        """``settings``: the windows and thresholds (:class:`~gazescope.config.AttentionSettings`, where
        each has its unit, range and source); None: the defaults. A ``Settings`` is an
        ``AttentionSettings``."""
        s = settings if settings is not None else AttentionSettings()
        self.perclos = WindowedRate(s.perclos_window_s)
        self.perclos_window_s = s.perclos_window_s
        self.closed_fraction = s.perclos_closed_fraction
        self.drowsy_perclos = s.drowsy_perclos
        self.eyes_closed_after_ms = s.eyes_closed_after_s * 1000
        self.absent_after_ms = s.absent_after_s * 1000
        self.away_deg = s.looking_away_deg
        self.release_deg = min(s.looking_away_release_deg, s.looking_away_deg)
        self.away_after_ms = s.looking_away_after_s * 1000
        self.return_after_ms = s.attention_return_after_s * 1000
        self._score = Ema(s.attention_smoothing_s)
        self._no_face_since: float | None = None
        self._away_since: float | None = None
        self._back_since: float | None = None
        self._away = False
        self.state = AttentionState.ABSENT

    def _away_evidence(self, deviation_deg: float | None, on_screen: bool | None) -> bool | None:
        """Whether this frame says 'looking away' (None: it cannot tell, e.g. mid-blink)."""
        if on_screen is False:
            return True
        if deviation_deg is None:
            return None if on_screen is None else False
        return deviation_deg > (self.release_deg if self._away else self.away_deg)

    def _step_away(self, t_ms: float, evidence: bool | None) -> None:
        if evidence is None:
            return
        if evidence:
            self._back_since = None
            self._away_since = self._away_since if self._away_since is not None else t_ms
            if not self._away and t_ms - self._away_since >= self.away_after_ms:
                self._away = True
        else:
            self._away_since = None
            self._back_since = self._back_since if self._back_since is not None else t_ms
            if self._away and t_ms - self._back_since >= self.return_after_ms:
                self._away = False

    def update(
        self,
        t_ms: float,
        *,
        face: bool,
        openness: float | None,
        closed_ms: float,
        deviation_deg: float | None,
        on_screen: bool | None = None,
    ) -> tuple[float, AttentionState, float]:
        """One frame; returns (score 0..1, state, PERCLOS 0..1).

        Args:
            t_ms: the frame's time, milliseconds (monotonic).
            face: a face was found.
            openness: EAR / open-eye baseline (None without eyes).
            closed_ms: duration of the current eye closure (0 when open).
            deviation_deg: angle between the gaze and the person's neutral (None when unknown, e.g.
                mid-blink).
            on_screen: a calibrated gaze point is on the screen (None: not calibrated or unknown).
        """
        closure = eye_closure(openness)
        perclos = self.perclos.update(t_ms, closure is not None and closure >= self.closed_fraction)
        t_s = t_ms / 1000
        if not face:
            self._no_face_since = self._no_face_since if self._no_face_since is not None else t_ms
            self._away_since = self._back_since = None
            self._away = False
            if t_ms - self._no_face_since >= self.absent_after_ms or self.state == AttentionState.ABSENT:
                self.state = AttentionState.ABSENT
                self._score(0.0, t_s)
                return 0.0, self.state, perclos
            return self._banded(self._score(0.0, t_s)), self.state, perclos
        restart = self.state == AttentionState.ABSENT
        self._no_face_since = None
        evidence = self._away_evidence(deviation_deg, on_screen)
        self._step_away(t_ms, evidence)
        drowsy = self.perclos.covered_s >= self.perclos_window_s / 2 and perclos >= self.drowsy_perclos
        if closed_ms >= self.eyes_closed_after_ms:
            state = AttentionState.EYES_CLOSED
        elif drowsy:
            state = AttentionState.DROWSY
        elif self._away:
            state = AttentionState.LOOKING_AWAY
        else:
            state = AttentionState.FOCUSED
        self.state = state
        if state == AttentionState.EYES_CLOSED or (evidence and deviation_deg is None):
            target = 0.0
        elif deviation_deg is None:
            target = self._score.value if self._score.value is not None and not restart else 1.0
        elif on_screen is False:
            target = 0.0
        else:
            half = self.away_deg / 2
            target = min(max(1.0 - (deviation_deg - half) / self.away_deg, 0.0), 1.0)
        if drowsy:
            target *= 0.5
        if restart:
            self._score = Ema(self._score.tau_s)
        return self._banded(self._score(target, t_s)), state, perclos

    def _banded(self, score: float) -> float:
        """The score kept on the state's side of :data:`SCORE_SPLIT` (a state and its score agree)."""
        if self.state == AttentionState.ABSENT:
            return 0.0
        if self.state == AttentionState.FOCUSED:
            return max(score, SCORE_SPLIT)
        return min(score, SCORE_SPLIT - 0.01)
