"""RetryPolicy.call: the one place that retries, driven by the error table."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import httpx
import pytest

from storeops.core.errors import VendorError
from storeops.engine.errors import HTTP_TABLE, Action, FailureType, Resolution
from storeops.engine.retry import GaveUp, RetryPolicy


class Waits(list[float]):
    """An injected `sleep` that records how long the policy asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def failing(*errors: BaseException, then: object = "ok") -> Callable[[], object]:
    """A call that raises `errors` in order, then returns `then`; counts its calls."""
    remaining = list(errors)

    def call() -> object:
        call.calls += 1  # type: ignore[attr-defined]
        if remaining:
            raise remaining.pop(0)
        return then

    call.calls = 0  # type: ignore[attr-defined]
    return call


def http(status: int, retry_after: float | None = None) -> VendorError:
    return VendorError("shopify", f"HTTP {status}", status=status, retry_after=retry_after)


def test_5xx_is_retried_until_it_succeeds() -> None:
    waits = Waits()
    call = failing(http(503), http(502), then={"id": 7})

    assert RetryPolicy(base_delay_s=0.5).call(call, sleep=waits) == {"id": 7}
    assert call.calls == 3  # type: ignore[attr-defined]
    assert len(waits) == 2
    assert all(0 < w <= 1.0 for w in waits)


def test_transport_error_is_retried() -> None:
    waits = Waits()
    call = failing(httpx.ConnectError("refused"), TimeoutError("slow"))

    assert RetryPolicy().call(call, sleep=waits) == "ok"
    assert call.calls == 3  # type: ignore[attr-defined]
    assert len(waits) == 2


def test_429_waits_exactly_what_the_vendor_asked() -> None:
    waits = Waits()
    call = failing(http(429, retry_after=3))

    assert RetryPolicy().call(call, sleep=waits) == "ok"
    assert waits == [3.0]


def test_429_without_retry_after_backs_off() -> None:
    waits = Waits()
    call = failing(http(429))

    assert RetryPolicy(base_delay_s=2.0).call(call, sleep=waits) == "ok"
    assert len(waits) == 1
    assert 1.0 <= waits[0] <= 2.0


def test_400_fails_at_once_with_the_resolution() -> None:
    waits = Waits()
    error = http(400)
    call = failing(error)

    with pytest.raises(GaveUp) as raised:
        RetryPolicy().call(call, sleep=waits)

    assert call.calls == 1  # type: ignore[attr-defined]
    assert waits == []
    gave_up = raised.value
    assert gave_up.resolution == HTTP_TABLE[400]
    assert gave_up.resolution.action is Action.FAIL
    assert gave_up.cause is error
    assert gave_up.__cause__ is error
    assert gave_up.attempts == 1
    assert "malformed" in str(gave_up) or "fail" in str(gave_up)


def test_attempts_are_capped_at_max_attempts() -> None:
    waits = Waits()
    call = failing(*[http(500) for _ in range(10)])

    with pytest.raises(GaveUp) as raised:
        RetryPolicy(max_attempts=4).call(call, sleep=waits)

    assert call.calls == 4  # type: ignore[attr-defined]
    assert len(waits) == 3  # no wait after the last attempt
    assert raised.value.attempts == 4
    assert raised.value.resolution.failure_type is FailureType.TRANSIENT


def test_401_refreshes_credentials_once_then_retries() -> None:
    waits = Waits()
    refreshed: list[int] = []
    call = failing(http(401), then="authorized")

    result = RetryPolicy().call(call, refresh_auth=lambda: refreshed.append(1), sleep=waits)

    assert result == "authorized"
    assert refreshed == [1]
    assert call.calls == 2  # type: ignore[attr-defined]


def test_401_after_a_refresh_gives_up_as_a_config_failure() -> None:
    refreshed: list[int] = []
    call = failing(http(401), http(401), http(401))

    with pytest.raises(GaveUp) as raised:
        RetryPolicy().call(call, refresh_auth=lambda: refreshed.append(1), sleep=Waits())

    assert refreshed == [1]
    assert call.calls == 2  # type: ignore[attr-defined]
    assert raised.value.resolution.action is Action.REFRESH_AUTH
    assert raised.value.resolution.failure_type is FailureType.CONFIG


def test_401_without_a_way_to_refresh_gives_up_at_once() -> None:
    call = failing(http(401))
    with pytest.raises(GaveUp):
        RetryPolicy().call(call, sleep=Waits())
    assert call.calls == 1  # type: ignore[attr-defined]


def test_a_refresh_does_not_exceed_max_attempts() -> None:
    refreshed: list[int] = []
    call = failing(http(401))

    with pytest.raises(GaveUp):
        RetryPolicy(max_attempts=1).call(call, refresh_auth=lambda: refreshed.append(1), sleep=Waits())

    assert call.calls == 1  # type: ignore[attr-defined]


def test_ignore_rows_return_none() -> None:
    gone = Resolution(Action.IGNORE, FailureType.SYSTEM, "already deleted at the vendor")
    waits = Waits()
    call = failing(http(404))

    assert RetryPolicy(overrides={404: gone}).call(call, sleep=waits) is None
    assert call.calls == 1  # type: ignore[attr-defined]
    assert waits == []
    # The same policy without the override fails on a 404.
    with pytest.raises(GaveUp):
        RetryPolicy().call(failing(http(404)), sleep=Waits())


def test_overrides_can_make_a_status_retryable() -> None:
    locked = Resolution(Action.RETRY, FailureType.TRANSIENT, "order is being edited")
    call = failing(http(409))
    assert RetryPolicy(overrides={409: locked}).call(call, sleep=Waits()) == "ok"
    assert call.calls == 2  # type: ignore[attr-defined]


def test_backoff_grows_and_never_exceeds_max_delay() -> None:
    policy = RetryPolicy(max_attempts=9, base_delay_s=1.0, multiplier=2.0, max_delay_s=5.0)
    for _ in range(20):  # jitter is random: check the bounds many times
        waits = Waits()
        with pytest.raises(GaveUp):
            policy.call(failing(*[http(503) for _ in range(9)]), sleep=waits)
        assert len(waits) == 8
        ceilings = [min(5.0, 1.0 * 2.0**i) for i in range(8)]
        for wait, ceiling in zip(waits, ceilings, strict=True):
            assert ceiling / 2 <= wait <= ceiling
        # Below the cap each wait is at least the previous one (ceilings double).
        assert waits[0] <= waits[1] <= waits[2]
        assert max(waits) <= 5.0
        assert waits[3] > waits[0]


def test_many_attempts_keep_waiting_max_delay() -> None:
    # A patient policy (an outbox action that must eventually go through) must not
    # overflow computing 2 ** attempt.
    policy = RetryPolicy(max_attempts=1500, base_delay_s=0.5, max_delay_s=30.0)
    waits = Waits()
    with pytest.raises(GaveUp):
        policy.call(failing(*[http(503) for _ in range(1500)]), sleep=waits)
    assert len(waits) == 1499
    assert all(15.0 <= w <= 30.0 for w in waits[-100:])


def test_gave_up_survives_pickling() -> None:
    # DBOS records a failed step's exception by pickling it; an exception that cannot be
    # rebuilt breaks engine.result() and the workflow's error record.
    original = GaveUp(HTTP_TABLE[400], http(400), 1)
    copy = pickle.loads(pickle.dumps(original))  # noqa: S301 - our own bytes
    assert isinstance(copy, GaveUp)
    assert copy.resolution == original.resolution
    assert copy.attempts == 1
    assert isinstance(copy.cause, VendorError) and copy.cause.status == 400
    assert str(copy) == str(original)
