"""Client gaze points for analytics tests: where viewers look on an 800 x 600 screen, and two AOIs there.

``points(plan)`` gives 10 points 40 ms apart (a 400 ms fixation) on each place of ``plan``, 40 ms between
places; :data:`PLANS` are four viewers: all look at ``left``, two of four at ``right``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

W, H = 800, 600
"""Screen size (px)."""
LEFT, RIGHT = (150.0, 300.0), (650.0, 300.0)
"""Two places to look at, inside the AOIs of :data:`AOIS` when the stimulus is the screen's size."""
AOIS = [
    {"name": "left", "kind": "rect", "x_px": 50, "y_px": 200, "w_px": 200, "h_px": 200},
    {"name": "right", "kind": "rect", "x_px": 550, "y_px": 200, "w_px": 200, "h_px": 200},
]
PLANS = [[LEFT, RIGHT], [LEFT], [RIGHT, LEFT], [LEFT]]  # right: 2 of 4 viewers, left: 4 of 4


def points(plan: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
    """Client gaze points (``t_ms``, ``x_px``, ``y_px``) fixating each place of ``plan`` for 400 ms."""
    out, t = [], 0.0
    for x, y in plan:
        for k in range(10):
            out.append({"t_ms": t, "x_px": x + (2 if k % 2 else -2), "y_px": y})
            t += 40.0
        t += 40.0
    return out
