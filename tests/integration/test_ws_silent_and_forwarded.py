"""Silent WebSockets and forged client addresses on a real ``gazescope serve`` (issue 20, defect 2).

* A seed 002 ``/ws`` connection that sends neither ``init`` nor a frame within
  ``GAZESCOPE_SEED002_START_TIMEOUT_S`` is closed (1001), while one that sent ``init`` stays open. Before:
  kept for ``GAZESCOPE_SEED002_IDLE_TIMEOUT_S`` (1,800 s).
* ``X-Forwarded-For`` is trusted only from configured proxies (``GAZESCOPE_FORWARDED_ALLOW_IPS``): by
  default a local process sending other addresses in it is one client for the per-client cap. Before: the
  loopback was trusted, so one process could pose as many clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

pytestmark = pytest.mark.integration

#: Longest wait for the server to close a silent connection (a bound for the test, far above the timeout).
CLOSE_WAIT_S = 30.0


def test_a_silent_seed002_connection_is_closed_and_a_started_one_is_kept(serve) -> None:
    srv = serve(GAZESCOPE_SEED002_START_TIMEOUT_S="2")

    async def run() -> tuple[int | None, dict]:
        async with (
            websockets.connect(f"{srv.ws_url}/ws") as silent,
            websockets.connect(f"{srv.ws_url}/ws") as started,
        ):
            await started.send(json.dumps({"type": "init", "clientInfo": {"ua": "test"}}))
            with contextlib.suppress(ConnectionClosed):
                await asyncio.wait_for(silent.recv(), timeout=CLOSE_WAIT_S)
            code = silent.close_code
            # the started one is still served after the silent one was closed
            await started.send(json.dumps({"type": "ping"}))
            reply = json.loads(await asyncio.wait_for(started.recv(), timeout=10))
            return code, reply

    code, reply = asyncio.run(run())
    assert code == 1001
    assert reply["type"] == "pong"
    assert "tracking_start_timeout" in srv.log()


async def _open(url: str, forwarded: list[str]) -> tuple[list, int]:
    """Open one WebSocket per forwarded address; (the open ones, how many were refused with 503)."""
    opened, refused = [], 0
    for addr in forwarded:
        try:
            ws = await websockets.connect(url, additional_headers={"X-Forwarded-For": addr})
            await ws.send(json.dumps({"type": "init"}))
            opened.append(ws)
        except InvalidStatus as exc:
            assert exc.response.status_code == 503
            refused += 1
    return opened, refused


@pytest.mark.parametrize(
    ("env", "refused"),
    [
        pytest.param({}, 2, id="default-trusts-no-proxy"),
        pytest.param({"GAZESCOPE_FORWARDED_ALLOW_IPS": "127.0.0.1"}, 0, id="configured-proxy-is-trusted"),
    ],
)
def test_forwarded_addresses_are_trusted_only_from_configured_proxies(
    serve, env: dict[str, str], refused: int
) -> None:
    srv = serve(GAZESCOPE_MAX_CONNECTIONS_PER_CLIENT="2", **env)

    async def run() -> int:
        opened, n_refused = await _open(f"{srv.ws_url}/ws", [f"10.0.0.{k}" for k in range(1, 5)])
        for ws in opened:
            await ws.close()
        return n_refused

    assert asyncio.run(run()) == refused
