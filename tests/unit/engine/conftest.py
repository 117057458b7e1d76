"""Engine fixtures: an in-memory :class:`~gazescope.engine.transport.Transport` (our own interface), the
app's context (AppState) on a real SQLite store, and a small JPEG frame."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from gazescope.api.metrics import Metrics
from gazescope.api.state import AppState
from gazescope.config import Settings
from gazescope.domain import SessionInfo
from gazescope.engine.handlers import HandlerRegistry
from gazescope.engine.transport import Disconnected, TransportError
from gazescope.storage import LocalLiveHub, SQLiteStore, Store


class MemoryTransport:
    """A client connection in memory: the test pushes messages in and reads what was sent out."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | bytes | Disconnected] = asyncio.Queue()
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self._connected = True
        self._sent_event = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._connected

    async def send_text(self, text: str) -> None:
        if not self._connected:
            raise TransportError("closed")
        self.sent.append(text)
        self._sent_event.set()

    async def receive(self) -> str | bytes:
        item = await self.inbox.get()
        if isinstance(item, Disconnected):
            self._connected = False
            raise item
        return item

    async def close(self, code: int, reason: str) -> None:
        self.closed = (int(code), reason)
        self._connected = False
        self.inbox.put_nowait(Disconnected(int(code)))

    # --- the client's side --------------------------------------------------------------------------

    def push(self, message: str | bytes | dict[str, Any]) -> None:
        """Send a message from the client (a dict is sent as JSON text)."""
        self.inbox.put_nowait(json.dumps(message) if isinstance(message, dict) else message)

    def leave(self, code: int = 1000) -> None:
        """The client closes the connection."""
        self.inbox.put_nowait(Disconnected(code))

    def messages(self) -> list[dict[str, Any]]:
        """Every JSON message sent to the client so far."""
        return [json.loads(t) for t in self.sent]

    async def wait_for(self, kind: str, n: int = 1, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until ``n`` messages of ``type == kind`` were sent; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages() if m.get("type") == kind]
            if len(found) >= n:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{n} {kind!r} messages not sent; sent: {self.sent[-5:]}")
            self._sent_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sent_event.wait(), deadline - time.monotonic())


def make_state(store: Store, settings: Settings, handlers: HandlerRegistry | None = None) -> AppState:
    """The app's context on ``store`` (two worker threads, a local live hub)."""
    return AppState(
        settings=settings,
        store=store,
        hub=LocalLiveHub(),
        executor=ThreadPoolExecutor(2),
        metrics=Metrics(),
        handlers=handlers or HandlerRegistry(),
    )


@pytest.fixture
def state_on() -> Callable[..., AppState]:
    """``state_on(store, settings, handlers=None)``: the context on any store."""
    return make_state


@pytest.fixture
def store(tmp_path: Path):
    """A real SQLite store in ``tmp_path`` with one session ``s1`` created now."""
    st = SQLiteStore(tmp_path / "g.db")
    st.create_session(SessionInfo(id="s1", created_at_ms=time.time() * 1000))
    yield st
    st.close()


@pytest.fixture
def state_for(store: SQLiteStore) -> Callable[..., AppState]:
    """``state_for(handlers=None, **settings)``: the context on the ``store`` fixture."""

    def make(handlers: HandlerRegistry | None = None, **settings: Any) -> AppState:
        return make_state(store, Settings(**settings), handlers)

    return make


@pytest.fixture
def transport() -> MemoryTransport:
    """A client connection in memory (use it inside one event loop)."""
    return MemoryTransport()


@pytest.fixture(scope="session")
def jpeg() -> bytes:
    """A small grey JPEG frame (no face in it)."""
    ok, buf = cv2.imencode(".jpg", np.full((120, 160, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()
