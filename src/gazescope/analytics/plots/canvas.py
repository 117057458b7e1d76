"""What the figure modules share: a figure whose axes are the stimulus space, captions, AOI outlines,
PNG bytes of an exact size, and decoding stimulus images (matplotlib Agg, no pyplot state)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, UnidentifiedImageError

from gazescope.analytics.aoi import AOI
from gazescope.errors import FrameDecodeError, ValidationError

MAX_STIMULUS_PIXELS = 50_000_000
"""Largest stimulus image decoded (width x height), against decompression bombs."""

DEFAULT_MAX_SIDE_PX = 1920
"""Longest side of rendered PNGs; larger stimulus spaces are drawn scaled down."""


def decode_stimulus(data: bytes) -> np.ndarray:
    """Decode a stimulus image (PNG, JPEG, or anything Pillow reads) to an RGB uint8 array (H, W, 3).

    Raises :class:`gazescope.errors.FrameDecodeError` when the bytes are empty or not an image, and
    :class:`gazescope.errors.FrameTooLargeError` over :data:`MAX_STIMULUS_PIXELS`.
    """
    from gazescope.errors import FrameTooLargeError

    if not data:
        raise FrameDecodeError("stimulus image is empty")
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_STIMULUS_PIXELS:
                raise FrameTooLargeError(
                    f"stimulus image is {im.width}x{im.height}, over {MAX_STIMULUS_PIXELS} pixels"
                )
            return np.asarray(im.convert("RGB"))
    except FrameDecodeError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise FrameDecodeError(f"stimulus image could not be decoded: {type(exc).__name__}") from exc


def out_size(width_px: float, height_px: float, max_side_px: int) -> tuple[int, int]:
    """(width, height) px of a PNG for a ``width_px`` x ``height_px`` space, scaled down (aspect kept) so the
    longer side is at most ``max_side_px``; each at least 1."""
    scale = min(1.0, max_side_px / max(width_px, height_px))
    return max(1, round(width_px * scale)), max(1, round(height_px * scale))


def canvas(
    width_px: float,
    height_px: float,
    *,
    stimulus: np.ndarray | None,
    max_side_px: int,
    background: str | None,
) -> tuple[Figure, Any, tuple[int, int]]:
    """A figure whose single axes fill it exactly, data coordinates = the stimulus space (y down)."""
    ow, oh = out_size(width_px, height_px, max_side_px)
    dpi = 100
    fig = Figure(figsize=(ow / dpi, oh / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, width_px)
    ax.set_ylim(height_px, 0)
    if background is not None:
        fig.patch.set_facecolor(background)
        ax.set_facecolor(background)
    else:
        fig.patch.set_alpha(0.0)
        ax.patch.set_alpha(0.0)
    if stimulus is not None:
        ax.imshow(stimulus, extent=(0, width_px, height_px, 0), interpolation="antialiased", aspect="auto")
    return fig, ax, (ow, oh)


def caption(ax: Any, text: str | None, out_h: int) -> None:
    """``text`` (if any) at the top-left in a dark box, font sized to the PNG height ``out_h`` px."""
    if not text:
        return
    ax.text(
        0.01,
        0.99,
        text,
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=max(7.0, min(13.0, out_h / 55)),
        color="white",
        bbox={"boxstyle": "round,pad=0.35", "facecolor": "black", "alpha": 0.6, "edgecolor": "none"},
        zorder=10,
    )


def png_bytes(fig: Figure, size: tuple[int, int], transparent: bool) -> bytes:
    """PNG bytes of ``fig`` at exactly ``size`` (width, height) px."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, transparent=transparent)
    data = buf.getvalue()
    with Image.open(io.BytesIO(data)) as im:
        if im.size != size:  # float rounding of the figure size: resample to the exact promised size
            out = io.BytesIO()
            im.resize(size, Image.Resampling.LANCZOS).save(out, format="PNG")
            data = out.getvalue()
    return data


def stimulus_or_none(stimulus_image: bytes | None) -> np.ndarray | None:
    """:func:`decode_stimulus` of the bytes, or None without any."""
    return decode_stimulus(stimulus_image) if stimulus_image is not None else None


def check_size(size_px: tuple[float, float]) -> tuple[float, float]:
    """``size_px`` as floats. Raises :class:`gazescope.errors.ValidationError` unless a positive (w, h)."""
    if size_px is None or len(size_px) != 2 or not (size_px[0] > 0 and size_px[1] > 0):
        raise ValidationError(f"size_px must be a positive (width, height), got {size_px!r}")
    return float(size_px[0]), float(size_px[1])


def frame(ax: Any, w: float, h: float) -> None:
    """Light grid and border so points on a blank screen can be placed by eye."""
    for k in range(1, 4):
        ax.axvline(w * k / 4, color="0.88", lw=0.8, zorder=0)
        ax.axhline(h * k / 4, color="0.88", lw=0.8, zorder=0)
    ax.plot([0, w, w, 0, 0], [0, 0, h, h, 0], color="0.6", lw=2, zorder=0)


def draw_aois(ax: Any, aois: Sequence[AOI] | None, sx: float, sy: float, out_h: int) -> None:
    """Dashed outlines (white over black, visible on any background) with the AOI name at top-left."""
    from matplotlib.patches import Polygon

    for a in aois or []:
        v = a.vertices_px * np.array([sx, sy])
        ax.add_patch(Polygon(v, closed=True, fill=False, edgecolor="black", lw=2.6, zorder=5))
        ax.add_patch(
            Polygon(v, closed=True, fill=False, edgecolor="white", lw=1.4, ls=(0, (5, 3)), zorder=5.1)
        )
        x0, y0 = v[:, 0].min(), v[:, 1].min()
        ax.text(
            x0 + 4 * sx, y0 + 4 * sy, a.name, ha="left", va="top", fontsize=max(7.0, min(11.0, out_h / 65)),
            color="white", zorder=6, path_effects=outline(),
        )  # fmt: skip


def outline() -> list[Any]:
    """Path effect: a black stroke around white text, readable on any background."""
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=2.0, foreground="black")]
