"""The connection guard's rate-limited log lines add up to every refusal of a burst."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gazescope.api.http_guard import _EveryOther


async def test_a_burst_is_counted_whole(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    rate = _EveryOther("http_header_timeout")
    for _ in range(250):
        rate.note(client="127.0.0.1")
    await asyncio.sleep(1.3)
    counts = [r.count for r in caplog.records if r.getMessage() == "http_header_timeout"]
    assert sum(counts) == 250
    assert len(counts) == 2  # the first at once, the rest one second later
