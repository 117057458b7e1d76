"""Per-connection state of the app's plug-ins (calibration, video time, seed 004 ...), keyed by its type.

A module that keeps state per tracking connection keys it by its own class and reads it back typed::

    st = conn.extensions.setdefault(ClockState, lambda: ClockState(conn))  # a ClockState
    ctl = conn.extensions.get(CalibrationController)  # CalibrationController | None

The values live as long as the connection object (nothing to clean up; no attribute patched on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Extensions:
    """One connection's extension values, at most one per type (the type is the key)."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[type[Any], Any] = {}

    def get(self, kind: type[T]) -> T | None:
        """The value of type ``kind``; None when there is none."""
        value: T | None = self._values.get(kind)
        return value

    def set(self, kind: type[T], value: T) -> None:
        """Keep ``value`` under ``kind``.

        Raises:
            TypeError: ``value`` is not a ``kind``.
            ValueError: there is a ``kind`` already (one per connection).
        """
        if not isinstance(value, kind):
            raise TypeError(f"{type(value).__name__} is not a {kind.__name__}")
        if kind in self._values:
            raise ValueError(f"this connection has a {kind.__name__} already")
        self._values[kind] = value

    def setdefault(self, kind: type[T], make: Callable[[], T]) -> T:
        """The value of type ``kind``, made by ``make()`` and kept on first use."""
        if kind not in self._values:
            self.set(kind, make())
        value: T = self._values[kind]
        return value

    def __contains__(self, kind: type[Any]) -> bool:
        return kind in self._values
