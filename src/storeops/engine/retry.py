"""The one retry policy. Connector clients never retry on their own; the engine does."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from storeops.core.errors import VendorError
from storeops.engine.errors import Action, Resolution, classify

T = TypeVar("T")
log = structlog.get_logger(__name__)


class GaveUp(Exception):
    """Retries are exhausted or the error is not retryable; carries the resolution."""

    def __init__(self, resolution: Resolution, cause: BaseException, attempts: int) -> None:
        super().__init__(f"{resolution.action}/{resolution.failure_type}: {cause} (after {attempts} attempts)")
        self.resolution = resolution
        self.cause = cause
        self.attempts = attempts

    def __reduce__(self) -> tuple[Any, ...]:
        # DBOS records a failed step's / workflow's exception by pickling it; the default
        # reduction would call GaveUp(message) and fail, losing the error record.
        return (type(self), (self.resolution, self.cause, self.attempts))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay_s: float = 0.5
    max_delay_s: float = 60.0
    multiplier: float = 2.0
    # A connector's rows that differ from errors.HTTP_TABLE (see errors.classify).
    overrides: Mapping[int, Resolution] = field(default_factory=dict, hash=False)

    def delay(self, attempt: int, resolution: Resolution, error: BaseException) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        told = error.retry_after if isinstance(error, VendorError) else None
        if resolution.action is Action.RATE_LIMITED and told is not None:
            # The vendor said how long; waiting less only earns another 429.
            return min(max(told, 0.0), self.max_delay_s)
        try:
            ceiling = min(self.max_delay_s, self.base_delay_s * self.multiplier ** (attempt - 1))
        except OverflowError:  # a patient policy's late attempts: the cap applies
            ceiling = self.max_delay_s
        return random.uniform(ceiling / 2, ceiling)  # jitter: workers do not retry in lockstep

    def call(
        self,
        fn: Callable[[], T],
        *,
        refresh_auth: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T | None:
        """Run `fn` until it succeeds, is ignorable, or must fail. Returns None when ignored."""
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - the table decides
                resolution = classify(exc, self.overrides)
                if resolution.action is Action.IGNORE:
                    log.info("error ignored", reason=resolution.reason, error=str(exc))
                    return None
                can_try_again = attempt < self.max_attempts
                if resolution.action is Action.REFRESH_AUTH and refresh_auth and not refreshed and can_try_again:
                    refreshed = True
                    refresh_auth()
                    continue
                retryable = resolution.action in (Action.RETRY, Action.RATE_LIMITED)
                if not retryable or not can_try_again:
                    raise GaveUp(resolution, exc, attempt) from exc
                wait = self.delay(attempt, resolution, exc)
                log.info("retrying", attempt=attempt, wait_s=round(wait, 3), reason=resolution.reason)
                sleep(wait)


DEFAULT_POLICY = RetryPolicy()
