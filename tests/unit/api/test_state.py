"""AppState: the session lock (moved from test_api_engine_races.py; the engine's races are in
tests/unit/engine/)."""

from __future__ import annotations

import asyncio

from gazescope.api.state import AppState
from gazescope.storage import LocalOwnership


def test_the_session_lock_admits_one_holder_at_a_time_while_others_wait():
    async def scenario():
        state = AppState.__new__(AppState)
        state._session_locks = {}
        state.ownership = LocalOwnership()  # one process: no cross-process lock
        inside = peak = 0

        async def user(hold):
            nonlocal inside, peak
            lock = state.session_lock("s")
            try:
                async with lock:
                    inside += 1
                    peak = max(peak, inside)
                    await asyncio.sleep(hold)
                    inside -= 1
            finally:
                state.release_session_lock("s")

        a = asyncio.create_task(user(0.1))
        await asyncio.sleep(0.01)
        b = asyncio.create_task(user(0.2))
        await asyncio.sleep(0.15)  # A has released, B holds: C must wait for B
        c = asyncio.create_task(user(0.05))
        await asyncio.gather(a, b, c)
        return peak, state._session_locks

    peak, left = asyncio.run(scenario())
    assert peak == 1
    assert left == {}  # the last user removed the lock
