"""A transparent figure made opaque: an RGBA PNG composited over white."""

from __future__ import annotations

import io


def on_white(png: bytes) -> bytes:
    """The RGBA (or any mode) PNG ``png`` composited over white, as an RGB PNG of the same size."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        out = io.BytesIO()
        Image.alpha_composite(bg, rgba).convert("RGB").save(out, format="PNG")
    return out.getvalue()
