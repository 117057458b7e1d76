"""``import gazescope`` is light and exports the public API lazily."""

from __future__ import annotations

import subprocess
import sys

import gazescope


def test_import_loads_neither_mediapipe_nor_fastapi() -> None:
    code = (
        "import sys, gazescope; gazescope.__version__; "
        "print(sorted(m for m in ('mediapipe', 'fastapi', 'starlette', 'cv2', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_exported_name_resolves() -> None:
    assert sorted(gazescope.__all__) == sorted(["__version__", *gazescope._EXPORTS])
    for name in gazescope._EXPORTS:
        assert getattr(gazescope, name) is not None
    assert gazescope.GazeSample.__module__ == "gazescope.domain"


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        gazescope.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("no AttributeError")
