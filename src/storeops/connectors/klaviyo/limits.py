"""Staying under Klaviyo's per-endpoint rate limits, shared by every client of one API key.

Klaviyo limits each endpoint per account with two fixed windows, burst (1 s) and steady
(1 min) (https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling); each
operation's numbers are in its description in the spec (vendor-specs/klaviyo/
openapi-stable.json, "*Rate limits*:<br>Burst: `10/s`<br>Steady: `150/m`").

We do not know where Klaviyo's windows start, so we keep a sliding log per window: at most
`burst` requests in ANY 1 s and `steady` in ANY 60 s. That implies the fixed-window limit
whatever the alignment, so a lone client never earns a 429. Other processes using the
same key are seen through what Klaviyo reports: RateLimit-Remaining: 0 blocks until
RateLimit-Reset, and a 429's Retry-After blocks the endpoint for that long.

storeops.connectors.http.RateLimiter (one token bucket per account) cannot express two
windows per endpoint, hence this module.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tier:
    burst: int  # per 1 s
    steady: int  # per 60 s


XS = Tier(1, 15)
M = Tier(10, 150)
L = Tier(75, 750)
XL = Tier(350, 3500)

# Every endpoint this connector calls, with the tier its spec description names.
# tests/connectors/test_klaviyo_connector.py re-reads the spec and checks this table.
ENDPOINT_TIERS: dict[tuple[str, str], Tier] = {
    ("GET", "/api/accounts"): XS,
    ("POST", "/api/events"): XL,
    ("POST", "/api/event-bulk-create-jobs"): M,
    ("GET", "/api/events"): XL,
    ("GET", "/api/metrics"): M,
    ("GET", "/api/profiles"): L,
    ("PATCH", "/api/profiles/{id}"): L,
    ("POST", "/api/profile-import"): L,
    ("POST", "/api/profile-suppression-bulk-create-jobs"): L,
    ("GET", "/api/lists"): L,
    ("GET", "/api/lists/{id}/profiles"): L,
    ("POST", "/api/lists/{id}/relationships/profiles"): M,
    ("DELETE", "/api/lists/{id}/relationships/profiles"): M,
    ("GET", "/api/segments"): L,
    ("GET", "/api/catalog-items"): XL,
    ("POST", "/api/catalog-items"): L,
    ("PATCH", "/api/catalog-items/{id}"): L,
    ("POST", "/api/catalog-item-bulk-create-jobs"): L,
}

BURST_WINDOW_S = 1.0
STEADY_WINDOW_S = 60.0
# A hit still counts for this long past its window: float rounding and the server's window
# arithmetic must never see one request more than the limit.
MARGIN_S = 1e-3


class _Window:
    def __init__(self, limit: int, length_s: float) -> None:
        self.limit = limit
        self.length_s = length_s
        self.hits: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.hits and now - self.hits[0] >= self.length_s + MARGIN_S:
            self.hits.popleft()
        if len(self.hits) < self.limit:
            return 0.0
        return self.hits[len(self.hits) - self.limit] + self.length_s + MARGIN_S - now


class EndpointLimiter:
    """Burst and steady sliding windows for one (API key, endpoint). Thread-safe."""

    def __init__(self, tier: Tier, *, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.tier = tier
        self.clock = clock
        self.sleep = sleep
        self.windows = (_Window(tier.burst, BURST_WINDOW_S), _Window(tier.steady, STEADY_WINDOW_S))
        self.blocked_until = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot and take it; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                need = max(self.blocked_until - now, *(w.wait(now) for w in self.windows))
                if need <= 0:
                    for window in self.windows:
                        window.hits.append(now)
                    return waited
            pause = max(need, 1e-6)
            self.sleep(pause)
            waited += pause

    def block(self, seconds: float) -> None:
        with self._lock:
            self.blocked_until = max(self.blocked_until, self.clock() + seconds)


class KlaviyoRateLimits:
    """The limiters of one API key, one per endpoint, created on first use."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.clock = clock
        self.sleep = sleep
        self.endpoints: dict[tuple[str, str], EndpointLimiter] = {}
        self._lock = threading.Lock()

    def endpoint(self, method: str, template: str) -> EndpointLimiter:
        key = (method, template)
        with self._lock:
            if key not in self.endpoints:
                # An endpoint missing from the table gets the smallest tier: slow, never throttled.
                tier = ENDPOINT_TIERS.get(key, XS)
                self.endpoints[key] = EndpointLimiter(tier, clock=self.clock, sleep=self.sleep)
            return self.endpoints[key]

    def acquire(self, method: str, template: str) -> float:
        return self.endpoint(method, template).acquire()

    def observe(self, method: str, template: str, headers: Mapping[str, str]) -> None:
        """Follow Klaviyo's RateLimit-Remaining / RateLimit-Reset (steady window)."""
        remaining = _leading_int(headers.get("ratelimit-remaining"))
        reset = _leading_int(headers.get("ratelimit-reset"))
        if remaining == 0 and reset:
            self.endpoint(method, template).block(float(reset))

    def throttled(self, method: str, template: str, retry_after_s: float | None) -> None:
        self.endpoint(method, template).block(retry_after_s if retry_after_s is not None else 1.0)


def _leading_int(value: str | None) -> int | None:
    # RFC-draft style values may carry parameters ("750;w=60"); the number comes first.
    if not value:
        return None
    head = value.split(",")[0].split(";")[0].strip()
    return int(head) if head.isdigit() else None


_shared: dict[str, KlaviyoRateLimits] = {}
_shared_lock = threading.Lock()


def shared_rate_limits(api_key: str) -> KlaviyoRateLimits:
    """The one set of limiters for this API key in this process (keyed by a hash of it)."""
    key = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    with _shared_lock:
        if key not in _shared:
            _shared[key] = KlaviyoRateLimits()
        return _shared[key]
