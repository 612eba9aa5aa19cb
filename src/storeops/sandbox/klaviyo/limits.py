"""Klaviyo's per-endpoint rate limits: two fixed windows, burst (1 s) and steady (1 min).

Klaviyo, "Rate limits, status codes, and errors"
(https://developers.klaviyo.com/en/docs/rate_limits_and_error_handling): endpoints are
limited per account with "a fixed-window rate limiting algorithm with two distinct
windows: burst (1-second window) and steady (1-minute window)"; either one answers 429,
and a 429 carries `Retry-After` (integer seconds) instead of the RateLimit-* headers that
every other response carries for the steady window.

The numbers are the ones each operation's description gives in the spec
(vendor-specs/klaviyo/openapi-stable.json, "*Rate limits*:<br>Burst: `350/s`<br>Steady:
`3500/m`", also in `x-klaviyo-ratelimit`). Some operations name a lower tier "when using
the `additional-fields[profile]=predictive_analytics` parameter" (or an include); those are
VARIANTS. tests/sandbox/test_klaviyo_sandbox.py re-reads the spec and checks this table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tier:
    burst: int  # requests per 1-second window
    steady: int  # requests per 60-second window


XS = Tier(1, 15)
M = Tier(10, 150)
L = Tier(75, 750)
XL = Tier(350, 3500)

BURST_WINDOW_S = 1.0
STEADY_WINDOW_S = 60.0

# (method, path template) -> tier, for every operation the sandbox serves.
TIERS: dict[tuple[str, str], Tier] = {
    ("GET", "/api/accounts"): XS,
    ("GET", "/api/events"): XL,
    ("POST", "/api/events"): XL,
    ("POST", "/api/event-bulk-create-jobs"): M,
    ("GET", "/api/metrics"): M,
    ("GET", "/api/profiles"): L,
    ("POST", "/api/profiles"): L,
    ("GET", "/api/profiles/{id}"): L,
    ("PATCH", "/api/profiles/{id}"): L,
    ("POST", "/api/profile-import"): L,
    ("POST", "/api/profile-suppression-bulk-create-jobs"): L,
    ("GET", "/api/lists"): L,
    ("GET", "/api/lists/{id}"): L,
    ("GET", "/api/lists/{id}/profiles"): L,
    ("GET", "/api/lists/{id}/relationships/profiles"): L,
    ("POST", "/api/lists/{id}/relationships/profiles"): M,
    ("DELETE", "/api/lists/{id}/relationships/profiles"): M,
    ("GET", "/api/segments"): L,
    ("GET", "/api/catalog-items"): XL,
    ("POST", "/api/catalog-items"): L,
    ("GET", "/api/catalog-items/{id}"): XL,
    ("PATCH", "/api/catalog-items/{id}"): L,
    ("POST", "/api/catalog-item-bulk-create-jobs"): L,
    ("GET", "/api/catalog-item-bulk-create-jobs/{job_id}"): L,
    ("POST", "/api/catalog-item-bulk-update-jobs"): L,
    ("GET", "/api/catalog-item-bulk-update-jobs/{job_id}"): L,
}

# Lower tiers "when using the `<param>=<value>` parameter": (param, value, tier). Such
# requests are counted in their own windows (Klaviyo calls it a separate limit).
VARIANTS: dict[tuple[str, str], list[tuple[str, str, Tier]]] = {
    ("GET", "/api/profiles"): [("additional-fields[profile]", "predictive_analytics", M)],
    ("GET", "/api/profiles/{id}"): [("include", "list", XS), ("include", "segment", XS)],
    ("GET", "/api/lists/{id}"): [("additional-fields[list]", "profile_count", XS)],
    ("GET", "/api/lists/{id}/profiles"): [("additional-fields[profile]", "predictive_analytics", M)],
    ("GET", "/api/lists/{id}/relationships/profiles"): [("additional-fields[profile]", "predictive_analytics", M)],
}


def _uses(query: Mapping[str, str], param: str, value: str) -> bool:
    # The doc says `include=list` while the include enum spells it "lists": accept both.
    values = {v.strip() for v in query.get(param, "").split(",")}
    return value in values or f"{value}s" in values


def tier_for(method: str, template: str, query: Mapping[str, str]) -> tuple[str, Tier]:
    """The bucket name and tier a request counts against."""
    key = (method, template)
    for param, value, tier in VARIANTS.get(key, []):
        if _uses(query, param, value):
            return f"{method} {template} [{param}={value}]", tier
    return f"{method} {template}", TIERS[key]


@dataclass(frozen=True, slots=True)
class Verdict:
    retry_after_s: int  # 0 = allowed
    limit: int  # steady limit (RateLimit-Limit)
    remaining: int  # steady requests left in this window (RateLimit-Remaining)
    reset_s: int  # seconds until the steady window resets (RateLimit-Reset)


class FixedWindows:
    """Burst and steady fixed windows per (API key, bucket). Only accepted requests count."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        # (key, bucket) -> [burst window index, burst count, steady window index, steady count]
        self.counters: dict[tuple[str, str], list[int]] = {}

    def take(self, api_key: str, bucket: str, tier: Tier) -> Verdict:
        now = self.clock()
        burst_index = math.floor(now / BURST_WINDOW_S)
        steady_index = math.floor(now / STEADY_WINDOW_S)
        counter = self.counters.setdefault((api_key, bucket), [burst_index, 0, steady_index, 0])
        if counter[0] != burst_index:
            counter[0], counter[1] = burst_index, 0
        if counter[2] != steady_index:
            counter[2], counter[3] = steady_index, 0
        steady_reset = (steady_index + 1) * STEADY_WINDOW_S - now
        waits = []
        if counter[1] >= tier.burst:
            waits.append((burst_index + 1) * BURST_WINDOW_S - now)
        if counter[3] >= tier.steady:
            waits.append(steady_reset)
        if waits:
            # Klaviyo's Retry-After is an integer; rounding up keeps "wait as told" sufficient.
            return Verdict(max(1, math.ceil(max(waits))), tier.steady, 0, math.ceil(steady_reset))
        counter[1] += 1
        counter[3] += 1
        return Verdict(0, tier.steady, tier.steady - counter[3], math.ceil(steady_reset))
