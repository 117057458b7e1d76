"""Live fan-out of a session's messages (samples, events) to observers (dashboards, live views).

A :class:`LiveHub` has two operations::

    await hub.publish(session_id, {"type": "sample", ...})      # from the tracking WebSocket

    async with hub.subscribe(session_id) as sub:                # from an observer's WebSocket
        async for message in sub:                               # dicts, in publish order
            ...

Delivery is best effort and never slows the publisher: every subscription has a bounded queue
(``max_queue`` messages); when an observer falls behind, the oldest waiting message is dropped (newest
wins, as for frames) and counted in :attr:`Subscription.dropped`. Messages published before a subscription
is entered are not delivered. Messages must be JSON objects (``StorageError``/``ValidationError`` otherwise),
so that both hubs deliver the same thing: a fresh dict decoded from JSON.

* :class:`LocalLiveHub`: in-process, for the single-process SQLite deployment.
* :class:`RedisLiveHub`: Redis pub/sub (channel ``{prefix}:live:{session_id}``) through ``redis.asyncio``,
  so that observers connected to any API process see samples processed by any other. One pub/sub
  connection per hub is shared by all its subscriptions: a channel is subscribed while at least one local
  subscription wants it and unsubscribed when the last one leaves.

Both hubs must be used from one asyncio event loop (the server's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

import redis.asyncio
import redis.exceptions

from gazescope.errors import StorageError
from gazescope.storage import base
from gazescope.storage.redis import redact_url

log = logging.getLogger(__name__)

#: Messages waiting per subscription before the oldest is dropped: about 3-6 s of samples at 15-30 FPS.
DEFAULT_MAX_QUEUE = 100

_CLOSED = object()  # queue sentinel: the hub closed


class Subscription:
    """One observer's view of one session: an async context manager and an async iterator of dicts.

    Iteration ends when the hub closes. ``dropped``: messages discarded because this observer was slow.
    """

    def __init__(self, hub: _HubBase, session_id: str, max_queue: int) -> None:
        self.session_id = session_id
        self.dropped = 0
        self._hub = hub
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_queue)
        self._active = False

    async def __aenter__(self) -> Subscription:
        await self._hub._add(self)
        self._active = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._active:
            self._active = False
            await self._hub._remove(self)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # keep later calls ending too
            raise StopAsyncIteration
        return item

    def _offer(self, message: Any) -> None:
        """Queue ``message`` without waiting; drop the oldest waiting message when full."""
        while True:
            try:
                self._queue.put_nowait(message)
                return
            except asyncio.QueueFull:
                with contextlib.suppress(asyncio.QueueEmpty):
                    old = self._queue.get_nowait()
                    if old is _CLOSED:  # never drop the end marker
                        self._queue.put_nowait(old)
                        return
                    self.dropped += 1


@runtime_checkable
class LiveHub(Protocol):
    """Publish/subscribe of live session messages (see module docstring)."""

    async def publish(self, session_id: str, message: dict[str, Any]) -> None:
        """Send ``message`` (a JSON object) to the session's current subscribers; never waits for them."""
        ...

    def subscribe(self, session_id: str) -> Subscription:
        """A subscription to enter with ``async with``; iterate it for the messages."""
        ...

    def subscriber_count(self, session_id: str) -> int:
        """Subscriptions of this hub (this process) currently entered for the session."""
        ...

    async def close(self) -> None:
        """End every subscription and release connections."""
        ...


class _HubBase:
    def __init__(self, max_queue: int) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self.max_queue = max_queue
        self._subs: dict[str, set[Subscription]] = {}
        self._closed = False

    def subscribe(self, session_id: str) -> Subscription:
        base.check_session_id(session_id)
        return Subscription(self, session_id, self.max_queue)

    def subscriber_count(self, session_id: str) -> int:
        return len(self._subs.get(session_id, ()))

    @property
    def session_ids(self) -> list[str]:
        """Sessions that currently have at least one subscription in this hub."""
        return sorted(self._subs)

    def _deliver(self, session_id: str, message: dict[str, Any]) -> None:
        for sub in list(self._subs.get(session_id, ())):
            sub._offer(message)

    async def _add(self, sub: Subscription) -> None:
        if self._closed:
            raise StorageError("the live hub is closed")
        self._subs.setdefault(sub.session_id, set()).add(sub)

    async def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.session_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.session_id]

    def _end_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub._offer(_CLOSED)


class LocalLiveHub(_HubBase):
    """In-process :class:`LiveHub` over bounded ``asyncio.Queue`` s (one per subscription).

    ``max_queue``: messages waiting per subscription before the oldest is dropped.
    """

    def __init__(self, *, max_queue: int = DEFAULT_MAX_QUEUE) -> None:
        super().__init__(max_queue)

    async def publish(self, session_id: str, message: dict[str, Any]) -> None:
        """Deliver a JSON-decoded copy of ``message`` to every current subscriber of the session.

        ``ValidationError`` when ``message`` is not a JSON object; ``StorageError`` after ``close``.
        """
        if self._closed:
            raise StorageError("the live hub is closed")
        text = base.dumps_json(message, "live message")
        if session_id in self._subs:
            self._deliver(session_id, json.loads(text))

    async def close(self) -> None:
        self._closed = True
        self._end_all()
        self._subs.clear()


