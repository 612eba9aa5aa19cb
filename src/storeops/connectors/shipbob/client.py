"""Our client for ShipBob's Developer API, version 2026-01.

- Paths carry the version (shared/vendor-specs/shipbob/openapi-2026-01.json:
  /2026-01/order, /2026-01/inventory-level, ...); the base URL is configuration, so the
  same client talks to https://api.shipbob.com, https://sandbox-api.shipbob.com or our
  sandbox.
- Auth: `Authorization: Bearer <personal access token>` (developer.shipbob.com/auth).
  Creating orders and returns also needs the `shipbob_channel_id` header; "First you should
  use your PAT to hit the GET Channel endpoint, so you can use your channel ID in the
  headers of subsequent API calls" -- we do that once, lazily.
- Rate limit: a SlidingWindowLimiter shared by every client of the token (limiter.py);
  429s carry `x-retry-after`, which storeops.connectors.http.retry_after_seconds reads into
  VendorError.retry_after for the engine's RetryPolicy.
- Paging differs by service: products, inventory and returns answer with a `next` URL
  ("URL to retrieve the next page of results. Null if on the last page."), which we follow;
  orders take Page/Limit (Limit at most 250) and answer with a bare array.
- No retries here (the engine owns them). create_order and create_return are idempotent
  on reference_id instead: ShipBob refuses a second order with the same reference_id with
  422 (developer.shipbob.com/errors), and we answer with the order that already exists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from storeops.connectors.http import RateLimiter, VendorClient
from storeops.connectors.shipbob.limiter import shared_limiter
from storeops.connectors.shipbob.models import InventoryLevel, OrderLine, OrderType, Recipient, ReturnItem
from storeops.connectors.shipbob.webhooks import ShipbobWebhookVerifier
from storeops.core.errors import ConfigError, VendorError

API_VERSION = "2026-01"
DEFAULT_BASE_URL = "https://api.shipbob.com"
MAX_PAGE_SIZE = 250  # "PageSize 1-250" (products), Limit maximum 250 (orders)
MAX_TRACKING_IDS = 25  # GET /2026-01/shipments-tracking: "between 1 and 25 shipment IDs"
MAX_PAGES = 100_000  # a runaway `next` loop stops here

# What storeops listens to (Webhooks.Topics in the spec): shipments leaving, arriving,
# stuck or cancelled, and returns finished.
SUBSCRIPTION_TOPICS: tuple[str, ...] = (
    "order.shipped",
    "order.shipment.delivered",
    "order.shipment.exception",
    "order.shipment.on_hold",
    "order.shipment.cancelled",
    "return.completed",
)


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware one")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class ShipbobClient(VendorClient):
    vendor = "shipbob"
    webhook_verifier = ShipbobWebhookVerifier()

    def __init__(self, token: str, base_url: str = DEFAULT_BASE_URL, *, webhook_secret: str | None = None,
                 channel_id: int | None = None, limiter: RateLimiter | None = None, timeout_s: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                         timeout_s=timeout_s, limiter=limiter or shared_limiter(token), transport=transport)
        self.webhook_secret = webhook_secret
        self._channel_id = channel_id

    # --- plumbing --------------------------------------------------------------------
    def request(self, method: str, path: str, *, cost: float = 1.0, **kwargs: Any) -> httpx.Response:
        response = super().request(method, path, cost=cost, **kwargs)
        remaining = response.headers.get("x-remaining-calls")
        if remaining is not None and self.limiter is not None:
            with contextlib.suppress(ValueError):  # a malformed header is no reason to fail the call
                self.limiter.observe(available=float(remaining))
        return response

    def _get(self, path: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self.request("GET", f"/{API_VERSION}/{path}", params=params, **kwargs).json()

    def _follow(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Items of a `next`-linked list, page after page."""
        url: str | None = f"/{API_VERSION}/{path}"
        query: dict[str, Any] | list[tuple[str, str]] = params
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            if url is None:
                return
            body = self.request("GET", url, params=query).json()
            yield from body.get("items") or []
            next_url = body.get("next")
            if not next_url or next_url in seen:
                return
            seen.add(next_url)
            # Keep our configured host: ShipBob's links are absolute, ours may be a sandbox.
            parts = urlsplit(next_url)
            url, query = parts.path, parse_qsl(parts.query, keep_blank_values=True)

    @property
    def channel_id(self) -> int:
        """The channel orders and returns are created in: the token's own (SMA) channel."""
        if self._channel_id is None:
            channels = list(self._follow("channel", {}))
            writable = [c for c in channels if "orders_write" in (c.get("scopes") or [])]
            writable.sort(key=lambda c: c.get("application_name") != "SMA")
            if not writable:
                raise ConfigError("shipbob: the token has no channel with orders_write scope")
            self._channel_id = int(writable[0]["id"])
        return self._channel_id

    def _channel_header(self) -> dict[str, str]:
        return {"shipbob_channel_id": str(self.channel_id)}

    # --- Connector -------------------------------------------------------------------
    def check(self) -> None:
        try:
            self.list_fulfillment_centers()
        except VendorError as exc:
            if exc.status in (401, 403):
                raise ConfigError(f"shipbob: the access token was refused (HTTP {exc.status})") from exc
            raise

    def ensure_subscriptions(self, callback_url: str) -> list[str]:
        """Subscribe `callback_url` (it carries ?shop=<domain>) to SUBSCRIPTION_TOPICS, once."""
        covered: set[str] = set()
        for sub in self.list_subscriptions():
            if sub.get("url") == callback_url and sub.get("enabled", True):
                covered.update(sub.get("topics") or [])
        missing = [topic for topic in SUBSCRIPTION_TOPICS if topic not in covered]
        if missing:
            self.create_subscription(callback_url, missing)
        return list(SUBSCRIPTION_TOPICS)

    # --- webhooks --------------------------------------------------------------------
    def list_subscriptions(self) -> list[dict[str, Any]]:
        return list(self._follow("webhook", {"RecordsPerPage": MAX_PAGE_SIZE}))

    def create_subscription(self, url: str, topics: Iterable[str]) -> dict[str, Any]:
        body: dict[str, Any] = {"url": url, "topics": list(topics), "description": "storeops"}
        if self.webhook_secret:
            # ShipBob lets the subscriber choose the signing secret (^whsec_[a-zA-Z0-9+/]{32}$),
            # so the one storeops already holds for this shop keeps working.
            body["secret"] = self.webhook_secret
        return self.request("POST", f"/{API_VERSION}/webhook", json=body).json()  # type: ignore[no-any-return]

    def delete_subscription(self, subscription_id: str) -> None:
        self.request("DELETE", f"/{API_VERSION}/webhook/{subscription_id}")

    # --- catalog and stock ------------------------------------------------------------
    def list_fulfillment_centers(self) -> list[dict[str, Any]]:
        return self._get("fulfillment-center")  # type: ignore[no-any-return]

    def list_products(self, *, page_size: int = MAX_PAGE_SIZE, updated_since: datetime | None = None,
                      ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"PageSize": page_size}
        if updated_since is not None:
            params["LastUpdatedTimestamp"] = _iso(updated_since)
        return list(self._follow("product", params))

    def list_inventory(self, *, location_id: int | None = None,
                       page_size: int = MAX_PAGE_SIZE) -> list[InventoryLevel]:
        """On hand / committed / fulfillable for every SKU at every fulfillment center."""
        params: dict[str, Any] = {"PageSize": page_size}
        if location_id is not None:
            params["LocationId"] = location_id
        levels: list[InventoryLevel] = []
        for item in self._follow("inventory-level/locations", params):
            for loc in item.get("locations") or []:
                levels.append(InventoryLevel(
                    inventory_id=int(item["inventory_id"]), sku=item.get("sku"),
                    fulfillment_center_id=int(loc["location_id"]), on_hand=int(loc.get("on_hand_quantity", 0)),
                    committed=int(loc.get("committed_quantity", 0)),
                    fulfillable=int(loc.get("fulfillable_quantity", 0)),
                ))
        return levels

    # --- orders ----------------------------------------------------------------------
    def create_order(self, reference_id: str, *, recipient: Recipient, lines: list[OrderLine],
                     shipping_method: str = "Standard", order_type: OrderType = "DTC",
                     order_number: str | None = None, location_id: int | None = None,
                     purchase_date: datetime | None = None, total_price: Decimal | None = None,
                     gift_message: str | None = None, tags: dict[str, str] | None = None) -> dict[str, Any]:
        """Create the order, or return the one ShipBob already has under `reference_id`."""
        body: dict[str, Any] = {"reference_id": reference_id, "type": order_type,
                                "shipping_method": shipping_method, "recipient": recipient.as_json(),
                                "products": [line.as_json() for line in lines]}
        if order_number:
            body["order_number"] = order_number
        if location_id is not None:
            body["location_id"] = location_id
        if purchase_date is not None:
            body["purchase_date"] = _iso(purchase_date)
        if total_price is not None:
            body["financials"] = {"total_price": float(total_price)}
        if gift_message:
            body["gift_message"] = gift_message
        if tags:
            body["tags"] = [{"name": k, "value": v} for k, v in tags.items()]
        try:
            response = self.request("POST", f"/{API_VERSION}/order", json=body, headers=self._channel_header())
        except VendorError as exc:
            if exc.status == 422:
                existing = self.find_order(reference_id)
                if existing is not None:
                    return existing
            raise
        return response.json()  # type: ignore[no-any-return]

    def find_order(self, reference_id: str) -> dict[str, Any] | None:
        orders = self._get("order", {"ReferenceIds": reference_id}, headers=self._channel_header())
        return next((o for o in orders if o.get("reference_id") == reference_id), None)

    def get_order(self, order_id: int) -> dict[str, Any]:
        return self._get(f"order/{order_id}")  # type: ignore[no-any-return]

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        return self.request("POST", f"/{API_VERSION}/order/{order_id}:cancel").json()  # type: ignore[no-any-return]

    def list_orders(self, updated_since: datetime | None = None, *,
                    page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        """Orders changed since `updated_since` (all orders without it), oldest first, for
        reconciliation. Oldest-first keeps Page/Limit paging stable while new orders arrive."""
        params: dict[str, Any] = {"Limit": page_size, "SortOrder": "Oldest"}
        if updated_since is not None:
            params["LastUpdateStartDate"] = _iso(updated_since)
        orders: list[dict[str, Any]] = []
        for number in range(1, MAX_PAGES):
            response = self.request("GET", f"/{API_VERSION}/order", params={**params, "Page": number})
            batch = response.json()
            orders.extend(batch)
            total_pages = response.headers.get("total-pages")
            if len(batch) < page_size or (total_pages is not None and total_pages.isdigit()
                                          and number >= int(total_pages)):
                break
        return orders

    # --- shipments and tracking ------------------------------------------------------
    def list_shipments(self, order_id: int) -> list[dict[str, Any]]:
        return self._get(f"order/{order_id}/shipment")  # type: ignore[no-any-return]

    def get_shipment(self, shipment_id: int) -> dict[str, Any]:
        return self._get(f"shipment/{shipment_id}")  # type: ignore[no-any-return]

    def get_tracking(self, shipment_ids: Iterable[int]) -> list[dict[str, Any]]:
        ids = list(dict.fromkeys(shipment_ids))
        tracking: list[dict[str, Any]] = []
        for start in range(0, len(ids), MAX_TRACKING_IDS):
            chunk = ids[start:start + MAX_TRACKING_IDS]
            tracking.extend(self._get("shipments-tracking", {"ShipmentIds": ",".join(map(str, chunk))}))
        return tracking

    # --- returns ---------------------------------------------------------------------
    def create_return(self, reference_id: str, *, fulfillment_center_id: int, items: list[ReturnItem],
                      original_shipment_id: int | None = None, tracking_number: str | None = None) -> dict[str, Any]:
        """Create the return order, or return the one ShipBob already has under `reference_id`."""
        body: dict[str, Any] = {"reference_id": reference_id, "fulfillment_center": {"id": fulfillment_center_id},
                                "inventory": [item.as_json() for item in items]}
        if original_shipment_id is not None:
            body["original_shipment_id"] = original_shipment_id
        if tracking_number:
            body["tracking_number"] = tracking_number
        try:
            response = self.request("POST", f"/{API_VERSION}/return", json=body, headers=self._channel_header())
        except VendorError as exc:
            if exc.status == 422:
                existing = self.find_return(reference_id)
                if existing is not None:
                    return existing
            raise
        return response.json()  # type: ignore[no-any-return]

    def find_return(self, reference_id: str) -> dict[str, Any] | None:
        found = self._follow("return", {"ReferenceIds": reference_id})
        return next((r for r in found if r.get("reference_id") == reference_id), None)

    def get_return(self, return_id: int) -> dict[str, Any]:
        return self._get(f"return/{return_id}")  # type: ignore[no-any-return]

    def list_returns(self, *, statuses: Iterable[str] = (), page_size: int = MAX_PAGE_SIZE) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"Limit": page_size}
        if statuses:
            params["Status"] = ",".join(statuses)
        return list(self._follow("return", params))
