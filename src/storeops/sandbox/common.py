"""What every vendor sandbox shares: control routes, fault injection, rate limiters,
webhook delivery with retries, and a seeded random source.

A sandbox plays the vendor: it imports nothing from flows, domain, engine or web, and
it signs its webhooks with its own code (not our connectors'), so the two keep each
other honest.

Control routes (not part of the vendor's API):
    GET  /_sandbox/state    JSON dump of the sandbox's records
    GET  /_sandbox/stats    requests by endpoint, throttled count, webhooks sent / failed
    POST /_sandbox/faults   {"error_rate", "statuses", "latency_ms", "timeout_rate",
                             "lost_response_rate", "webhook_duplicate_rate",
                             "webhook_reorder", "webhook_delay_s"}
    POST /_sandbox/reset    back to the seeded start state
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route


class Faults(BaseModel):
    """Misbehaviour a test asks for. Rates are probabilities per request / delivery."""

    error_rate: float = Field(default=0.0, ge=0, le=1)
    statuses: list[int] = Field(default_factory=lambda: [500])
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    timeout_rate: float = Field(default=0.0, ge=0, le=1)
    # The request is carried out, then the answer is lost (the client sees a 504 from a
    # proxy, as after a gateway timeout): the case a vendor's idempotency exists for.
    lost_response_rate: float = Field(default=0.0, ge=0, le=1)
    webhook_duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    webhook_reorder: bool = False
    webhook_delay_s: float = Field(default=0.0, ge=0, le=3600)
    # Deterministic faults for tests: the next N API requests fail with statuses[0].
    fail_next: int = Field(default=0, ge=0)
    retry_after_s: float = Field(default=1.0, ge=0, le=3600)


@dataclass
class Stats:
    requests: Counter[str] = field(default_factory=Counter)
    # "<method> <route> <status>" as the client saw it (a lost response counts as its 504).
    responses: Counter[str] = field(default_factory=Counter)
    throttled: int = 0
    injected_errors: int = 0
    webhooks_sent: int = 0
    webhooks_failed: int = 0
    webhooks_given_up: int = 0
    lost_responses: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "requests_total": sum(self.requests.values()),
            "responses": dict(self.responses),
            "throttled": self.throttled,
            "injected_errors": self.injected_errors,
            "webhooks_sent": self.webhooks_sent,
            "webhooks_failed": self.webhooks_failed,
            "webhooks_given_up": self.webhooks_given_up,
            "lost_responses": self.lost_responses,
        }


class LeakyBucket:
    """Capacity `capacity`, drains at `leak_per_s`. `take(n)` returns seconds to wait (0 = ok).

    Shopify's GraphQL cost limit and Gorgias's 40-per-20-s limit are leaky buckets."""

    def __init__(self, capacity: float, leak_per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.leak_per_s = leak_per_s
        self.clock = clock
        self.level = 0.0
        self.updated = clock()

    def _leak(self) -> None:
        now = self.clock()
        self.level = max(0.0, self.level - (now - self.updated) * self.leak_per_s)
        self.updated = now

    @property
    def available(self) -> float:
        self._leak()
        return self.capacity - self.level

    def take(self, amount: float = 1.0) -> float:
        self._leak()
        if self.level + amount <= self.capacity:
            self.level += amount
            return 0.0
        return (self.level + amount - self.capacity) / self.leak_per_s


class SlidingWindow:
    """At most `limit` requests in any `window_s` seconds (ShipBob: 150 per minute)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.hits: deque[float] = deque()

    def take(self) -> float:
        now = self.clock()
        while self.hits and self.hits[0] <= now - self.window_s:
            self.hits.popleft()
        if len(self.hits) < self.limit:
            self.hits.append(now)
            return 0.0
        return self.hits[0] + self.window_s - now