class RedisLiveHub(_HubBase):
    """:class:`LiveHub` over Redis pub/sub (``redis.asyncio``), channel ``{prefix}:live:{session_id}``.

    ``url``: the Redis URL; ``prefix``: key/channel prefix as for ``RedisStore``; ``max_queue``: per
    subscription. Entering a subscription waits until Redis confirmed the SUBSCRIBE (so a message
    published afterwards is delivered); ``StorageError`` (URL without password) when Redis cannot be reached.
    After a lost connection redis-py reconnects and subscribes again; messages sent meanwhile are lost.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gazescope",
        max_queue: int = DEFAULT_MAX_QUEUE,
        socket_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(max_queue)
        self.url = url
        self.safe_url = redact_url(url)
        self.prefix = prefix
        self._timeout_s = socket_timeout_s
        try:
            self._redis = redis.asyncio.Redis.from_url(url, socket_connect_timeout=socket_timeout_s)
        except ValueError as exc:
            raise StorageError(f"invalid Redis URL {self.safe_url}: {exc}") from exc
        self._pubsub: redis.asyncio.client.PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock: asyncio.Lock | None = None

    def channel(self, session_id: str) -> str:
        return f"{self.prefix}:live:{session_id}"

    def _error(self, exc: Exception) -> StorageError:
        return StorageError(f"Redis live hub at {self.safe_url}: {type(exc).__name__}: {exc}")

    async def publish(self, session_id: str, message: dict[str, Any]) -> None:
        """PUBLISH the message's JSON on the session channel. ``ValidationError`` when ``message`` is not
        a JSON object; ``StorageError`` when Redis fails or after ``close``."""
        if self._closed:
            raise StorageError("the live hub is closed")
        base.check_session_id(session_id)
        text = base.dumps_json(message, "live message")
        try:
            await self._redis.publish(self.channel(session_id), text)
        except redis.exceptions.RedisError as exc:
            raise self._error(exc) from exc

    async def _add(self, sub: Subscription) -> None:
        if self._closed:
            raise StorageError("the live hub is closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            first = sub.session_id not in self._subs
            self._subs.setdefault(sub.session_id, set()).add(sub)
            if not first:
                return
            channel = self.channel(sub.session_id)
            event = self._confirmed[channel] = asyncio.Event()
            try:
                if self._pubsub is None:
                    self._pubsub = self._redis.pubsub()
                await self._pubsub.subscribe(channel)
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.create_task(self._read(), name="gazescope-live-reader")
                await asyncio.wait_for(event.wait(), self._timeout_s)
            except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
                self._subs.pop(sub.session_id, None)
                self._confirmed.pop(channel, None)
                if self._pubsub is not None and channel in self._pubsub.channels:
                    with contextlib.suppress(redis.exceptions.RedisError, OSError):
                        await self._pubsub.unsubscribe(channel)
                raise self._error(exc) from exc

    async def _remove(self, sub: Subscription) -> None:
        await super()._remove(sub)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if sub.session_id in self._subs or self._pubsub is None or self._closed:
                return
            channel = self.channel(sub.session_id)
            self._confirmed.pop(channel, None)
            try:
                await self._pubsub.unsubscribe(channel)
            except redis.exceptions.RedisError as exc:  # the connection is gone; nothing to undo
                log.warning("live hub: unsubscribe from %s failed: %s", channel, exc)

    async def _read(self) -> None:
        """Move messages from the shared pub/sub connection into the subscriptions' queues."""
        assert self._pubsub is not None
        prefix = f"{self.prefix}:live:"
        backoff_s = 0.0
        while not self._closed:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
                backoff_s = 0.0
            except asyncio.CancelledError:
                raise
            except (redis.exceptions.RedisError, OSError) as exc:
                # redis-py reconnects and subscribes again on the next read; wait 0.25 s, doubling to 8 s
                backoff_s = min(8.0, backoff_s * 2 or 0.25)
                log.warning(
                    "live hub: reading from %s failed (%s); retrying in %.2f s", self.safe_url, exc, backoff_s
                )
                await asyncio.sleep(backoff_s)
                continue
            except RuntimeError:  # no channel subscribed at the moment (all left)
                await asyncio.sleep(0.05)
                continue
            if msg is None:
                continue
            channel = msg["channel"].decode() if isinstance(msg["channel"], bytes) else msg["channel"]
            if msg["type"] == "subscribe":
                event = self._confirmed.get(channel)
                if event is not None:
                    event.set()
            elif msg["type"] == "message" and channel.startswith(prefix):
                try:
                    message = json.loads(msg["data"])
                except ValueError:
                    log.warning("live hub: ignoring a non-JSON message on %s", channel)
                    continue
                if isinstance(message, dict):
                    self._deliver(channel[len(prefix) :], message)

    async def close(self) -> None:
        """End every subscription, stop the reader, close the connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._end_all()
        self._subs.clear()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()
