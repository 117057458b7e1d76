"""The heatmap figure: a :class:`~gazescope.analytics.heatmap.HeatmapGrid` coloured (jet over density
relative to the peak, opacity rising with density, after Wooding 2002's attention maps), on a stimulus, on
transparency, or as a bare overlay."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from PIL import Image

from gazescope.analytics.aoi import AOI
from gazescope.analytics.heatmap import HeatmapGrid
from gazescope.analytics.plots.canvas import (
    DEFAULT_MAX_SIDE_PX,
    canvas,
    caption,
    draw_aois,
    out_size,
    png_bytes,
    stimulus_or_none,
)
from gazescope.errors import ValidationError


def heatmap_rgba(grid: HeatmapGrid, *, cmap: str = "jet", max_alpha: float = 0.65) -> np.ndarray | None:
    """Colours of a heatmap grid: float RGBA array (ny, nx, 4) in 0..1, or None for an empty map.

    Colour: ``cmap`` (matplotlib name) over density relative to the peak; opacity rises from 0 below 2 % of
    the peak to ``max_alpha`` (0-1) at 35 % and above, so that unlooked-at regions stay clear. Raises
    :class:`gazescope.errors.ValidationError` for an unknown colour map or an alpha outside 0-1.
    """
    if not 0 <= max_alpha <= 1:
        raise ValidationError(f"max_alpha must be within 0..1, got {max_alpha!r}")
    try:
        cm = colormaps[cmap]
    except KeyError as exc:
        raise ValidationError(f"unknown colour map {cmap!r}") from exc
    peak = grid.density.max()
    if not peak > 0:
        return None
    rel = grid.density / peak
    rgba = cm(rel)
    rgba[..., 3] = max_alpha * np.clip((rel - 0.02) / 0.33, 0.0, 1.0)
    return rgba


def render_heatmap_overlay_png(
    grid: HeatmapGrid,
    *,
    cmap: str = "jet",
    max_alpha: float = 0.65,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
) -> bytes:
    """A heatmap alone as an RGBA PNG of the grid's size (scaled down to ``max_side_px`` on the longer
    side), transparent where nobody looked: the colours of :func:`heatmap_rgba`, upsampled bilinearly,
    without a figure (no stimulus, caption or AOIs), so it takes tens of milliseconds where
    :func:`render_heatmap_png` takes about a second at 1920x1080 (seed 003's ``/upload``, once a second).
    Raises what :func:`heatmap_rgba` raises."""
    ow, oh = out_size(grid.width_px, grid.height_px, max_side_px)
    rgba = heatmap_rgba(grid, cmap=cmap, max_alpha=max_alpha)
    if rgba is None:
        img = Image.new("RGBA", (ow, oh), (0, 0, 0, 0))
    else:
        scale = ow / grid.width_px
        ny, nx = rgba.shape[:2]
        full = (max(ow, round(nx * grid.cell_px * scale)), max(oh, round(ny * grid.cell_px * scale)))
        cells = Image.fromarray(np.round(rgba * 255).astype(np.uint8), mode="RGBA")
        img = cells.resize(full, Image.Resampling.BILINEAR).crop((0, 0, ow, oh))  # the grid may overhang
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def render_heatmap_png(
    grid: HeatmapGrid,
    *,
    stimulus_image: bytes | None = None,
    cmap: str = "jet",
    max_alpha: float = 0.65,
    title: str | None = None,
    max_side_px: int = DEFAULT_MAX_SIDE_PX,
    aois: Sequence[AOI] | None = None,
) -> bytes:
    """Render a heatmap to PNG bytes.

    With ``stimulus_image`` (encoded bytes, any size) the map is stretched over the image and the PNG has
    the image's size; build the grid with ``stimulus_size_px`` equal to the image size so that coordinates
    agree. Without it the PNG is RGBA with a transparent background, the grid's size. Sizes over
    ``max_side_px`` on the longer side are scaled down (aspect kept). Colour: ``cmap`` (matplotlib name)
    over density relative to the peak; opacity rises from 0 below 2 % of the peak to ``max_alpha`` (0-1)
    at 35 % and above, so that unlooked-at regions stay clear. ``title``: optional caption at top-left.
    ``aois``: outlined and labelled (in the grid's pixel space).

    Raises :class:`gazescope.errors.FrameDecodeError` for an undecodable stimulus and
    :class:`gazescope.errors.ValidationError` for an unknown colour map or an alpha outside 0-1.
    """
    rgba = heatmap_rgba(grid, cmap=cmap, max_alpha=max_alpha)
    stim = stimulus_or_none(stimulus_image)
    w, h = (stim.shape[1], stim.shape[0]) if stim is not None else (grid.width_px, grid.height_px)
    fig, ax, size = canvas(w, h, stimulus=stim, max_side_px=max_side_px, background=None)
    if rgba is not None:
        gw, gh = grid.density.shape[1] * grid.cell_px, grid.density.shape[0] * grid.cell_px
        # the grid may overhang the space by less than a cell; scale to the drawn space
        sx, sy = w / grid.width_px, h / grid.height_px
        ax.imshow(rgba, extent=(0, gw * sx, gh * sy, 0), interpolation="bilinear", aspect="auto")
        ax.set_xlim(0, w)
        ax.set_ylim(h, 0)
    draw_aois(ax, aois, w / grid.width_px, h / grid.height_px, size[1])
    caption(ax, title, size[1])
    return png_bytes(fig, size, transparent=stim is None)
