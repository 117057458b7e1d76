"""Per-connection extension state keyed by type (engine/extensions.py)."""

from __future__ import annotations

import pytest

from gazescope.engine.extensions import Extensions


class _Clock:
    pass


class _Other:
    pass


def test_a_value_is_found_by_its_type_and_made_once() -> None:
    ext = Extensions()
    assert ext.get(_Clock) is None
    made = ext.setdefault(_Clock, _Clock)
    assert ext.setdefault(_Clock, _Clock) is made
    assert ext.get(_Clock) is made
    assert _Clock in ext and _Other not in ext


@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(_Other(), TypeError, id="wrong-type"),
        pytest.param(_Clock(), ValueError, id="second-of-a-type"),
    ],
)
def test_set_refuses_a_wrong_type_and_a_second_value(value: object, error: type[Exception]) -> None:
    ext = Extensions()
    ext.set(_Clock, _Clock())
    with pytest.raises(error):
        ext.set(_Clock, value)  # type: ignore[arg-type]
