"""The one retry policy. Connector clients never retry on their own; the engine does."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

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


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay_s: float = 0.5
    max_delay_s: float = 60.0
    multiplier: float = 2.0

    def delay(self, attempt: int, resolution: Resolution, error: BaseException) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        rate_limited = resolution.action is Action.RATE_LIMITED and isinstance(error, VendorError)
        if rate_limited and error.retry_after is not None:  # type: ignore[union-attr]
            # The vendor said how long; waiting less only earns another 429.
            return min(max(error.retry_after, 0.0), self.max_delay_s)  # type: ignore[union-attr]
        ceiling = min(self.max_delay_s, self.base_delay_s * self.multiplier ** (attempt - 1))
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
                resolution = classify(exc)
                if resolution.action is Action.IGNORE:
                    log.info("error ignored", reason=resolution.reason, error=str(exc))
                    return None
                if resolution.action is Action.REFRESH_AUTH and refresh_auth and not refreshed:
                    refreshed = True
                    refresh_auth()
                    continue
                retryable = resolution.action in (Action.RETRY, Action.RATE_LIMITED)
                if not retryable or attempt >= self.max_attempts:
                    raise GaveUp(resolution, exc, attempt) from exc
                wait = self.delay(attempt, resolution, exc)
                log.info("retrying", attempt=attempt, wait_s=round(wait, 3), reason=resolution.reason)
                sleep(wait)


DEFAULT_POLICY = RetryPolicy()
