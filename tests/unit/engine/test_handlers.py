"""HandlerRegistry: one per app, message handlers by type and start hooks, used by the connections."""

from __future__ import annotations

import asyncio

import pytest

from gazescope.api.app import create_app, tracking_handlers
from gazescope.api.wire import NativeWire
from gazescope.config import Settings
from gazescope.engine.connection import TrackingConnection
from gazescope.engine.handlers import HandlerRegistry
from gazescope.errors import ValidationError


async def _noop(conn, inbound) -> None:
    return None


async def _other(conn, inbound) -> None:
    return None


@pytest.mark.parametrize(
    ("message_type", "match"),
    [
        pytest.param("frame", "built in", id="frame"),
        pytest.param("ping", "built in", id="ping"),
        pytest.param("mine", "already has a handler; registered: mine", id="duplicate"),
    ],
)
def test_built_in_and_taken_types_are_refused_with_what_exists(message_type, match):
    registry = HandlerRegistry()
    registry.register("mine", _noop)
    with pytest.raises(ValueError, match=match):
        registry.register(message_type, _other)


def test_types_are_listed_sorted_with_the_built_in_ones_and_hooks_run_once_in_order():
    registry = HandlerRegistry()
    registry.register("zeta", _noop)
    registry.register("alpha", _noop)
    registry.register("alpha", _noop)  # the same handler again: no change
    registry.add_start_hook(_noop)
    registry.add_start_hook(_other)
    registry.add_start_hook(_noop)
    assert registry.message_types() == ["alpha", "frame", "ping", "zeta"]
    assert registry.handler("alpha") is _noop and registry.handler("beta") is None
    assert registry.start_hooks == (_noop, _other)


def test_each_app_has_its_own_registry_with_the_protocols_registered():
    a, b = tracking_handlers(), tracking_handlers()
    assert a is not b
    types = a.message_types()
    for t in (
        "calibration_start",
        "calibration_finish",
        "drift_start",
        "click",
        "stimulus_time",
        "seed004_end",
    ):
        assert t in types
    assert types == b.message_types()
    assert create_app(Settings()) is not create_app(Settings())  # building apps registers nothing globally
    assert HandlerRegistry().message_types() == ["frame", "ping"]


def test_handlers_and_start_hooks_of_the_connection_s_app_run_and_errors_are_answered(
    state_for, store, transport
):
    seen: list[str] = []

    async def hook(conn) -> None:
        seen.append("start")
        await conn.send({"type": "hooked"})

    async def echo(conn, inbound) -> None:
        seen.append(inbound.body["text"])
        await conn.send({"type": "echo", "text": inbound.body["text"]})

    async def refuse(conn, inbound) -> None:
        raise ValidationError("not like that")

    async def crash(conn, inbound) -> None:
        raise RuntimeError("a bug")

    async def scenario():
        registry = HandlerRegistry()
        registry.add_start_hook(hook)
        registry.register("echo", echo)
        registry.register("refuse", refuse)
        registry.register("crash", crash)
        conn = TrackingConnection(
            state_for(registry), transport, store.get_session("s1"), NativeWire(), "track"
        )
        await conn.claim()
        task = asyncio.create_task(conn.serve())
        for message in ({"type": "refuse"}, {"type": "crash"}, {"type": "echo", "text": "hi"}):
            transport.push(message)
        await transport.wait_for("echo")
        transport.leave()
        await asyncio.wait_for(task, 10)
        return transport.messages()

    messages = asyncio.run(scenario())
    assert messages[0]["message_types"] == ["crash", "echo", "frame", "landmarks", "ping", "refuse"]
    assert messages[1] == {"type": "hooked"}
    errors = [(m["code"], m["message"]) for m in messages if m["type"] == "error"]
    assert errors == [("invalid_request", "not like that"), ("internal_error", "handling 'crash' failed")]
    assert seen == ["start", "hi"]
