"""Live hubs: LocalLiveHub in-process and RedisLiveHub over a real redis-server's pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio

from gazescope.errors import StorageError, ValidationError
from gazescope.storage import LiveHub, LocalLiveHub, RedisLiveHub, Subscription
from support.servers import free_port, start_redis


async def eventually(condition: Callable[[], object], what: str, timeout_s: float = 10.0) -> None:
    """Wait until ``condition()`` is true (a test asserts the outcome, never how long it took)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            pytest.fail(f"never happened: {what}")
        await asyncio.sleep(0.01)


async def next_message(sub: Subscription) -> dict:
    return await asyncio.wait_for(anext(sub), timeout=10)


@pytest.fixture(params=["local", "redis"])
async def make_hub(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., LiveHub]]:
    """Factory of hubs of one kind; hubs of one test share a prefix (as processes of one deployment)."""
    prefix = f"gstest-{uuid.uuid4().hex[:8]}"
    url = request.getfixturevalue("redis_server") if request.param == "redis" else None
    hubs: list[LiveHub] = []

    def make(**kw) -> LiveHub:
        hub: LiveHub = LocalLiveHub(**kw) if url is None else RedisLiveHub(url, prefix=prefix, **kw)
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.close()


async def test_publish_reaches_every_subscriber_of_the_session(make_hub) -> None:
    hub = make_hub()
    async with hub.subscribe("s1") as a, hub.subscribe("s1") as b, hub.subscribe("s2") as other:
        assert hub.subscriber_count("s1") == 2 and hub.subscriber_count("s2") == 1
        for i in range(5):
            await hub.publish("s1", {"type": "sample", "frame_index": i, "gaze_vector": [0.1, -0.2]})
        await hub.publish("s2", {"type": "sample", "frame_index": 100})
        for sub in (a, b):
            got = [await next_message(sub) for _ in range(5)]
            assert got == [{"type": "sample", "frame_index": i, "gaze_vector": [0.1, -0.2]} for i in range(5)]
        assert await next_message(other) == {"type": "sample", "frame_index": 100}
        assert a.dropped == b.dropped == 0


async def test_publish_without_subscribers_is_a_no_op(make_hub) -> None:
    hub = make_hub()
    await hub.publish("nobody", {"x": 1})
    assert hub.subscriber_count("nobody") == 0
    async with hub.subscribe("nobody") as sub:  # earlier messages are not replayed
        await hub.publish("nobody", {"x": 2})
        assert await next_message(sub) == {"x": 2}


async def test_async_for_and_unsubscribe_cleans_up(make_hub) -> None:
    hub = make_hub()
    received = []
    async with hub.subscribe("s") as sub:
        await hub.publish("s", {"n": 1})
        await hub.publish("s", {"n": 2})
        async for message in sub:
            received.append(message)
            if len(received) == 2:
                break
    assert received == [{"n": 1}, {"n": 2}]
    assert hub.subscriber_count("s") == 0
    assert hub.session_ids == []  # no per-session state left behind
    if isinstance(hub, RedisLiveHub):
        admin = redis.asyncio.Redis.from_url(hub.url)
        try:

            async def numsub() -> int:
                return dict(await admin.pubsub_numsub(hub.channel("s")))[hub.channel("s").encode()]

            counts: list[int] = [await numsub()]
            while counts[-1] != 0 and len(counts) < 500:
                await asyncio.sleep(0.02)
                counts.append(await numsub())
            assert counts[-1] == 0  # the Redis channel is unsubscribed when the last observer leaves
        finally:
            await admin.aclose()


async def test_subscribe_again_after_leaving(make_hub) -> None:
    hub = make_hub()
    for round_ in range(3):
        async with hub.subscribe("s") as sub:
            await hub.publish("s", {"round": round_})
            assert await next_message(sub) == {"round": round_}
    assert hub.subscriber_count("s") == 0


