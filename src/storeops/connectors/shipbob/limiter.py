"""ShipBob's rate limit, kept on our side: 150 requests in any 60 s, per token.

developer.shipbob.com/rate-limit: "API calls will be rate-limited to 150 requests
per-minute using a sliding window, and will be totalled per user, per application across
calls to any of the ShipBob APIs." A token bucket cannot honour that: a bucket of 150 that
refills at 2.5/s lets 150 through at once and then 2.5/s more, i.e. up to ~300 in one
minute. So we remember when each of the last 150 requests started and wait until the
oldest is more than a window old.

`margin_s` widens our window a little: the server stamps a request when it arrives, we
stamp it when we send it, and a later request that travels faster would otherwise land
inside ShipBob's 60 s.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable

from storeops.connectors.http import RateLimiter

LIMIT = 150
WINDOW_S = 60.0
MARGIN_S = 1.0


class SlidingWindowLimiter(RateLimiter):
    """At most `limit` acquisitions in any `window_s + margin_s` seconds. Thread-safe.

    Also honours what ShipBob says: `x-retry-after` blocks until then, and
    `x-remaining-calls` lowers our count of what is left in the window.
    """

    def __init__(self, limit: int = LIMIT, window_s: float = WINDOW_S, *, margin_s: float = MARGIN_S,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(limit / window_s, float(limit), clock=clock, sleep=sleep)
        self.limit = limit
        self.span_s = window_s + margin_s
        self.hits: deque[float] = deque()
        self._window_lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self.hits and self.hits[0] <= now - self.span_s:
            self.hits.popleft()

    @property
    def remaining(self) -> int:
        with self._window_lock:
            self._expire(self.clock())
            return self.limit - len(self.hits)

    def acquire(self, cost: float = 1.0) -> float:
        """Wait until a request may start, and count it; returns seconds waited."""
        slots = min(self.limit, max(1, int(cost)))
        waited = 0.0
        while True:
            with self._window_lock:
                now = self.clock()
                self._expire(now)
                if now >= self.blocked_until and len(self.hits) + slots <= self.limit:
                    self.hits.extend([now] * slots)
                    return waited
                frees_at = self.hits[len(self.hits) + slots - self.limit - 1] + self.span_s \
                    if len(self.hits) + slots > self.limit else now
                need = max(self.blocked_until, frees_at) - now
            pause = max(need, 0.001)
            self.sleep(pause)
            waited += pause

    def observe(self, *, available: float | None = None, rate_per_s: float | None = None,
                retry_after_s: float | None = None) -> None:
        with self._window_lock:
            now = self.clock()
            self._expire(now)
            if retry_after_s:
                self.blocked_until = max(self.blocked_until, now + retry_after_s)
            if available is not None:
                # ShipBob counts calls we did not make (other processes, other apps of the
                # same user): take its word by filling our window up to match.
                while self.limit - len(self.hits) > max(0, int(available)):
                    self.hits.append(now)


_shared: dict[str, SlidingWindowLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(token: str) -> SlidingWindowLimiter:
    """The one limiter for this token in this process (keyed by a hash, not the token)."""
    key = hashlib.sha256(token.encode()).hexdigest()[:24]
    with _shared_lock:
        if key not in _shared:
            _shared[key] = SlidingWindowLimiter()
        return _shared[key]
