"""Causal blink detection from the eye aspect ratio with an adaptive, per-person threshold.

Method: the open-eye EAR of the person is tracked as the running median of recent EAR values measured
outside blinks (``baseline_window_s``); a blink starts when the EAR falls below
``threshold_ratio x baseline`` and ends when it rises above ``release_ratio x baseline`` (hysteresis, so
noise near the threshold does not split one blink into two). A closure counts as a blink when it lasts
between ``min_ms`` and ``max_ms`` and its deepest EAR is at most ``depth_ratio x baseline`` (a real
blink closes the lid most of the way; a squint or a talking grimace dips less), and it reopens within
``reopen_max_ms`` of the lower half of its closure (a squint lingers half-closed).
Blinks last 100-400 ms (Caffier, Erdmann & Ullsperger, "Experimental evaluation of eye-blink parameters
as a drowsiness measure", Eur. J. Appl. Physiol. 2003), but measured from the threshold crossing to the
release, slow blinks annotated in ZJU Eyeblink last up to ~660 ms, hence the 800 ms default of ``max_ms``.

A closure longer than ``max_ms`` whose median EAR stays above ``rebase_openness`` of the baseline is
neither: the person's open level has changed (lids lowered for a while, glasses, a baseline taken while
the head was turned, which inflates the EAR), so the closure ends and the baseline restarts from its
values; only a blink at its very onset (lids shut within its first 400 ms) is counted. Longer closures below that level are eye closure, or lowered lids (looking down at a desk or keyboard), not blinks. Such a
closure still holds blinks where the EAR dips clearly below its own sustained level: a gaze-evoked blink
at its onset (lids shut, then reopen to the lowered level) and at its end (lids shut before reopening;
Evinger et al., "Eyelid movements", Invest. Ophthalmol. Vis. Sci. 1991: large downward saccades come with
a blink). A dip counts when its minimum is at most ``lowered_dip_ratio`` of the closure's median
EAR within the closure's first ``max_ms`` or last 400 ms. A closed eye held shut stays at one level and
gives no such dip. These events are reported when the long closure ends.

EAR: Soukupova & Cech, CVWW 2016, whose fixed threshold (0.2) this replaces with a per-person ratio,
since open-eye EAR differs between people, cameras and landmark models (the data README's reference:
0.75 x median EAR per clip).

The parameters are the ``blink_*`` fields of :class:`~gazescope.config.BlinkSettings` (``threshold_ratio``
here is ``blink_threshold_ratio`` there), where their defaults and sources are given once.

Everything is causal (online): a decision about frame ``n`` uses frames ``<= n`` only, as in the live
service.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from gazescope.config import BlinkSettings
from gazescope.domain import BlinkEvent


@dataclass(frozen=True, slots=True)
class BlinkUpdate:
    """Result of one :meth:`BlinkDetector.update`.

    ``is_closed``: a closure deep enough to be a blink or closed eyes is in progress (EAR went below
    the threshold and has reached ``depth_ratio x baseline``); lids merely lowered, as when looking down
    at a desk, do not count.
    ``event``: a blink that ended with this frame, else None. ``closed_ms``: how long the current closure
    has lasted (0 when open). ``baseline``: current open-eye EAR estimate (None before the first value).
    ``openness``: EAR / baseline clipped to 0..1.5 (1.0 = as open as usual).
    """

    is_closed: bool
    event: BlinkEvent | None
    closed_ms: float
    baseline: float | None
    openness: float | None


class BlinkDetector:
    """Online blink detector for one stream; feed EAR values in time order.

    Args:
        settings: the thresholds, each with its unit, range and source in
            :class:`~gazescope.config.BlinkSettings`: ``blink_threshold_ratio`` and ``blink_release_ratio``
            (fractions of the baseline EAR where a closure starts and ends), ``blink_min_ms`` and
            ``blink_max_ms`` (duration bounds), ``blink_baseline_window_s`` (window of the open-eye median),
            ``blink_depth_ratio`` (depth a blink must reach), ``blink_lowered_dip_ratio`` (a dip inside a
            long closure) and ``blink_reopen_max_ms`` (reopening time). None: the defaults. A
            :class:`~gazescope.config.Settings` is a ``BlinkSettings``.
    """

    def __init__(self, settings: BlinkSettings | None = None) -> None:
        s = settings if settings is not None else BlinkSettings()
        self.threshold_ratio = s.blink_threshold_ratio
        self.release_ratio = s.blink_release_ratio
        self.min_ms = s.blink_min_ms
        self.max_ms = s.blink_max_ms
        self.window_ms = s.blink_baseline_window_s * 1000.0
        self.depth_ratio = s.blink_depth_ratio
        self.lowered_dip_ratio = s.blink_lowered_dip_ratio
        self.reopen_max_ms = s.blink_reopen_max_ms
        self.rebase_openness = s.blink_rebase_openness
        self._closure: list[tuple[float, int, float]] = []
        self._hist: deque[tuple[float, float]] = deque()
        self._baseline: float | None = None
        self._closed_since: tuple[float, int] | None = None
        self._min_ear = 1.0
        self._last: tuple[float, int] | None = None
        self.events: list[BlinkEvent] = []

    @property
    def baseline(self) -> float | None:
        return self._baseline

    def _update_baseline(self, t_ms: float, ear: float) -> None:
        self._hist.append((t_ms, ear))
        while self._hist and self._hist[0][0] < t_ms - self.window_ms:
            self._hist.popleft()
        self._baseline = float(np.median([e for _, e in self._hist]))

    def _reopen_ms(self, t_release: float, base: float) -> float:
        """Time from the last frame in the lower half of the closure (between its minimum and the release
        level) to the release: short for a blink's quick reopening, long for a squint that lingers."""
        half = self._min_ear + 0.5 * (self.release_ratio * base - self._min_ear)
        last_deep = max((t for t, _, e in self._closure if e <= half), default=t_release)
        return t_release - last_deep

    def _blinks_in_long_closure(self, base: float) -> list[BlinkEvent]:
        """Onset and end blinks inside a closure longer than ``max_ms`` (see the module docstring)."""
        c = self._closure
        ears = np.array([e for _, _, e in c])
        level = float(np.median(ears))
        limit = min(self.lowered_dip_ratio * level, self.depth_ratio * base)
        t0, t_end = c[0][0], c[-1][0]
        found: list[BlinkEvent] = []
        head = [i for i, (t, _, _) in enumerate(c) if t - t0 <= self.max_ms]
        m1 = min(head, key=lambda i: ears[i])
        onset_end = None
        if ears[m1] <= limit:
            onset_end = next((i for i in range(m1, len(c)) if ears[i] >= level), len(c) - 1)
            found.append(BlinkEvent(c[0][0], c[onset_end][0], c[0][1], c[onset_end][1], float(ears[m1])))
        tail = [
            i for i, (t, _, _) in enumerate(c) if t_end - t <= 400.0 and (onset_end is None or i > onset_end)
        ]
        if tail:
            m2 = min(tail, key=lambda i: ears[i])
            if ears[m2] <= limit:
                start = next((i for i in range(m2, -1, -1) if ears[i] >= level), tail[0])
                found.append(BlinkEvent(c[start][0], c[-1][0], c[start][1], c[-1][1], float(ears[m2])))
        return found

    def _rebase_if_open(self, base: float) -> BlinkEvent | None:
        """End a long closure that is a new open level (median EAR above ``rebase_openness`` x baseline):
        the baseline restarts from the closure's values. A blink at its onset (lids shut within its first
        400 ms, then reopened to the new level: the gaze-evoked blink of a look down) is kept and
        returned; None otherwise."""
        ears = [e for _, _, e in self._closure]
        if float(np.median(ears)) <= self.rebase_openness * base:
            return None
        t0, f0, _ = self._closure[0]
        onset = [
            e
            for e in self._blinks_in_long_closure(base)
            if e.start_frame == f0
            and any(t - t0 <= 400.0 and ear == e.min_ear for t, _, ear in self._closure)
        ][:1]
        self.events.extend(onset)
        self._hist = deque((t, e) for t, _, e in self._closure)
        self._baseline = float(np.median(ears))
        self._closed_since = None
        self._closure = []
        return onset[0] if onset else None

    def update(self, t_ms: float, frame_index: int, ear: float | None) -> BlinkUpdate:
        """Feed one frame's EAR (None when no face/eyes: a closure survives gaps up to ``max_ms``)."""
        if ear is None:
            # a face lost for a moment (landmark models often drop a frame mid-blink) keeps the closure;
            # one lost for longer than a blink can last ends it uncounted
            if (
                self._closed_since is not None
                and self._last is not None
                and t_ms - self._last[0] > self.max_ms
            ):
                self._closed_since = None
                self._closure = []
            return BlinkUpdate(False, None, 0.0, self._baseline, None)
        if not self._baseline:  # None, or 0.0 from a stream that began with the lids shut
            if ear <= 0.0:  # no open-eye reference yet: nothing can be judged from a closed eye
                return BlinkUpdate(False, None, 0.0, None, None)
            self._hist.clear()
            self._update_baseline(t_ms, ear)
        base = self._baseline or ear
        event = None
        if self._closed_since is None:
            if ear < self.threshold_ratio * base:
                self._closed_since = (t_ms, frame_index)
                self._closure = [(t_ms, frame_index, ear)]
                self._min_ear = ear
            else:
                self._update_baseline(t_ms, ear)
        else:
            self._min_ear = min(self._min_ear, ear)
            if ear > self.release_ratio * base:
                start_ms, start_frame = self._closed_since
                end_ms, end_frame = self._last if self._last is not None else (t_ms, frame_index)
                duration = t_ms - start_ms
                if self.min_ms <= duration <= self.max_ms:
                    if (
                        self._min_ear <= self.depth_ratio * base
                        and self._reopen_ms(t_ms, base) <= self.reopen_max_ms
                    ):
                        event = BlinkEvent(start_ms, end_ms, start_frame, end_frame, self._min_ear)
                        self.events.append(event)
                elif duration > self.max_ms:
                    found = self._blinks_in_long_closure(base)
                    self.events.extend(found)
                    event = found[-1] if found else None
                self._closed_since = None
                self._closure = []
                self._update_baseline(t_ms, ear)
            else:
                self._closure.append((t_ms, frame_index, ear))
                if t_ms - self._closed_since[0] > self.max_ms:
                    event = self._rebase_if_open(base)
        self._last = (t_ms, frame_index)
        deep = self._closed_since is not None and self._min_ear <= self.depth_ratio * base
        closed_ms = t_ms - self._closed_since[0] if deep and self._closed_since is not None else 0.0
        return BlinkUpdate(deep, event, closed_ms, self._baseline, min(ear / base, 1.5))