async def test_slow_subscriber_drops_oldest(make_hub) -> None:
    hub = make_hub(max_queue=3)
    async with hub.subscribe("s") as slow, hub.subscribe("s") as fast:
        got_fast = []
        for i in range(10):
            await hub.publish("s", {"i": i})
            got_fast.append(await next_message(fast))  # keeps up: gets everything
        await eventually(lambda: slow.dropped == 7, "the slow subscriber dropped 7 of 10")
        assert [await next_message(slow) for _ in range(3)] == [{"i": 7}, {"i": 8}, {"i": 9}]
        assert got_fast == [{"i": i} for i in range(10)] and fast.dropped == 0


async def test_close_ends_iteration(make_hub) -> None:
    hub = make_hub()
    async with hub.subscribe("s") as sub:
        received: list[dict] = []

        async def consume() -> None:
            async for m in sub:
                received.append(m)

        task = asyncio.create_task(consume())
        await hub.publish("s", {"last": True})
        await eventually(lambda: received, "the consumer got the message")
        await hub.close()
        await asyncio.wait_for(task, 10)  # the loop ended
        assert received == [{"last": True}]
    with pytest.raises(StorageError, match="closed"):
        await hub.publish("s", {})


async def test_messages_must_be_json_objects(make_hub) -> None:
    hub = make_hub()
    async with hub.subscribe("s") as sub:
        for bad in ({"x": float("nan")}, {"x": object()}, ["a", "list"]):
            with pytest.raises(ValidationError):
                await hub.publish("s", bad)  # type: ignore[arg-type]
        await hub.publish("s", {"ok": 1})
        assert await next_message(sub) == {"ok": 1}
    with pytest.raises(ValidationError):
        hub.subscribe("bad id")


async def test_redis_hub_connects_processes(redis_server: str) -> None:
    """A sample published by one API process reaches observers connected to another one."""
    prefix = f"gstest-{uuid.uuid4().hex[:8]}"
    tracker_side, observer_side = (RedisLiveHub(redis_server, prefix=prefix) for _ in range(2))
    try:
        async with observer_side.subscribe("shared") as sub:
            assert tracker_side.subscriber_count("shared") == 0  # counts are per process
            await tracker_side.publish("shared", {"frame_index": 1})
            assert await next_message(sub) == {"frame_index": 1}
    finally:
        await tracker_side.close()
        await observer_side.close()


async def test_redis_hub_unreachable() -> None:
    port = free_port()
    hub = RedisLiveHub(f"redis://:hunter2@127.0.0.1:{port}/0", socket_timeout_s=1.0)
    try:
        with pytest.raises(StorageError) as err:
            await hub.publish("s", {"x": 1})
        assert str(port) in str(err.value) and "hunter2" not in str(err.value)
        with pytest.raises(StorageError) as err:
            async with hub.subscribe("s"):
                pass
        assert "hunter2" not in str(err.value)
        assert hub.subscriber_count("s") == 0
    finally:
        await hub.close()


async def _wait_listening(port: int) -> None:
    async def up() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    for _ in range(500):
        if await up():
            return
        await asyncio.sleep(0.02)
    pytest.fail(f"redis-server did not listen on {port}")


async def test_redis_hub_recovers_after_a_redis_restart() -> None:
    """Observers keep receiving after Redis restarts: redis-py reconnects and subscribes again."""
    port = free_port()
    server = start_redis(port)
    hub = RedisLiveHub(f"redis://127.0.0.1:{port}/0", socket_timeout_s=1.0)
    try:
        await _wait_listening(port)
        async with hub.subscribe("s") as sub:
            await hub.publish("s", {"before": True})
            assert await next_message(sub) == {"before": True}
            server.kill()
            server.wait(timeout=10)
            server = start_redis(port)
            await _wait_listening(port)
            got: list[dict] = []
            for attempt in range(200):  # publish until the re-subscribed observer sees one
                with contextlib.suppress(StorageError):
                    await hub.publish("s", {"after": attempt})
                try:
                    got.append(await asyncio.wait_for(anext(sub), timeout=0.1))
                    break
                except TimeoutError:
                    continue
            assert got and "after" in got[0]
    finally:
        await hub.close()
        server.kill()
        server.wait(timeout=10)
