"""Calibration messages: defaults, null read as absent, bounds refused with ``invalid_request`` naming the
field and its range, mapper parameters checked and clamped, replies as sent."""

from __future__ import annotations

from typing import Any

import pytest

from gazescope.calibration.messages import (
    CalibrationApplied,
    CalibrationStart,
    CalibrationTarget,
    CalibrationUse,
    DriftStart,
    Empty,
    TargetOut,
    bound_mapper_params,
    parse_message,
)
from gazescope.errors import ValidationError


def test_start_defaults_and_null_reads_as_absent() -> None:
    msg = parse_message(
        CalibrationStart, {"type": "calibration_start", "layout": None, "mapper": None, "x": 1}
    )
    assert (msg.layout, msg.mapper, msg.margin_norm, msg.mapper_params) == ("9", None, 0.1, {})
    assert msg.screen_w_px is None and msg.save is None and msg.samples_per_target is None
    assert parse_message(CalibrationStart, {"layout": 16}).layout == "16"  # a number reads as its name
    assert parse_message(CalibrationStart, {"screen_w_px": 1280.0}).screen_w_px == 1280
    assert parse_message(Empty, {"anything": [1, 2]}) == Empty()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param({"layout": "7"}, "available: 5, 9, 13, 16, pursuit", id="layout"),
        pytest.param({"layout": ""}, "layout must be a string of 1-16 characters", id="layout-empty"),
        pytest.param({"screen_w_px": 0}, "screen_w_px must be within 1..100000", id="screen-small"),
        pytest.param({"screen_h_px": 100_001}, "screen_h_px must be within 1..100000", id="screen-large"),
        pytest.param({"screen_w_px": 12.5}, "screen_w_px must be an integer, got '12.5'", id="screen-float"),
        pytest.param({"screen_w_px": True}, "screen_w_px must be an integer", id="screen-bool"),
        pytest.param({"mapper": "x" * 65}, "mapper must be a string of 1-64 characters", id="mapper-long"),
        pytest.param({"mapper_params": [1]}, "mapper_params must be an object", id="params"),
        pytest.param({"save": "yes"}, "save must be true or false", id="save"),
        pytest.param({"settle_ms": 10_001}, "settle_ms must be within 0..10000", id="settle"),
        pytest.param({"settle_ms": "300"}, "settle_ms must be a finite number", id="settle-text"),
        pytest.param({"margin_norm": 0.5}, "margin_norm must be within 0..0.45", id="margin"),
        pytest.param({"samples_per_target": 101}, "samples_per_target must be within 1..100", id="samples"),
        pytest.param(
            {"layout": "pursuit", "duration_ms": 500},
            "pursuit needs duration_ms within 1000..120000",
            id="duration",
        ),
        pytest.param({"layout": "pursuit", "rate_hz": 121}, "rate_hz within 1..120", id="rate"),
    ],
)
def test_start_out_of_bounds_is_invalid_request(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_message(CalibrationStart, body)
    assert err.value.code == "invalid_request"
    assert reason in err.value.message


def test_pursuit_bounds_apply_to_pursuit_only() -> None:
    assert parse_message(CalibrationStart, {"layout": "9", "duration_ms": 5}).duration_ms == 5.0


@pytest.mark.parametrize(
    ("model", "body", "reason"),
    [
        pytest.param(CalibrationTarget, {"index": 1.5}, "index must be an integer", id="target-index"),
        pytest.param(CalibrationTarget, {"x_px": "a"}, "x_px must be a finite number", id="target-x"),
        pytest.param(
            CalibrationTarget, {"validation": 1}, "validation must be true or false", id="target-val"
        ),
        pytest.param(CalibrationUse, {}, "calibration_use needs a profile_id or a user_id", id="use-none"),
        pytest.param(
            CalibrationUse, {"profile_id": "p" * 129}, "profile_id must be a string of 1-128", id="use-id"
        ),
        pytest.param(DriftStart, {"x_px": 3}, "drift_start needs x_px and y_px", id="drift"),
    ],
)
def test_other_messages_refuse_bad_fields(model: type, body: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason) as err:
        parse_message(model, body)
    assert err.value.code == "invalid_request"


def test_ids_given_as_numbers_read_as_text() -> None:
    assert parse_message(CalibrationUse, {"user_id": 42}).user_id == "42"


def test_cnn_params_are_clamped_to_the_limits() -> None:
    params, clamped = bound_mapper_params("cnn", {"time_budget_s": 3600, "epochs": 10**9}, 100, 5.0)
    assert (params["time_budget_s"], params["epochs"]) == (5.0, 100)
    assert clamped == {"time_budget_s": 3600, "epochs": 10**9}
    params, clamped = bound_mapper_params("cnn", {}, 100, 5.0)  # the mapper's defaults are clamped too
    assert params["time_budget_s"] == 5.0 and set(params) == {
        "epochs",
        "time_budget_s",
        "lr",
        "weight_decay",
        "seed",
    }
    assert bound_mapper_params("cnn", {"lr": 0.01}, 5000, 60.0)[1] == {}


@pytest.mark.parametrize(
    ("mapper", "params", "reason"),
    [
        pytest.param(
            "cnn", {"batch": 3}, "unknown cnn mapper_params ['batch']; known: epochs", id="cnn-unknown"
        ),
        pytest.param("cnn", {"lr": -1}, "cnn lr must be within (0, 1]", id="cnn-lr"),
        pytest.param("cnn", {"seed": 2**40}, "cnn seed must be within 0..4294967295", id="cnn-seed"),
        pytest.param(
            "cnn", {"time_budget_s": "long"}, "time_budget_s must be a finite number", id="cnn-budget"
        ),
        pytest.param("cnn", {"epochs": 0}, "cnn epochs must be >= 1", id="cnn-epochs"),
        pytest.param("ridge", {"alphas": [1.0] * 51}, "alphas", id="ridge-alphas-many"),
        pytest.param("ridge", {"alphas": [0, -1]}, "alphas", id="ridge-alphas-range"),
        pytest.param("ridge", {"degrees": [4]}, "degrees", id="ridge-degrees"),
        pytest.param("ridge", {"degrees": [True]}, "degrees", id="ridge-degrees-bool"),
        pytest.param("ridge", {"x_features": [1]}, "x_features", id="ridge-features"),
        pytest.param("ridge", {"lambda": 1}, "unknown ridge mapper_params", id="ridge-unknown"),
    ],
)
def test_bad_mapper_params_are_refused(mapper: str, params: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError) as err:
        bound_mapper_params(mapper, params, 100, 5.0)
    assert err.value.code == "invalid_request" and reason in err.value.message


def test_ridge_params_pass_and_null_ones_drop() -> None:
    params, clamped = bound_mapper_params("ridge", {"alphas": [0.1, 1], "degrees": None}, 100, 5.0)
    assert params == {"alphas": [0.1, 1.0]} and clamped == {}
    assert bound_mapper_params("held-test", {"anything": 1}, 1, 1.0) == ({"anything": 1}, {})


def test_replies_leave_out_optional_fields_that_are_none() -> None:
    grid = TargetOut(index=0, x_norm=0.1, y_norm=0.1, validation=False, x_px=128.0, y_px=80.0).to_wire()
    assert "t_ms" not in grid
    applied = CalibrationApplied(
        profile_id="p", user_id=None, mapper="ridge", layout="9", screen_w_px=10, screen_h_px=10,
        accuracy={}, grade=None, source="calibration_use",
    )  # fmt: skip
    wire = applied.to_wire()
    assert wire["type"] == "calibration_applied" and "warning" not in wire
    assert wire["user_id"] is None and wire["grade"] is None  # required fields stay, null or not
