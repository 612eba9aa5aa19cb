"""SP-API usage plans and the per-operation limiters that keep us under them.

Amazon limits each operation separately, per selling partner and application, with a
token bucket whose rate and burst are printed in each operation's "Usage Plan" table
(shared/vendor-specs/amazon-sp-api/*.json). So one RateLimiter per (seller, operation),
shared by every client of that seller in the process (storeops.connectors.http).

We run a little under the published rate (`headroom`): Amazon counts arrival times, and
two requests we send 200 ms apart can arrive 190 ms apart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from storeops.connectors.http import RateLimiter, shared_limiter

DEFAULT_HEADROOM = 0.9


@dataclass(frozen=True, slots=True)
class UsagePlan:
    rate_per_s: float
    burst: int


USAGE_PLANS: dict[str, UsagePlan] = {
    # listingsItems_2021-08-01.json
    "getListingsItem": UsagePlan(5, 10),
    "putListingsItem": UsagePlan(5, 10),
    "patchListingsItem": UsagePlan(5, 5),
    "deleteListingsItem": UsagePlan(5, 5),
    "searchListingsItems": UsagePlan(5, 5),
    # fbaInventory.json
    "getInventorySummaries": UsagePlan(2, 2),
    # feeds_2021-06-30.json
    "createFeedDocument": UsagePlan(0.5, 15),
    "createFeed": UsagePlan(0.0083, 15),
    "getFeed": UsagePlan(2, 15),
    "cancelFeed": UsagePlan(2, 15),
    "getFeedDocument": UsagePlan(0.0222, 10),
}


class OperationLimiters:
    """The limiters of one seller, one per operation.

    Without `clock` / `sleep` they are the process-wide shared limiters (real time).
    With them (tests driving a fake clock, or a benchmark), this object owns its
    limiters; hand the same instance to every client that should share them.
    """

    def __init__(self, seller_id: str, *, clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] | None = None, headroom: float = DEFAULT_HEADROOM) -> None:
        self.seller_id = seller_id
        self.clock = clock
        self.sleep = sleep
        self.headroom = headroom
        self._limiters: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()

    def plan(self, operation: str) -> UsagePlan:
        return USAGE_PLANS[operation]

    def get(self, operation: str) -> RateLimiter:
        with self._lock:
            limiter = self._limiters.get(operation)
            if limiter is None:
                plan = USAGE_PLANS[operation]
                rate = plan.rate_per_s * self.headroom
                if self.clock is None and self.sleep is None:
                    limiter = shared_limiter("amazon", f"{self.seller_id}/{operation}", rate_per_s=rate,
                                             burst=plan.burst)
                else:
                    limiter = RateLimiter(rate, plan.burst, clock=self.clock or time.monotonic,
                                          sleep=self.sleep or time.sleep)
                self._limiters[operation] = limiter
            return limiter

    def observe_rate_header(self, operation: str, value: str | None) -> None:
        """x-amzn-RateLimit-Limit says the rate Amazon applied (higher for some sellers)."""
        if not value:
            return
        try:
            rate = float(value)
        except ValueError:
            return
        if rate > 0:
            self.get(operation).observe(rate_per_s=rate * self.headroom)
