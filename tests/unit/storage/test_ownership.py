"""Session ownership: LocalOwnership in one process, RedisOwnership across "processes" (instances sharing a
prefix) on a real redis-server: takeover stops the old owner and waits for it, end/delete reach the owner,
stale releases never remove a newer owner, the per-session lock excludes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from gazescope.config import StorageSettings
from gazescope.errors import StorageError
from gazescope.storage import LocalOwnership, RedisOwnership, SessionOwnership
from gazescope.storage.ownership import StopRequest
from support.servers import free_port


class Recorder:
    """An ``on_stop`` handler that records requests and takes a while, like a connection's final flush."""

    def __init__(self) -> None:
        self.requests: list[StopRequest] = []
        self.finished: list[StopRequest] = []

    async def __call__(self, request: StopRequest) -> None:
        self.requests.append(request)
        await asyncio.sleep(0.2)
        self.finished.append(request)


@pytest.fixture
async def make_redis(redis_server: str) -> AsyncIterator[Callable[[], tuple[RedisOwnership, Recorder]]]:
    prefix = f"gstest-{uuid.uuid4().hex[:8]}"
    made: list[RedisOwnership] = []

    async def make() -> tuple[RedisOwnership, Recorder]:
        o = RedisOwnership(
            redis_server,
            prefix=prefix,
            settings=StorageSettings(takeover_timeout_s=10.0, session_lock_ttl_s=10.0),
        )
        rec = Recorder()
        await o.start(rec)
        made.append(o)
        return o, rec

    yield make
    for o in made:
        await o.close()


def test_both_implementations_follow_the_protocol() -> None:
    assert isinstance(LocalOwnership(), SessionOwnership)
    assert isinstance(RedisOwnership("redis://127.0.0.1:1/0"), SessionOwnership)


async def test_local_ownership_tracks_claims_and_has_no_remote_owner() -> None:
    o = LocalOwnership()
    await o.start(Recorder())
    await o.claim("s1", "c1")
    assert await o.tracking(["s1", "s2"]) == {"s1"}
    assert await o.stop_owner(StopRequest("s1", None, 1000, "session ended")) is False
    await o.claim("s1", "c2")
    await o.release("s1", "c1")  # the older connection finishing later keeps the newer one
    assert await o.tracking(["s1"]) == {"s1"}
    await o.release("s1", "c2")
    assert await o.tracking(["s1"]) == set()
    async with o.lock("s1"):
        pass


async def test_a_claim_on_another_instance_stops_the_old_owner_and_waits_for_its_flush(make_redis) -> None:
    (a, rec_a), (b, rec_b) = await make_redis(), await make_redis()
    await a.claim("s1", "c1")
    assert await b.tracking(["s1", "s2"]) == {"s1"}
    await b.claim("s1", "c2")
    assert [(r.session_id, r.conn_id, r.code) for r in rec_a.finished] == [("s1", "c1", 4000)]
    assert rec_b.requests == []
    await a.release("s1", "c1")  # the old connection's release comes after: the newer owner stays
    assert await a.tracking(["s1"]) == {"s1"}
    await b.release("s1", "c2")
    assert await a.tracking(["s1"]) == set()


async def test_a_claim_on_the_same_instance_sends_no_request(make_redis) -> None:
    (a, rec_a) = await make_redis()
    await a.claim("s1", "c1")
    await a.claim("s1", "c2")  # the API stopped c1 itself
    assert rec_a.requests == []


async def test_end_or_delete_reaches_the_owning_instance(make_redis) -> None:
    (a, rec_a), (b, _) = await make_redis(), await make_redis()
    assert await b.stop_owner(StopRequest("s1", None, 1000, "session ended")) is False  # nobody tracks
    await a.claim("s1", "c1")
    assert await a.stop_owner(StopRequest("s1", None, 1000, "session ended")) is False  # local: the API's job
    done = await b.stop_owner(StopRequest("s1", None, 4410, "session deleted", deleted=True))
    assert done is True
    (req,) = rec_a.finished
    assert (req.conn_id, req.code, req.deleted, req.announce_end) == ("c1", 4410, True, False)


async def test_a_vanished_owner_does_not_block_a_claim(make_redis) -> None:
    (a, rec_a), (b, _) = await make_redis(), await make_redis()
    await a.claim("s1", "c1")
    await a.close()  # crashed: no release, no one listens on its channel
    await asyncio.wait_for(b.claim("s1", "c2"), 5.0)
    assert rec_a.requests == []
    assert await b.tracking(["s1"]) == {"s1"}


@pytest.fixture
async def raw_redis(redis_server: str) -> AsyncIterator[redis.asyncio.Redis]:
    """A plain client of the same redis-server, to change owner keys behind the instances' backs."""
    raw = redis.asyncio.Redis.from_url(redis_server)
    yield raw
    await raw.aclose()


async def test_renewal_sets_an_owner_key_that_expired_during_an_outage_again(make_redis, raw_redis) -> None:
    (a, rec_a), (b, _) = await make_redis(), await make_redis()
    await a.claim("s1", "c1")
    await raw_redis.delete(a._key("s1"))  # the key expired while Redis was unreachable longer than its TTL
    assert await b.tracking(["s1"]) == set()
    await a.renew_all()
    assert await b.tracking(["s1"]) == {"s1"}
    assert await raw_redis.pttl(a._key("s1")) > 0  # with a TTL again
    assert rec_a.requests == []  # still ours: keeps serving


async def test_renewal_stops_the_local_connection_when_another_owns_the_session(
    make_redis, raw_redis
) -> None:
    (a, rec_a), (b, _) = await make_redis(), await make_redis()
    await a.claim("s1", "c1")
    # another instance claimed while a's key was gone and a could not hear its stop request
    await raw_redis.set(a._key("s1"), f"{b.instance_id}:c2")
    await a.renew_all()
    for _ in range(50):  # the stop runs in a task; the recorder takes 0.2 s like a flush
        if rec_a.finished:
            break
        await asyncio.sleep(0.05)
    assert [(r.session_id, r.conn_id, r.code) for r in rec_a.finished] == [("s1", "c1", 4000)]
    assert await b.tracking(["s1"]) == {"s1"}
    await a.release("s1", "c1")  # the stopped connection's release leaves the new owner alone
    assert await b.tracking(["s1"]) == {"s1"}


async def test_the_session_lock_excludes_other_instances(make_redis) -> None:
    (a, _), (b, _) = await make_redis(), await make_redis()
    order: list[str] = []

    async def hold(o: RedisOwnership, name: str) -> None:
        async with o.lock("s1"):
            order.append(f"{name} in")
            await asyncio.sleep(0.3)
            order.append(f"{name} out")

    t = asyncio.create_task(hold(a, "a"))
    await asyncio.sleep(0.05)
    await hold(b, "b")
    await t
    assert order == ["a in", "a out", "b in", "b out"]


async def test_an_unreachable_redis_lets_the_server_start_and_fails_calls_with_storage_error() -> None:
    port = free_port()  # nothing listens here once closed
    o = RedisOwnership(f"redis://127.0.0.1:{port}/0", settings=StorageSettings(takeover_timeout_s=1.0))
    try:
        await o.start(Recorder())
        with pytest.raises(StorageError):
            await o.claim("s1", "c1")
        with pytest.raises(StorageError):
            await o.tracking(["s1"])
        await o.release("s1", "c1")  # never raises
    finally:
        await o.close()