class TokenBucket:
    """Burst `burst`, refilled at `rate_per_s` (Amazon SP-API, Klaviyo tiers)."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.updated = clock()

    def take(self) -> float:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class Delivery:
    url: str
    body: bytes
    headers: dict[str, str]
    attempt: int = 0
    not_before: float = 0.0


class WebhookSender:
    """Delivers webhooks like a vendor: retries with backoff, honours fault settings.

    `retry_delays_s` is the vendor's schedule (Shopify: 8 retries over ~4 hours); the
    sandbox's `time_scale` divides every delay, so hours pass in seconds in tests.
    `sign` is called per attempt and may add headers (signatures, timestamps).
    """

    MAX_IN_FLIGHT = 32

    def __init__(
        self,
        sandbox: VendorSandbox,
        *,
        retry_delays_s: list[float],
        sign: Callable[[Delivery], dict[str, str]] | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self.sandbox = sandbox
        self.retry_delays_s = retry_delays_s
        self.sign = sign
        self.timeout_s = timeout_s
        self.queue: list[Delivery] = []
        self.log: list[dict[str, Any]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(self.MAX_IN_FLIGHT)
        self._in_flight: set[asyncio.Task[None]] = set()

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        faults = self.sandbox.faults
        delay = faults.webhook_delay_s / self.sandbox.time_scale
        copies = 2 if self.sandbox.rng.random() < faults.webhook_duplicate_rate else 1
        for _ in range(copies):
            self.queue.append(Delivery(url, body, dict(headers), not_before=time.monotonic() + delay))
        if faults.webhook_reorder and len(self.queue) > 1:
            self.sandbox.rng.shuffle(self.queue)
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._client = httpx.AsyncClient(timeout=self.timeout_s, limits=httpx.Limits(
                max_connections=self.MAX_IN_FLIGHT, max_keepalive_connections=self.MAX_IN_FLIGHT))
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._in_flight):
            task.cancel()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=5)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until nothing is queued (tests)."""
        deadline = time.monotonic() + timeout_s
        while (self.queue or self._in_flight) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            due: list[Delivery] = []
            waiting: list[Delivery] = []
            for delivery in self.queue:
                (due if delivery.not_before <= now else waiting).append(delivery)
            if not due:
                self._wake.clear()
                wait = min((d.not_before for d in self.queue), default=now + 1.0) - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, min(wait, 1.0)))
                continue
            self.queue = waiting
            for delivery in due:
                # At most MAX_IN_FLIGHT deliveries at a time, started in queue order: handing
                # thousands at once to one httpx pool made its request assignment quadratic
                # (measured: the sandbox spent its time in httpcore's pool, checkouts timed out).
                await self._slots.acquire()
                task = asyncio.create_task(self._attempt_released(delivery))
                self._in_flight.add(task)
                task.add_done_callback(self._in_flight.discard)

    async def _attempt_released(self, delivery: Delivery) -> None:
        try:
            await self._attempt(delivery)
        finally:
            self._slots.release()

    async def _attempt(self, delivery: Delivery) -> None:
        assert self._client is not None
        headers = {**delivery.headers, **(self.sign(delivery) if self.sign else {})}
        ok = False
        status: int | None = None
        try:
            response = await self._client.post(delivery.url, content=delivery.body, headers=headers)
            status = response.status_code
            ok = 200 <= status < 300
        except httpx.HTTPError:
            ok = False
        stats = self.sandbox.stats
        self.log.append({"url": delivery.url, "attempt": delivery.attempt, "status": status, "ok": ok})
        if ok:
            stats.webhooks_sent += 1
            return
        stats.webhooks_failed += 1
        if delivery.attempt >= len(self.retry_delays_s):
            stats.webhooks_given_up += 1
            return
        wait = self.retry_delays_s[delivery.attempt] / self.sandbox.time_scale
        delivery.attempt += 1
        delivery.not_before = time.monotonic() + wait
        self.queue.append(delivery)
        self._wake.set()


ErrorBody = Callable[[int], dict[str, Any]]


def default_error_body(status: int) -> dict[str, Any]:
    return {"errors": [{"status": str(status), "detail": "injected fault"}]}


