"""The ShipBob sandbox: ShipBob's Developer API 2026-01 as documented, on a loopback port.

Auth: `Authorization: Bearer <personal access token>` (developer.shipbob.com/auth); a
wrong or missing token gets 401 with no body and `WWW-Authenticate: Bearer`, as the spec
declares ("Authorization missing or invalid", no content) -- except the inventory service,
whose 401 carries Inventory.ProblemDetails.

Rate limit (developer.shipbob.com/rate-limit): "150 requests per-minute using a sliding
window ... per user, per application"; over it, 429 with `x-retry-after: <seconds>` and
`x-remaining-calls: 0` and the body {"statusCode": 429, "message": "Rate limit is exceeded.
Try again in N seconds."}. Every authenticated answer carries `x-remaining-calls`.

Control routes besides the shared ones (storeops.sandbox.common):
    POST /_sandbox/advance    every moving shipment and return takes its next step now
    POST /_sandbox/returns/{id}/receive  that return arrives and completes now (routes_returns.py)
    POST /_sandbox/inventory  {"sku", "fc_id", "delta"}: a stock receipt or adjustment.
                              ShipBob 2026-01 has no inventory webhook topic (Webhooks.Topics
                              in the spec), so none is sent; waiting shipments retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from storeops.sandbox.common import SlidingWindow, VendorSandbox
from storeops.sandbox.shipbob import views
from storeops.sandbox.shipbob.deliveries import WebhookPublisher
from storeops.sandbox.shipbob.fulfillment import Warehouse
from storeops.sandbox.shipbob.http import ApiError, json_body, problem
from storeops.sandbox.shipbob.records import Store

RATE_LIMIT = 150
RATE_WINDOW_S = 60.0

Handler = Callable[[Request], Awaitable[Response]]


class ShipbobSandbox(VendorSandbox):
    name = "shipbob"

    def __init__(self, *, seed: int = 0, time_scale: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # Created before the base class seeds state; it outlives resets (its task runs
        # for the server's lifetime).
        self.publisher = WebhookPublisher(self)
        self._wake = asyncio.Event()
        self._progress_task: asyncio.Task[None] | None = None
        super().__init__(seed=seed, time_scale=time_scale, clock=clock)

    # --- VendorSandbox hooks ---------------------------------------------------------
    def seed_state(self) -> None:
        self.store = Store(self.rng)
        self.warehouse = Warehouse(self.store, time_scale=self.time_scale, emit=self._emit)
        self.windows: dict[str, SlidingWindow] = {}

    def credentials(self) -> dict[str, str]:
        return {"token": self.store.token, "webhook_secret": self.store.webhook_secret}

    def dump_state(self) -> dict[str, Any]:
        store = self.store
        return {
            "fulfillment_centers": [views.fulfillment_center(fc) for fc in store.fulfillment_centers],
            "products": len(store.products),
            "variants": len(store.variants_by_sku),
            "orders": [views.order(store, o) for o in store.orders.values()],
            "returns": [views.return_order(store, r) for r in store.returns.values()],
            "webhooks": [{**views.subscription(s), "secret": s.secret} for s in store.subscriptions.values()],
            "deliveries": self.publisher.published[-200:],
            "delivery_attempts": self.publisher.sender.log[-200:],
        }

    def error_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            return _throttle_body(self.faults.retry_after_s)
        return {"type": "about:blank", "title": "injected fault", "status": status}

    def fault_headers(self, status: int) -> dict[str, str]:
        # ShipBob names its Retry-After `x-retry-after` (developer.shipbob.com/rate-limit).
        if status == 429:
            return {"x-retry-after": f"{self.faults.retry_after_s:g}", "x-remaining-calls": "0"}
        return {}

    def routes(self) -> list[BaseRoute]:
        from storeops.sandbox.shipbob.routes_catalog import catalog_routes
        from storeops.sandbox.shipbob.routes_orders import order_routes
        from storeops.sandbox.shipbob.routes_returns import return_routes
        from storeops.sandbox.shipbob.routes_webhooks import webhook_routes

        control = [
            Route("/_sandbox/advance", self._advance, methods=["POST"]),
            Route("/_sandbox/inventory", self._adjust_inventory, methods=["POST"]),
        ]
        return [*control, *catalog_routes(self), *order_routes(self), *return_routes(self), *webhook_routes(self)]

    async def on_startup(self) -> None:
        await self.publisher.sender.start()
        self._wake = asyncio.Event()
        self._progress_task = asyncio.create_task(self._progress())

    async def on_shutdown(self) -> None:
        if self._progress_task is not None:
            self._progress_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._progress_task
            self._progress_task = None
        await self.publisher.sender.stop()

    # --- the vendor API's front door --------------------------------------------------
    def api(self, handler: Handler) -> Handler:
        """Auth, then the per-token sliding window, then the handler."""

        async def endpoint(request: Request) -> Response:
            token = self._authenticate(request)
            if token is None:
                return _unauthorized(request.url.path)
            window = self.windows.setdefault(token, SlidingWindow(RATE_LIMIT, RATE_WINDOW_S, clock=self.clock))
            wait = window.take()
            if wait > 0:
                self.stats.throttled += 1
                seconds = max(1, math.ceil(wait))
                return JSONResponse(_throttle_body(seconds), status_code=429,
                                    headers={"x-retry-after": str(seconds), "x-remaining-calls": "0"})
            try:
                response = await handler(request)
            except ApiError as exc:
                response = exc.response()
            response.headers["x-remaining-calls"] = str(max(0, RATE_LIMIT - len(window.hits)))
            return response

        return endpoint

    def _authenticate(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        return token if hmac.compare_digest(token.encode(), self.store.token.encode()) else None

    def channel_for_write(self, request: Request, scope: str) -> int:
        """The shipbob_channel_id header POST /order and POST /return require."""
        raw = request.headers.get("shipbob_channel_id")
        if not raw:
            raise ApiError(400, {"shipbob_channel_id": ["The shipbob_channel_id header is required."]})
        try:
            channel_id = int(raw)
        except ValueError:
            raise ApiError(400, {"shipbob_channel_id": [f"The value '{raw}' is not valid."]}) from None
        channel = next((c for c in views.channels() if c["id"] == channel_id), None)
        if channel is None or scope not in channel["scopes"]:
            raise ApiError(403)
        return channel_id

    # --- background progress and events ---------------------------------------------
    def _emit(self, topic: str, payload: dict[str, Any]) -> None:
        self.publisher.publish(self.store, topic, payload)

    def wake(self) -> None:
        self._wake.set()

    async def _progress(self) -> None:
        while True:
            self.warehouse.run_due()
            due = self.warehouse.next_due()
            wait = 0.5 if due is None else min(0.5, max(0.005, due - time.monotonic()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    # --- control routes --------------------------------------------------------------
    async def _advance(self, _: Request) -> Response:
        return JSONResponse({"advanced": self.warehouse.advance_all()})

    async def _adjust_inventory(self, request: Request) -> Response:
        try:
            body = await json_body(request, errors="problem")
            sku, fc_id, delta = str(body.get("sku", "")), body.get("fc_id"), body.get("delta")
            if not isinstance(fc_id, int) or not isinstance(delta, int):
                raise problem(422, "Invalid adjustment", "fc_id and delta must be integers")
            variant = self.store.variants_by_sku.get(sku)
            if variant is None or self.store.fc(fc_id) is None:
                raise problem(404, "Not Found", f"no SKU {sku!r} at fulfillment center {fc_id}")
            stock = self.store.stock[(variant.inventory_id, fc_id)]
            if stock.on_hand + delta < 0:
                raise problem(422, "Invalid adjustment", f"on hand would be {stock.on_hand + delta}")
        except ApiError as exc:
            return exc.response()
        stock.on_hand += delta
        released = self.warehouse.retry_exceptions()
        self.wake()
        return JSONResponse({"sku": sku, "fc_id": fc_id, "inventory_id": variant.inventory_id,
                             "on_hand": stock.on_hand, "committed": stock.committed,
                             "fulfillable": stock.fulfillable, "released_shipments": released})


def _throttle_body(seconds: float) -> dict[str, Any]:
    return {"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {seconds:g} seconds."}


def _unauthorized(path: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"}
    if path.startswith(("/2026-01/inventory-level", "/2026-01/inventory")):
        return JSONResponse({"type": "https://tools.ietf.org/html/rfc9110#section-15.5.2", "title": "Unauthorized",
                             "status": 401}, status_code=401, headers=headers)
    return Response(status_code=401, headers=headers)
