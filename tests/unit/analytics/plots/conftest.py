"""PNG helpers shared by the figure tests."""

from __future__ import annotations

import io

import pytest
from PIL import Image


def png_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.size


def stimulus_png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (240, 240, 200)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def png():
    """``png.size(data)`` and ``png.stimulus(w, h)``."""

    class _Png:
        size = staticmethod(png_size)
        stimulus = staticmethod(stimulus_png)

    return _Png