class VendorSandbox:
    """Base for one vendor's sandbox. Subclasses add their routes and records.

    Subclasses implement `routes()`, `seed_state()` and `dump_state()`, and may
    override `error_body(status)` to answer injected faults in the vendor's error shape.
    """

    name = "vendor"

    def __init__(self, *, seed: int = 0, time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # Rate limiters read `self.clock`, so a test can share a fake clock with the
        # connector's limiter and check real limits without waiting real minutes.
        self.clock = clock
        self.seed = seed
        self.time_scale = max(time_scale, 1e-9)
        self.rng = random.Random(seed)
        self.faults = Faults()
        self.stats = Stats()
        self.base_url = ""  # set by the runner once the port is known
        self.app = self._build_app()
        self.seed_state()

    # --- for subclasses -------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        return []

    def seed_state(self) -> None:
        """Create the start state (called at start and on reset)."""

    def dump_state(self) -> dict[str, Any]:
        return {}

    def error_body(self, status: int) -> dict[str, Any]:
        return default_error_body(status)

    def credentials(self) -> dict[str, str]:
        return {}

    def describe(self) -> dict[str, Any]:
        """This sandbox's entry in the JSON line `storeops sandbox run` prints."""
        return {"url": self.base_url, "credentials": self.credentials()}

    async def on_startup(self) -> None:
        """Start background tasks (webhook senders, shipment progress)."""

    async def on_shutdown(self) -> None:
        """Stop background tasks."""

    # --- shared -------------------------------------------------------------------------
    def reset(self) -> None:
        self.rng = random.Random(self.seed)
        self.faults = Faults()
        self.stats = Stats()
        self.seed_state()

    def _build_app(self) -> Starlette:
        async def state(_: Request) -> Response:
            return JSONResponse(self.dump_state())

        async def stats(_: Request) -> Response:
            return JSONResponse(self.stats.as_dict())

        async def faults(request: Request) -> Response:
            try:
                self.faults = Faults.model_validate(await request.json())
            except Exception as exc:  # noqa: BLE001 - answer with the reason
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse(self.faults.model_dump())

        async def reset(_: Request) -> Response:
            self.reset()
            return JSONResponse({"reset": True})

        control = [
            Route("/_sandbox/state", state, methods=["GET"]),
            Route("/_sandbox/stats", stats, methods=["GET"]),
            Route("/_sandbox/faults", faults, methods=["POST"]),
            Route("/_sandbox/reset", reset, methods=["POST"]),
        ]
        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            await self.on_startup()
            try:
                yield
            finally:
                await self.on_shutdown()

        app = Starlette(routes=[*control, *self.routes()], lifespan=lifespan)
        app.add_middleware(_FaultMiddleware, sandbox=self)
        return app

    async def maybe_fault(self, request: Request) -> Response | None:
        """Apply latency / timeout / error faults to a vendor API request."""
        faults = self.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.timeout_rate and self.rng.random() < faults.timeout_rate:
            # Hang like an overloaded server: the client's timeout fires first.
            await asyncio.sleep(60)
            return JSONResponse(self.error_body(504), status_code=504)
        status: int | None = None
        if faults.fail_next > 0:
            faults.fail_next -= 1
            status = (faults.statuses or [500])[0]
        elif faults.error_rate and self.rng.random() < faults.error_rate:
            status = self.rng.choice(faults.statuses or [500])
        if status is None:
            return None
        self.stats.injected_errors += 1
        if status == 429:
            self.stats.throttled += 1
        return JSONResponse(self.error_body(status), status_code=status, headers=self.fault_headers(status))

    def fault_headers(self, status: int) -> dict[str, str]:
        """Headers of an injected error; vendors name Retry-After differently."""
        return {"Retry-After": f"{self.faults.retry_after_s:g}"} if status == 429 else {}


class _FaultMiddleware(BaseHTTPMiddleware):
    def __init__(self, app: Any, sandbox: VendorSandbox) -> None:
        super().__init__(app)
        self.sandbox = sandbox

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if path.startswith("/_sandbox/"):
            return await call_next(request)
        route = _route_name(request)
        sandbox = self.sandbox
        sandbox.stats.requests[f"{request.method} {route}"] += 1
        response = await sandbox.maybe_fault(request)
        if response is None:
            response = await call_next(request)
            if sandbox.faults.lost_response_rate and sandbox.rng.random() < sandbox.faults.lost_response_rate:
                sandbox.stats.lost_responses += 1
                sandbox.stats.responses[f"{request.method} {route} {response.status_code} (lost)"] += 1
                return JSONResponse(sandbox.error_body(504), status_code=504)
        sandbox.stats.responses[f"{request.method} {route} {response.status_code}"] += 1
        return response


def _route_name(request: Request) -> str:
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match.name == "FULL":
            return getattr(route, "path", request.url.path)
    return request.url.path


Handler = Callable[[Request], Awaitable[Response]]
