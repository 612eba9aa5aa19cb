"""errors.classify: one table decides what an outbound failure means."""

from __future__ import annotations

import httpx
import pytest

from storeops.core.errors import ConfigError, InvalidInput, VendorError
from storeops.engine.errors import HTTP_TABLE, Action, FailureType, Resolution, classify

# The table as the architecture describes it, written out independently of the code so a
# changed row is noticed: status -> (action, failure type).
EXPECTED_ROWS = {
    400: (Action.FAIL, FailureType.SYSTEM),
    401: (Action.REFRESH_AUTH, FailureType.CONFIG),
    403: (Action.FAIL, FailureType.CONFIG),
    404: (Action.FAIL, FailureType.SYSTEM),
    408: (Action.RETRY, FailureType.TRANSIENT),
    409: (Action.FAIL, FailureType.SYSTEM),
    422: (Action.FAIL, FailureType.SYSTEM),
    423: (Action.RETRY, FailureType.TRANSIENT),
    429: (Action.RATE_LIMITED, FailureType.TRANSIENT),
    500: (Action.RETRY, FailureType.TRANSIENT),
    502: (Action.RETRY, FailureType.TRANSIENT),
    503: (Action.RETRY, FailureType.TRANSIENT),
    504: (Action.RETRY, FailureType.TRANSIENT),
}


def vendor_error(status: int | None) -> VendorError:
    return VendorError("shopify", "call failed", status=status)


def test_table_has_exactly_the_documented_rows() -> None:
    assert set(HTTP_TABLE) == set(EXPECTED_ROWS)


@pytest.mark.parametrize(("status", "expected"), sorted(EXPECTED_ROWS.items()))
def test_every_table_row_is_what_classify_returns(status: int, expected: tuple[Action, FailureType]) -> None:
    resolution = classify(vendor_error(status))
    assert (resolution.action, resolution.failure_type) == expected
    assert resolution == HTTP_TABLE[status]
    assert resolution.reason  # a person reading a log learns why


@pytest.mark.parametrize("status", [402, 405, 410, 418, 451, 499])
def test_unknown_4xx_fails_as_a_system_error(status: int) -> None:
    resolution = classify(vendor_error(status))
    assert (resolution.action, resolution.failure_type) == (Action.FAIL, FailureType.SYSTEM)
    assert str(status) in resolution.reason


@pytest.mark.parametrize("status", [501, 505, 507, 520, 529, 599])
def test_unknown_5xx_is_retried_as_transient(status: int) -> None:
    resolution = classify(vendor_error(status))
    assert (resolution.action, resolution.failure_type) == (Action.RETRY, FailureType.TRANSIENT)
    assert str(status) in resolution.reason


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
        TimeoutError("timed out"),
        ConnectionResetError("reset by peer"),
        VendorError("shipbob", "socket closed", status=None),
    ],
    ids=["connect", "read-timeout", "protocol", "timeout", "reset", "vendor-no-status"],
)
def test_transport_errors_are_retried_as_transient(error: BaseException) -> None:
    resolution = classify(error)
    assert (resolution.action, resolution.failure_type) == (Action.RETRY, FailureType.TRANSIENT)


def test_config_error_fails_for_a_person_to_fix() -> None:
    resolution = classify(ConfigError("Shopify access token is missing"))
    assert (resolution.action, resolution.failure_type) == (Action.FAIL, FailureType.CONFIG)
    assert "access token" in resolution.reason


def test_invalid_input_fails_as_system_error() -> None:
    resolution = classify(InvalidInput("sku is empty", field="sku"))
    assert (resolution.action, resolution.failure_type) == (Action.FAIL, FailureType.SYSTEM)


def test_an_unexpected_exception_is_not_retried() -> None:
    resolution = classify(ValueError("bug"))
    assert (resolution.action, resolution.failure_type) == (Action.FAIL, FailureType.SYSTEM)


def test_override_replaces_one_row_and_leaves_the_others() -> None:
    ignore_404 = Resolution(Action.IGNORE, FailureType.SYSTEM, "already deleted at the vendor")
    overrides = {404: ignore_404}

    assert classify(vendor_error(404), overrides) is ignore_404
    assert classify(vendor_error(404)) == HTTP_TABLE[404]  # the shared table is untouched
    assert classify(vendor_error(400), overrides) == HTTP_TABLE[400]
    assert classify(vendor_error(503), overrides) == HTTP_TABLE[503]


def test_override_can_add_a_row_for_an_unlisted_status() -> None:
    retry_418 = Resolution(Action.RETRY, FailureType.TRANSIENT, "vendor's teapot is busy")
    assert classify(vendor_error(418), {418: retry_418}) is retry_418
    assert classify(vendor_error(418)).action is Action.FAIL
