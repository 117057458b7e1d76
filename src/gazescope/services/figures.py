"""Figures of stored sessions as PNG bytes: one session's heatmap, scanpath or gaze trail
(:func:`session_figure_png`), and the heatmap of several sessions in one space (:func:`aggregate_heatmap_png`).

Coordinate spaces follow :mod:`gazescope.analytics.aoi`: gaze is stored in screen (viewport) pixels; a
session's stimulus is taken to fill the viewport, so when the two sizes differ the gaze is scaled into
stimulus pixels (AOIs are in stimulus pixels). Aggregates draw every session in one space: the stimulus,
or without a common stimulus the most common screen size (:func:`common_screen`, each session scaled to
it). Every viewer weighs the same in an aggregate heatmap (Wooding 2002, via
:func:`gazescope.analytics.heatmap.aggregate_heatmap`).

Heatmap kernel: sigma from the session's measured calibration accuracy (mean error in px) when one is
recorded (:func:`gazescope.services.sessions.calibration_accuracy_px`), else the analytics default
(100 px webcam accuracy).

"No gaze to draw" (no calibrated screen points, or no fixation) is a
:class:`~gazescope.errors.ValidationError` with code ``no_gaze`` / ``no_fixations`` whose message says why.
The drawing itself is :mod:`gazescope.analytics.heatmap` and :mod:`gazescope.analytics.plots`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from gazescope.analytics.events import FixationMethod, detect_fixations, scale_screen_points
from gazescope.analytics.plots.on_white import on_white
from gazescope.errors import ValidationError
from gazescope.services.sessions import SessionData
from gazescope.services.stimuli import StimulusData

Source = Literal["fixations", "samples"]
"""What a heatmap weighs: fixations (duration-weighted centroids) or samples (every valid point)."""
FigureKind = Literal["heatmap", "scanpath", "trail"]
"""The figures of one session."""


def no_gaze(what: str) -> ValidationError:
    """The ``no_gaze`` error of ``what`` (e.g. ``"session 'ab12'"``): nothing calibrated to draw."""
    return ValidationError(
        f"{what} has no calibrated gaze samples (no valid screen points): calibrate before tracking, "
        "or post client-side gaze points to /api/sessions/{id}/gaze",
        code="no_gaze",
    )


def _session_space(
    data: SessionData, stim: StimulusData | None
) -> tuple[tuple[float, float], tuple[float, float] | None]:
    """(drawing space, screen size to scale from or None) of one session."""
    screen = data.screen_size_px
    if stim is not None:
        return stim.size_px, screen
    if screen is None:
        raise ValidationError(
            f"session {data.info.id!r} has no screen size (screen_w_px/screen_h_px) and no stimulus, "
            "so its gaze cannot be placed",
            code="no_screen_size",
        )
    return screen, None


def _check_overlay(overlay: bool, transparent: bool, stim: StimulusData | None, what: str) -> None:
    if overlay and transparent:
        raise ValidationError("overlay=1 and transparent=1 exclude each other: choose one")
    if overlay and stim is None:
        raise ValidationError(f"{what} has no stimulus to draw on (overlay=1)", code="no_stimulus")


def heatmap_title(source: str, n_points: int, n_sessions: int, sigma_px: float, acc_px: float | None) -> str:
    """The caption of a heatmap: what is counted, how many sessions (when not one), the kernel's sigma
    (px) and the calibration accuracy (px) it came from."""
    what = "fixations, duration-weighted" if source == "fixations" else "gaze samples, time-weighted"
    acc_txt = f"accuracy {acc_px:.0f} px" if acc_px else "default accuracy"
    who = f"{n_sessions} session{'s' if n_sessions != 1 else ''}, " if n_sessions != 1 else ""
    return f"Heatmap: {who}{n_points} {what}; σ = {sigma_px:.0f} px ({acc_txt})"


def session_figure_png(
    data: SessionData,
    stim: StimulusData | None,
    kind: FigureKind,
    *,
    overlay: bool = False,
    transparent: bool = False,
    source: Source = "fixations",
    method: FixationMethod = "idt",
    caption: bool = True,
) -> bytes:
    """One session's heatmap, scanpath or gaze trail as PNG bytes.

    Space: the session's stimulus when it has one (``stim``; gaze scaled from the screen size when the
    sizes differ), else its screen. ``overlay`` draws on the stimulus image (needs ``stim`` with its
    image); ``transparent`` (heatmap only) gives an RGBA PNG with nothing but the colour map; otherwise
    the heatmap is on white. AOIs of the stimulus are outlined. Heatmap sigma from the session's
    calibration accuracy. Raises ``ValidationError`` (``no_gaze``, ``no_fixations``, ``no_stimulus``,
    ``no_screen_size``) when there is nothing to draw or nowhere to draw it.
    """
    from gazescope.analytics.heatmap import session_heatmap as _session_heatmap
    from gazescope.analytics.plots.gaze_trail import render_gaze_trail_png
    from gazescope.analytics.plots.heatmap import render_heatmap_png
    from gazescope.analytics.plots.scanpath import render_scanpath_png

    what = f"session {data.info.id!r}"
    _check_overlay(overlay, transparent, stim, what)
    if transparent and kind != "heatmap":
        raise ValidationError("transparent=1 is for heatmap.png only")
    if not data.has_gaze():
        raise no_gaze(what)
    space, scale_from = _session_space(data, stim)
    screen = scale_from or space
    image = stim.image if (overlay and stim is not None) else None
    aois = list(stim.aois) if stim is not None else None
    if kind == "trail":
        return render_gaze_trail_png(
            data.samples, size_px=space, stimulus_image=image, screen_size_px=scale_from
        )
    fix = detect_fixations(data.samples, method=method)
    if kind == "scanpath":
        return render_scanpath_png(
            fix, size_px=space, stimulus_image=image, screen_size_px=scale_from, aois=aois
        )
    grid = _session_heatmap(
        data.samples,
        screen_size_px=screen,
        stimulus_size_px=space if stim is not None else None,
        source=source,
        calibration_accuracy_px=data.calibration_accuracy_px,
        fixations=fix,
        method=method,
    )
    if not grid.density.any():
        raise ValidationError(
            f"{what} has calibrated gaze but no fixation to draw; try ?source=samples", code="no_fixations"
        )
    title = None
    if caption and not transparent:
        title = heatmap_title(source, grid.n_points, 1, grid.sigma_px, data.calibration_accuracy_px)
    png = render_heatmap_png(grid, stimulus_image=image, title=title, aois=aois if not transparent else None)
    return png if (image is not None or transparent) else on_white(png)


def _scaled(
    data: SessionData, space: tuple[float, float], method: FixationMethod, source: Source
) -> tuple[list[dict[str, Any]], list[Any], float]:
    """(samples, fixations, sigma px) of one session with gaze scaled from its screen into ``space``."""
    from gazescope.analytics.heatmap import heatmap_sigma_px

    screen = data.screen_size_px or space
    sx, sy = space[0] / screen[0], space[1] / screen[1]
    fix = detect_fixations(data.samples, method=method)
    samples = data.samples
    if (sx, sy) != (1.0, 1.0):
        fix = [replace(f, x_px=f.x_px * sx, y_px=f.y_px * sy) for f in fix]
        if source == "samples":
            samples = scale_screen_points(samples, sx, sy)
    sigma = heatmap_sigma_px(data.calibration_accuracy_px) * 0.5 * (sx + sy)
    return samples, fix, sigma


def aggregate_space(sessions: Sequence[SessionData], stim: StimulusData | None) -> tuple[float, float]:
    """The space (width, height px) several sessions are drawn in together: ``stim``'s size when they share
    a stimulus, else their most common screen size (:func:`common_screen`). The one rule of every aggregate
    heatmap (REST, CLI, reports). Raises ``ValidationError`` (``no_screen_size``) without a stimulus when
    no session records a screen size."""
    return stim.size_px if stim is not None else common_screen(sessions)


def aggregate_heatmap_png(
    sessions: Sequence[SessionData],
    *,
    stim: StimulusData | None = None,
    space: tuple[float, float] | None = None,
    overlay: bool = False,
    transparent: bool = False,
    source: Source = "fixations",
    method: FixationMethod = "idt",
    caption: bool = True,
    what: str = "the selected sessions",
) -> tuple[bytes, int]:
    """Heatmap of several sessions in one ``space`` (width, height px) as (PNG bytes, sessions used).

    ``space`` defaults to :func:`aggregate_space` (the stimulus, else the most common screen size).
    Each session's gaze is scaled from its screen size into ``space`` (the stimulus stretched over each
    viewer's screen); each viewer weighs the same (normalised maps, Wooding 2002); sigma is the mean of
    the sessions' accuracy-based sigmas. Sessions without calibrated gaze are left out. ``overlay``
    draws on ``stim``'s image; ``transparent`` gives an RGBA PNG; else on white. Raises
    ``ValidationError`` (``no_gaze``/``no_fixations``) when no session has anything to draw, and as
    :func:`aggregate_space` (``no_screen_size``) without ``space`` and ``stim``.
    """
    from gazescope.analytics.heatmap import aggregate_heatmap
    from gazescope.analytics.plots.heatmap import render_heatmap_png

    _check_overlay(overlay, transparent, stim, what)
    if space is None:
        space = aggregate_space(sessions, stim)
    used = [d for d in sessions if d.has_gaze()]
    if not used:
        raise no_gaze(f"none of the {len(sessions)} session(s) of {what}; each")
    parts = [_scaled(d, space, method, source) for d in used]
    sigma = sum(p[2] for p in parts) / len(parts)
    grid = aggregate_heatmap(
        [p[0] for p in parts],
        screen_size_px=space,
        source=source,
        sigma_px=sigma,
        fixations=[p[1] for p in parts],
        method=method,
    )
    if not grid.density.any():
        raise ValidationError(
            f"{what}: calibrated gaze but no fixation to draw; try ?source=samples", code="no_fixations"
        )
    accs = [d.calibration_accuracy_px for d in used if d.calibration_accuracy_px]
    title = None
    if caption and not transparent:
        title = heatmap_title(
            source, grid.n_points, grid.n_sessions, grid.sigma_px, sum(accs) / len(accs) if accs else None
        )
    image = stim.image if overlay and stim is not None else None
    aois = list(stim.aois) if stim is not None and not transparent else None
    png = render_heatmap_png(grid, stimulus_image=image, title=title, aois=aois)
    return (png if (image is not None or transparent) else on_white(png)), grid.n_sessions


def common_screen(sessions: Sequence[SessionData]) -> tuple[float, float]:
    """The most common screen size (width, height px) of the sessions (ties: the larger), for drawing
    them together. ``ValidationError`` (code ``no_screen_size``) when no session records one."""
    sizes = Counter(d.screen_size_px for d in sessions if d.screen_size_px)
    if not sizes:
        raise ValidationError(
            "no session records a screen size (screen_w_px/screen_h_px), so gaze cannot be placed",
            code="no_screen_size",
        )
    return max(sizes, key=lambda s: (sizes[s], s[0] * s[1]))
