"""The HTTP plumbing every connector shares.

- `VendorClient`: an httpx client with the vendor's base URL (configuration, so the same
  connector talks to the vendor or to its sandbox), auth headers, a timeout, and NO
  retries: a failed call raises `VendorError` carrying the status and the vendor's
  Retry-After, and the engine's RetryPolicy decides (storeops.engine.retry).
- `RateLimiter`: a token bucket per vendor account, shared by every client of that
  account in the process, that waits *before* a request so we stay under the vendor's
  limit instead of collecting 429s. Connectors feed it what the vendor reports
  (Shopify's throttleStatus, X-Gorgias-Account-Api-Call-Limit, Retry-After).
"""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from storeops.core.errors import VendorError


class RateLimiter:
    """Token bucket: `burst` tokens, refilled at `rate_per_s`. Thread-safe."""

    def __init__(self, rate_per_s: float, burst: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.tokens = burst
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self.blocked_until = 0.0
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def acquire(self, cost: float = 1.0) -> float:
        """Wait until `cost` tokens are available and take them; returns seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                self._refill(now)
                if now >= self.blocked_until and self.tokens >= min(cost, self.burst):
                    self.tokens -= cost
                    return waited
                need = max(self.blocked_until - now, (min(cost, self.burst) - self.tokens) / self.rate)
            pause = max(need, 0.001)
            self.sleep(pause)
            waited += pause

    def observe(self, *, available: float | None = None, rate_per_s: float | None = None,
                retry_after_s: float | None = None) -> None:
        """Correct our view with what the vendor reported."""
        with self._lock:
            now = self.clock()
            self._refill(now)
            if rate_per_s:
                self.rate = rate_per_s
            if available is not None:
                self.tokens = min(self.tokens, available)
            if retry_after_s:
                self.blocked_until = max(self.blocked_until, now + retry_after_s)


_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(vendor: str, account: str, *, rate_per_s: float, burst: float) -> RateLimiter:
    """The one limiter for this vendor account in this process."""
    with _limiters_lock:
        key = (vendor, account)
        if key not in _limiters:
            _limiters[key] = RateLimiter(rate_per_s, burst)
        return _limiters[key]


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Retry-After / x-retry-after as seconds (vendors send seconds; HTTP dates are rare)."""
    for name in ("retry-after", "x-retry-after"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context (certifi's CAs) for every vendor client of the process: building it
    is most of the ~25 ms a new httpx client costs, and shared connectors are rebuilt often."""
    return httpx.create_ssl_context()


class VendorClient:
    """httpx with the vendor's base URL and auth; raises VendorError, never retries."""

    vendor = "vendor"

    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None,
                 auth: httpx.Auth | None = None, timeout_s: float = 30.0,
                 limiter: RateLimiter | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.calls = 0  # requests actually sent (benchmarks report API calls used)
        self.http = httpx.Client(base_url=self.base_url, headers=dict(headers or {}), auth=auth,
                                 timeout=timeout_s, transport=transport, verify=tls_context())
        self.shared = False

    def share(self) -> None:
        """Make this client long-lived and shared between threads: `close()` leaves it open
        (httpx clients are thread-safe; building one costs ~25 ms, mostly the TLS context)."""
        self.shared = True

    def close(self) -> None:
        if not self.shared:
            self.http.close()

    def request(self, method: str, path: str, *, cost: float = 1.0, **kwargs: Any) -> httpx.Response:
        if self.limiter is not None:
            self.limiter.acquire(cost)
        self.calls += 1
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise VendorError(self.vendor, f"timed out: {method} {path}") from exc
        except httpx.TransportError as exc:
            raise VendorError(self.vendor, f"network error: {method} {path}: {exc}") from exc
        if response.status_code >= 400:
            retry_after = retry_after_seconds(response.headers)
            if response.status_code == 429 and self.limiter is not None:
                self.limiter.observe(retry_after_s=retry_after or 1.0)
            raise VendorError(self.vendor, f"{method} {path} refused", status=response.status_code,
                              retry_after=retry_after, body=response.text[:2000])
        return response
