"""SP-API usage plans: one token bucket per selling partner per operation.

The numbers are the "Usage Plan" tables in each operation's description in Amazon's
models (shared/vendor-specs/amazon-sp-api/*.json). They differ per operation: e.g.
getListingsItem is 5 req/s with burst 10 but patchListingsItem is 5 req/s with burst 5,
and createFeed refills one request every 2 minutes. Amazon applies them per selling
partner + application pair; this sandbox has one application, so per seller.

A refused request gets 429 with the body Amazon sends (seen in amzn/selling-partner-api-
models#4686): {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota
for the requested resource.", "details": ""}]} and no Retry-After header. Successful
responses carry x-amzn-RateLimit-Limit (the rate, requests per second); per the models
429/403/5xx responses declare only x-amzn-RequestId, so they carry no rate header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class UsagePlan:
    rate_per_s: float
    burst: int

    @property
    def header(self) -> str:
        """x-amzn-RateLimit-Limit as Amazon writes it ("5.0", "0.0083")."""
        return repr(float(self.rate_per_s))


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

_SEGMENT = r"[^/]+"
# (method, path pattern, operationId); used to name the operation of a request before
# routing (injected faults) as well as by the routes themselves.
_OPERATIONS: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{pattern}$"), op)
    for method, pattern, op in [
        ("GET", f"/listings/2021-08-01/items/{_SEGMENT}", "searchListingsItems"),
        ("GET", f"/listings/2021-08-01/items/{_SEGMENT}/.+", "getListingsItem"),
        ("PUT", f"/listings/2021-08-01/items/{_SEGMENT}/.+", "putListingsItem"),
        ("PATCH", f"/listings/2021-08-01/items/{_SEGMENT}/.+", "patchListingsItem"),
        ("DELETE", f"/listings/2021-08-01/items/{_SEGMENT}/.+", "deleteListingsItem"),
        ("GET", "/fba/inventory/v1/summaries", "getInventorySummaries"),
        ("POST", "/feeds/2021-06-30/documents", "createFeedDocument"),
        ("GET", f"/feeds/2021-06-30/documents/{_SEGMENT}", "getFeedDocument"),
        ("POST", "/feeds/2021-06-30/feeds", "createFeed"),
        ("GET", f"/feeds/2021-06-30/feeds/{_SEGMENT}", "getFeed"),
        ("DELETE", f"/feeds/2021-06-30/feeds/{_SEGMENT}", "cancelFeed"),
    ]
]


def operation_for(method: str, path: str) -> str | None:
    for op_method, pattern, op in _OPERATIONS:
        if op_method == method and pattern.match(path):
            return op
    return None


class _Bucket:
    """Token bucket; a hair of tolerance so float rounding between two buckets that
    share one clock (ours and the connector's) cannot turn an exact fit into a 429."""

    def __init__(self, plan: UsagePlan, now: float) -> None:
        self.plan = plan
        self.tokens = float(plan.burst)
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(float(self.plan.burst), self.tokens + (now - self.updated) * self.plan.rate_per_s)
        self.updated = now
        if self.tokens >= 1 - 1e-6:
            self.tokens -= 1
            return True
        return False


class Throttle:
    """The buckets of every (seller, operation) pair, on the sandbox's (raw) clock:
    rate limits are real, never scaled by time_scale."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.buckets: dict[tuple[str, str], _Bucket] = {}

    def allow(self, seller_id: str, operation: str) -> bool:
        now = self.clock()
        key = (seller_id, operation)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = _Bucket(USAGE_PLANS[operation], now)
        return bucket.take(now)
