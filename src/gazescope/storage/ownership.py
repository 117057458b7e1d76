"""Which server process serves a session's tracking connection, across processes sharing one store.

A session has at most one tracking connection; a newer one takes over (the older is closed with the
takeover close code after flushing). Within one process the API keeps its open connections in a dict; this
module extends the rule to every process sharing one Redis (several ``gazescope serve`` behind a load
balancer, or ``gazescope serve --workers N``)::

    await ownership.start(on_stop)                  # once, with the API's "stop this connection" handler
    await ownership.claim(session_id, conn_id)      # new connection: stops a remote owner, waits its flush
    await ownership.stop_owner(StopRequest(...))    # session ended/deleted here: stop it wherever it runs
    await ownership.release(session_id, conn_id)    # connection finished (no-op if taken over meanwhile)
    await ownership.tracking([ids])                 # sessions some process tracks now
    async with ownership.lock(session_id): ...      # claim/end/delete of a session, one process at a time

* :class:`LocalOwnership`: one process (the SQLite deployment): no remote owner, no cross-process lock.
* :class:`RedisOwnership`: an owner key ``{prefix}:owner:{session_id}`` = ``"{instance}:{conn}"`` with a
  TTL renewed by the owner (a crashed process stops counting after ``owner_ttl_s``; an owner whose key
  expired meanwhile sets it again, one that finds another connection's value stops its own); one pub/sub channel per
  process (``{prefix}:instance:{instance}``) carries ``stop`` requests and their ``stopped`` answers (sent
  after the old connection flushed, so the new one continues from what is stored); the per-session lock is
  redis-py's ``Lock`` (``SET NX PX`` with a token).

No web framework here: the API passes a plain coroutine function as ``on_stop``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import redis.asyncio
import redis.exceptions

from gazescope.config import StorageSettings
from gazescope.errors import StorageError
from gazescope.storage.redis import redact_url, text

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StopRequest:
    """Stop the tracking connection of ``session_id`` (``conn_id`` None: whichever it is).

    ``code``/``reason``: WebSocket close code and reason; ``deleted``: the session was deleted (drop what
    is unstored); ``announce_end``: tell the client the session ended before closing.
    """

    session_id: str
    conn_id: str | None
    code: int
    reason: str
    deleted: bool = False
    announce_end: bool = False


#: The API's handler: stop the local connection named by the request and return once it is flushed.
StopHandler = Callable[[StopRequest], Awaitable[None]]


@runtime_checkable
class SessionOwnership(Protocol):
    """Cross-process ownership of tracking connections (see module docstring)."""

    instance_id: str

    async def start(self, on_stop: StopHandler) -> None:
        """Begin answering stop requests with ``on_stop`` (never fails for an unreachable backend)."""
        ...

    async def claim(self, session_id: str, conn_id: str) -> None:
        """Make ``conn_id`` (of this process) the session's owner; a connection of another process is asked
        to stop with the takeover code and awaited (bounded). ``StorageError`` on backend failure."""
        ...

    async def stop_owner(self, request: StopRequest) -> bool:
        """Stop the session's connection in another process and wait for its flush (bounded); False when no
        other process owns it (the caller handles a local one)."""
        ...

    async def release(self, session_id: str, conn_id: str) -> None:
        """``conn_id`` finished: forget it as owner unless a newer connection took over. Never raises."""
        ...

    async def tracking(self, session_ids: Iterable[str]) -> set[str]:
        """Those of ``session_ids`` with a tracking connection in any process."""
        ...

    def lock(self, session_id: str) -> contextlib.AbstractAsyncContextManager[object]:
        """A lock serialising claim/end/delete of the session across processes (the API also holds a
        process-local one). ``StorageError`` when it cannot be taken in time."""
        ...

    async def close(self) -> None:
        """Stop answering requests and release connections (idempotent)."""
        ...


class LocalOwnership:
    """One process: owners are remembered for :meth:`tracking`; nothing is remote."""

    def __init__(self) -> None:
        self.instance_id = uuid.uuid4().hex[:12]
        self._owned: dict[str, str] = {}

    async def start(self, on_stop: StopHandler) -> None:
        return None

    async def claim(self, session_id: str, conn_id: str) -> None:
        self._owned[session_id] = conn_id

    async def stop_owner(self, request: StopRequest) -> bool:
        return False

    async def release(self, session_id: str, conn_id: str) -> None:
        if self._owned.get(session_id) == conn_id:
            del self._owned[session_id]

    async def tracking(self, session_ids: Iterable[str]) -> set[str]:
        return {s for s in session_ids if s in self._owned}

    def lock(self, session_id: str) -> contextlib.AbstractAsyncContextManager[object]:
        return contextlib.nullcontext()

    async def close(self) -> None:
        self._owned.clear()


# Compare-and-delete / compare-and-expire: only the holder of the value may release or renew the key.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
# Renew: 1 = still ours (expiry pushed back); 2 = the key was gone (expired during a Redis outage longer
# than the TTL) and is ours again (SET NX); 0 = another connection owns it.
_RENEW = (
    "local v = redis.call('get', KEYS[1]) "
    "if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end "
    "if not v then redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) return 2 end "
    "return 0"
)


class RedisOwnership:
    """:class:`SessionOwnership` over Redis (``redis.asyncio``); see the module docstring.

    Args:
        url: Redis URL; ``prefix``: key and channel prefix, as for ``RedisStore``.
        settings: the timings (:class:`~gazescope.config.StorageSettings`; None: the defaults):
            ``owner_ttl_s``, lifetime of an owner key, renewed every third of it while the connection
            lives; ``takeover_timeout_s``, longest wait for another process to stop its connection, past
            which the claim goes on (frame indices stay unique: the old connection's are reserved in the
            store); ``session_lock_ttl_s``, lifetime and longest wait of the per-session lock.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gazescope",
        settings: StorageSettings | None = None,
        socket_timeout_s: float = 5.0,
    ) -> None:
        s = settings if settings is not None else StorageSettings()
        self.instance_id = uuid.uuid4().hex[:12]
        self.prefix = prefix
        self.safe_url = redact_url(url)
        self._owner_ttl_ms = max(1, int(s.owner_ttl_s * 1000))
        self._takeover_timeout_s = s.takeover_timeout_s
        self._lock_ttl_s = s.session_lock_ttl_s
        try:
            self._redis = redis.asyncio.Redis.from_url(
                url, socket_connect_timeout=socket_timeout_s, socket_timeout=socket_timeout_s
            )
        except ValueError as exc:
            raise StorageError(f"invalid Redis URL {self.safe_url}: {exc}") from exc
        self._owned: dict[str, str] = {}  # session id -> owner value, for renewal
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._on_stop: StopHandler | None = None
        self._pubsub: redis.asyncio.client.PubSub | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._closed = False
        self._subscribed = False

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}:owner:{session_id}"

    def _channel(self, instance: str) -> str:
        return f"{self.prefix}:instance:{instance}"

    def _value(self, conn_id: str) -> str:
        return f"{self.instance_id}:{conn_id}"

    def _error(self, exc: Exception) -> StorageError:
        return StorageError(f"Redis ownership at {self.safe_url}: {type(exc).__name__}: {exc}")

    async def start(self, on_stop: StopHandler) -> None:
        """Subscribe to this instance's channel; when Redis is unreachable the reader keeps trying (the
        server starts and answers 503 until Redis is back, as for the store)."""
        self._on_stop = on_stop
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await self._pubsub.subscribe(self._channel(self.instance_id))
            self._subscribed = True
        except redis.exceptions.RedisError as exc:
            log.warning("ownership: cannot subscribe yet (%s); retrying", self._error(exc))
        self._tasks = [
            asyncio.create_task(self._read(), name="gs-ownership-read"),
            asyncio.create_task(self._renew(), name="gs-ownership-renew"),
        ]

    async def claim(self, session_id: str, conn_id: str) -> None:
        value = self._value(conn_id)
        try:
            old = await self._redis.set(self._key(session_id), value, px=self._owner_ttl_ms, get=True)
        except redis.exceptions.RedisError as exc:
            raise self._error(exc) from exc
        self._owned[session_id] = value
        if old is None:
            return
        instance, _, old_conn = text(old).partition(":")
        if instance != self.instance_id:
            request = StopRequest(session_id, old_conn, 4000, "taken over by a newer connection")
            await self._ask(instance, request)

    async def stop_owner(self, request: StopRequest) -> bool:
        try:
            old = await self._redis.get(self._key(request.session_id))
        except redis.exceptions.RedisError as exc:
            raise self._error(exc) from exc
        if old is None:
            return False
        instance, _, conn = text(old).partition(":")
        if instance == self.instance_id:
            return False
        return await self._ask(instance, StopRequest(**{**asdict(request), "conn_id": conn}))

    async def _ask(self, instance: str, request: StopRequest) -> bool:
        """Send ``request`` to ``instance`` and wait for its answer (bounded); False when no one listened
        or it timed out (a crashed process: its owner key expires)."""
        rid = uuid.uuid4().hex
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        msg = {"op": "stop", "id": rid, "reply_to": self.instance_id, **asdict(request)}
        try:
            receivers = await self._redis.publish(self._channel(instance), json.dumps(msg))
            if not receivers:
                log.warning("ownership: instance %s of session %s is gone", instance, request.session_id)
                return False
            await asyncio.wait_for(fut, self._takeover_timeout_s)
            return True
        except TimeoutError:
            log.warning("ownership: instance %s did not stop session %s", instance, request.session_id)
            return False
        except redis.exceptions.RedisError as exc:
            raise self._error(exc) from exc
        finally:
            self._pending.pop(rid, None)

    async def release(self, session_id: str, conn_id: str) -> None:
        value = self._value(conn_id)
        if self._owned.get(session_id) == value:
            del self._owned[session_id]
        with contextlib.suppress(redis.exceptions.RedisError):  # an unrenewed key expires anyway
            await self._redis.eval(_RELEASE, 1, self._key(session_id), value)

    async def tracking(self, session_ids: Iterable[str]) -> set[str]:
        ids = list(session_ids)
        if not ids:
            return set()
        try:
            values = await self._redis.mget([self._key(s) for s in ids])
        except redis.exceptions.RedisError as exc:
            raise self._error(exc) from exc
        return {s for s, v in zip(ids, values, strict=True) if v is not None}

    @contextlib.asynccontextmanager
    async def lock(self, session_id: str) -> AsyncIterator[object]:
        lk = self._redis.lock(
            f"{self.prefix}:lock:{session_id}",
            timeout=self._lock_ttl_s,
            blocking_timeout=self._lock_ttl_s,
        )
        try:
            acquired = await lk.acquire()
        except redis.exceptions.RedisError as exc:
            raise self._error(exc) from exc
        if not acquired:
            raise StorageError(
                f"the lock of session {session_id[:64]!r} was not free within {self._lock_ttl_s:g} s"
            )
        try:
            yield lk
        finally:
            with contextlib.suppress(redis.exceptions.RedisError):  # expired: nothing to release
                await lk.release()

    async def _read(self) -> None:
        assert self._pubsub is not None
        while not self._closed:
            try:
                if not self._subscribed:
                    await self._pubsub.subscribe(self._channel(self.instance_id))
                    self._subscribed = True
                msg = await self._pubsub.get_message(timeout=1.0)
            except redis.exceptions.RedisError as exc:
                log.warning("ownership: pub/sub failed (%s); retrying", exc)
                await asyncio.sleep(1.0)
                continue
            if msg is None or msg.get("type") != "message":
                continue
            try:
                data = json.loads(msg["data"])
            except (TypeError, ValueError):
                continue
            if data.get("op") == "stopped":
                fut = self._pending.get(str(data.get("id")))
                if fut is not None and not fut.done():
                    fut.set_result(None)
            elif data.get("op") == "stop":
                task = asyncio.create_task(self._serve_stop(data))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)

    async def _serve_stop(self, data: dict[str, object]) -> None:
        try:
            request = StopRequest(
                session_id=str(data["session_id"]),
                conn_id=None if data.get("conn_id") is None else str(data["conn_id"]),
                code=int(data["code"]),  # type: ignore[call-overload]
                reason=str(data.get("reason") or ""),
                deleted=bool(data.get("deleted")),
                announce_end=bool(data.get("announce_end")),
            )
        except (KeyError, TypeError, ValueError):
            return
        try:
            if self._on_stop is not None:
                await self._on_stop(request)
        except Exception:
            log.exception("ownership: stopping session %s failed", request.session_id)
        with contextlib.suppress(redis.exceptions.RedisError):
            reply = json.dumps({"op": "stopped", "id": data.get("id")})
            await self._redis.publish(self._channel(str(data.get("reply_to"))), reply)

    async def _renew(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._owner_ttl_ms / 3000.0)
            await self.renew_all()

    async def renew_all(self) -> None:
        """Renew the owner key of every connection of this process (the renewal task calls this every
        third of ``owner_ttl_s``). A key that expired (a Redis outage longer than ``owner_ttl_s``) is set
        again; a key another connection holds means this one lost the session: it is stopped with the
        takeover code (4000), so two connections never serve one session. Redis errors are ignored (the
        next renewal retries)."""
        for session_id, value in list(self._owned.items()):
            try:
                renewed = await self._redis.eval(_RENEW, 1, self._key(session_id), value, self._owner_ttl_ms)
            except redis.exceptions.RedisError:
                continue
            if renewed and self._owned.get(session_id) != value:  # released meanwhile: undo the re-set
                with contextlib.suppress(redis.exceptions.RedisError):
                    await self._redis.eval(_RELEASE, 1, self._key(session_id), value)
            elif renewed == 2:
                log.warning("ownership: the owner key of session %s had expired; set again", session_id)
            elif not renewed and self._owned.get(session_id) == value:
                del self._owned[session_id]
                log.warning("ownership: session %s was taken over elsewhere; stopping it here", session_id)
                conn_id = value.partition(":")[2]
                request = StopRequest(session_id, conn_id, 4000, "taken over by a newer connection")
                task = asyncio.create_task(self._stop_local(request))
                self._handlers.add(task)
                task.add_done_callback(self._handlers.discard)

    async def _stop_local(self, request: StopRequest) -> None:
        try:
            if self._on_stop is not None:
                await self._on_stop(request)
        except Exception:
            log.exception("ownership: stopping session %s failed", request.session_id)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in [*self._tasks, *self._handlers]:
            task.cancel()
        for task in [*self._tasks, *self._handlers]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        with contextlib.suppress(Exception):
            await self._redis.aclose()
