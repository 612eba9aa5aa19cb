"""Shopify Admin GraphQL client (API version pinned to 2026-07).

One endpoint, POST {base_url}/admin/api/2026-07/graphql.json, authenticated with the
X-Shopify-Access-Token header. Every document sent lives in documents.py. No retries
here (the engine owns them); failures raise VendorError:

    HTTP 401/403, 5xx, 429        status as sent (VendorClient)
    GraphQL THROTTLED             status 429, retry_after = (requested - available) / restoreRate
    GraphQL INTERNAL_SERVER_ERROR status 500 (transient)
    GraphQL ACCESS_DENIED         status 403
    other GraphQL errors          status 400 (our document or input is wrong: do not retry)
    mutation userErrors           status 422, with every message and code

Costs: each request first spends its estimated calculated cost from the shop's shared
CostLimiter (cost.py) and then syncs it to the throttleStatus Shopify returns, so a busy
process waits instead of collecting THROTTLED answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from storeops.connectors.http import VendorClient
from storeops.connectors.shopify import documents as docs
from storeops.connectors.shopify.cost import CostLimiter, estimate_cost, shop_limiter
from storeops.connectors.shopify.models import (
    Customer,
    InventoryChange,
    InventoryLevel,
    LineItem,
    Location,
    Order,
    Product,
    Variant,
)
from storeops.core.errors import ConfigError, NotFound, VendorError

API_VERSION = "2026-07"
# Topics storeops subscribes to (REST form; the GraphQL enum is upper-case with underscores).
SUBSCRIPTION_TOPICS = [
    "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "refunds/create", "fulfillments/create",
    "inventory_levels/update", "products/update", "customers/create", "customers/update",
    "returns/request",
]
MAX_INPUT = 250  # shopify.dev "API limits": input arrays hold at most 250 items
GRAPHQL_STATUS = {"THROTTLED": 429, "INTERNAL_SERVER_ERROR": 500, "ACCESS_DENIED": 403, "SHOP_INACTIVE": 402}


def topic_enum(topic: str) -> str:
    return topic.replace("/", "_").upper()


def _since(updated_since: datetime | None) -> str | None:
    if updated_since is None:
        return None
    # >= with second precision: an update in the same second as the last sweep is read
    # again rather than missed (callers apply changes only if newer).
    stamp = updated_since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>='{stamp}'"


class ShopifyClient(VendorClient):
    vendor = "shopify"

    def __init__(self, shop_domain: str, access_token: str, *, base_url: str | None = None,
                 timeout_s: float = 30.0, limiter: CostLimiter | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url or f"https://{shop_domain}",
                         headers={"X-Shopify-Access-Token": access_token, "Accept": "application/json"},
                         timeout_s=timeout_s, limiter=None, transport=transport)
        self.shop_domain = shop_domain
        self.cost_limiter = limiter or shop_limiter(shop_domain)
        self.path = f"/admin/api/{API_VERSION}/graphql.json"
        self.last_cost: dict[str, Any] | None = None

    def __enter__(self) -> ShopifyClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------
    def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send one document; return its `data` or raise VendorError."""
        cost = estimate_cost(document, variables)
        self.cost_limiter.begin(cost)
        status: dict[str, Any] | None = None
        try:
            response = self.request("POST", self.path, json={"query": document, "variables": dict(variables or {})})
            try:
                body = response.json()
            except ValueError as exc:
                raise VendorError(self.vendor, "answer is not JSON", status=502, body=response.text[:2000]) from exc
            self.last_cost = (body.get("extensions") or {}).get("cost")
            status = (self.last_cost or {}).get("throttleStatus")
            errors = body.get("errors")
            if errors:
                raise self._graphql_error(errors, response.text)
            return body.get("data") or {}
        finally:
            self.cost_limiter.end(cost, status)

    def _graphql_error(self, errors: Any, text: str) -> VendorError:
        if not isinstance(errors, list):
            return VendorError(self.vendor, str(errors), status=400, body=text[:2000])
        codes = [str((e.get("extensions") or {}).get("code") or "") for e in errors]
        messages = "; ".join(f"{e.get('message')}" + (f" ({c})" if c else "") for e, c in zip(errors, codes,
                                                                                               strict=True))
        if "THROTTLED" in codes:
            cost = self.last_cost or {}
            throttle = cost.get("throttleStatus") or {}
            rate = float(throttle.get("restoreRate") or 100.0)
            deficit = float(cost.get("requestedQueryCost") or 0) - float(throttle.get("currentlyAvailable") or 0)
            return VendorError(self.vendor, f"throttled: {messages}", status=429,
                               retry_after=max(deficit, 0.0) / rate, body=text[:2000])
        status = next((GRAPHQL_STATUS[c] for c in codes if c in GRAPHQL_STATUS), 400)
        return VendorError(self.vendor, f"GraphQL errors: {messages}", status=status, body=text[:2000])

    def mutate(self, document: str, variables: Mapping[str, Any], field: str) -> dict[str, Any]:
        payload = self.execute(document, variables).get(field) or {}
        problems = payload.get("userErrors") or payload.get("orderCancelUserErrors") or []
        if problems:
            text = "; ".join(
                f"{'.'.join(p.get('field') or []) or field}: {p.get('message')}"
                + (f" ({p['code']})" if p.get("code") else "") for p in problems)
            raise VendorError(self.vendor, f"{field} refused: {text}", status=422, body=str(problems)[:2000])
        return payload

    def _pages(self, document: str, variables: dict[str, Any], path: Sequence[str]) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            data: Any = self.execute(document, {**variables, "after": after})
            for key in path:
                data = (data or {}).get(key)
            if data is None:
                return
            yield from data["nodes"]
            info = data["pageInfo"]
            if not info["hasNextPage"]:
                return
            after = info["endCursor"]

    # --- Connector protocol -----------------------------------------------------------------
    def check(self) -> None:
        """One cheap query (cost 1) that needs a valid token."""
        self.shop()

    def shop(self) -> dict[str, Any]:
        try:
            return self.execute(docs.SHOP)["shop"]  # type: ignore[no-any-return]
        except VendorError as exc:
            if exc.status in (401, 403):
                raise ConfigError(f"shopify: {self.shop_domain} refused the access token (HTTP {exc.status})") from exc
            raise

    def ensure_subscriptions(self, callback_url: str, topics: Sequence[str] = SUBSCRIPTION_TOPICS) -> list[str]:
        """Create the webhook subscriptions that are missing for `callback_url`; idempotent."""
        existing = {(s["topic"], s["uri"]) for s in self._pages(docs.WEBHOOK_SUBSCRIPTIONS, {"first": 100},
                                                                  ["webhookSubscriptions"])}
        for topic in topics:
            if (topic_enum(topic), callback_url) in existing:
                continue
            try:
                self.mutate(docs.WEBHOOK_SUBSCRIPTION_CREATE, {"topic": topic_enum(topic), "uri": callback_url},
                            "webhookSubscriptionCreate")
            except VendorError as exc:
                if "already been taken" not in exc.message:  # a concurrent caller created it first
                    raise
        return list(topics)

    def delete_subscription(self, subscription_id: str) -> None:
        self.mutate(docs.WEBHOOK_SUBSCRIPTION_DELETE, {"id": subscription_id}, "webhookSubscriptionDelete")

    # --- readers (reconciliation: "changed since T") ----------------------------------------
    def list_locations(self) -> list[Location]:
        return [Location.from_node(n) for n in self._pages(docs.LOCATIONS, {"first": 50}, ["locations"])]

    def list_products(self, updated_since: datetime | None = None, *, page_size: int = 15) -> list[Product]:
        out = []
        variables = {"first": page_size, "variantsFirst": 20, "query": _since(updated_since)}
        for node in self._pages(docs.PRODUCTS, variables, ["products"]):
            variants = [Variant.from_node(v) for v in node["variants"]["nodes"]]
            if node["variants"]["pageInfo"]["hasNextPage"]:
                seen = {v.id for v in variants}
                rest = self._pages(docs.PRODUCT_VARIANTS, {"id": node["id"], "first": 100}, ["product", "variants"])
                variants += [Variant.from_node(v) for v in rest if v["id"] not in seen]
            out.append(Product.from_node(node, variants))
        return out

    def list_inventory(self, updated_since: datetime | None = None) -> list[InventoryLevel]:
        out = []
        for item in self._pages(docs.INVENTORY_ITEMS, {"first": 50, "query": _since(updated_since)},
                                ["inventoryItems"]):
            for level in item["inventoryLevels"]["nodes"]:
                out.append(InventoryLevel(inventory_item_id=item["id"], sku=item.get("sku"),
                                          location_id=level["location"]["id"],
                                          quantities={q["name"]: q["quantity"] for q in level["quantities"]}))
        return out

    def list_orders(self, updated_since: datetime | None = None, *, page_size: int = 8) -> list[Order]:
        return [self._order(n) for n in self._pages(docs.ORDERS, {"first": page_size, "query": _since(updated_since)},
                                                     ["orders"])]

    def list_order_nodes(self, updated_since: datetime | None = None, *,
                         page_size: int = 8) -> Iterator[dict[str, Any]]:
        """The raw `Order` nodes of documents.ORDERS changed since `updated_since`, oldest
        change first, every line item included (a reconciliation sweep rebuilds the
        webhook's snapshot from them, which needs fields the Order model leaves out, such as
        the shipping line's title)."""
        for node in self._pages(docs.ORDERS, {"first": page_size, "query": _since(updated_since)}, ["orders"]):
            if node["lineItems"]["pageInfo"]["hasNextPage"]:
                seen = {li["id"] for li in node["lineItems"]["nodes"]}
                rest = self._pages(docs.ORDER_LINE_ITEMS, {"id": node["id"], "first": 50}, ["order", "lineItems"])
                node = {**node, "lineItems": {"nodes": [*node["lineItems"]["nodes"],
                                                        *(li for li in rest if li["id"] not in seen)],
                                              "pageInfo": {"hasNextPage": False, "endCursor": None}}}
            yield node

    def get_order(self, order_id: str) -> Order:
        node = self.execute(docs.ORDER, {"id": order_id}).get("order")
        if node is None:
            raise NotFound("shopify order", order_id)
        return self._order(node)

    def _order(self, node: dict[str, Any]) -> Order:
        lines = [LineItem.from_node(li) for li in node["lineItems"]["nodes"]]
        if node["lineItems"]["pageInfo"]["hasNextPage"]:
            seen = {li.id for li in lines}
            rest = self._pages(docs.ORDER_LINE_ITEMS, {"id": node["id"], "first": 50}, ["order", "lineItems"])
            lines += [LineItem.from_node(li) for li in rest if li["id"] not in seen]
        return Order.from_node(node, lines)

    def list_customers(self, updated_since: datetime | None = None) -> list[Customer]:
        pages = self._pages(docs.CUSTOMERS, {"first": 50, "query": _since(updated_since)}, ["customers"])
        return [Customer.from_node(n) for n in pages]

    # --- writers --------------------------------------------------------------------------
    def set_inventory(self, items: Sequence[tuple[str, str, int, int | None]], *, name: str = "available",
                      reason: str = "correction", idempotency_key: str | None = None,
                      reference_document_uri: str | None = None) -> list[InventoryChange]:
        """Set absolute quantities: items are (inventory item id, location id, quantity,
        compare quantity). The compare quantity is Shopify's changeFromQuantity: the call
        fails (VendorError 422, CHANGE_FROM_QUANTITY_STALE) if the stored quantity differs;
        None skips the check. One call per 250 items; batch i uses key `<key>:<i>`."""
        key = idempotency_key or str(uuid.uuid4())
        changes: list[InventoryChange] = []
        for index in range(0, len(items), MAX_INPUT):
            batch = items[index:index + MAX_INPUT]
            payload = self.mutate(docs.INVENTORY_SET_QUANTITIES, {
                "idempotencyKey": f"{key}:{index // MAX_INPUT}",
                "input": {"name": name, "reason": reason, "referenceDocumentUri": reference_document_uri,
                          "quantities": [{"inventoryItemId": item, "locationId": location, "quantity": quantity,
                                          "changeFromQuantity": compare}
                                         for item, location, quantity, compare in batch]}}, "inventorySetQuantities")
            changes += _changes(payload)
        return changes

    def adjust_inventory(self, changes: Sequence[tuple[str, str, int] | tuple[str, str, int, int | None]], *,
                         name: str = "available", reason: str = "correction", idempotency_key: str | None = None,
                         reference_document_uri: str | None = None) -> list[InventoryChange]:
        """Apply deltas: (inventory item id, location id, delta[, expected current quantity])."""
        key = idempotency_key or str(uuid.uuid4())
        out: list[InventoryChange] = []
        for index in range(0, len(changes), MAX_INPUT):
            batch = changes[index:index + MAX_INPUT]
            payload = self.mutate(docs.INVENTORY_ADJUST_QUANTITIES, {
                "idempotencyKey": f"{key}:{index // MAX_INPUT}",
                "input": {"name": name, "reason": reason, "referenceDocumentUri": reference_document_uri,
                          "changes": [{"inventoryItemId": c[0], "locationId": c[1], "delta": c[2],
                                       "changeFromQuantity": c[3] if len(c) > 3 else None} for c in batch]}},
                "inventoryAdjustQuantities")
            out += _changes(payload)
        return out

    def create_fulfillment(self, order_id: str, *, tracking_company: str | None = None,
                           tracking_number: str | None = None, tracking_url: str | None = None,
                           notify_customer: bool = False,
                           fulfillment_order_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Fulfil the order's open fulfillment orders (or the ones named) with tracking.
        Shopify wants one fulfillment per location, so one call per assigned location."""
        order = self.get_order(order_id)
        open_orders = [fo for fo in order.fulfillment_orders
                       if fo.status in ("OPEN", "IN_PROGRESS")
                       and (fulfillment_order_ids is None or fo.id in fulfillment_order_ids)]
        by_location: dict[str | None, list[str]] = {}
        for fo in open_orders:
            by_location.setdefault(fo.location_id, []).append(fo.id)
        tracking = {k: v for k, v in {"company": tracking_company, "number": tracking_number,
                                      "url": tracking_url}.items() if v}
        created = []
        for fo_ids in by_location.values():
            payload = self.mutate(docs.FULFILLMENT_CREATE, {"fulfillment": {
                "notifyCustomer": notify_customer, "trackingInfo": tracking or None,
                "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo_id} for fo_id in fo_ids]}},
                "fulfillmentCreate")
            created.append(payload["fulfillment"])
        return created

    def add_tags(self, resource_id: str, tags: Sequence[str]) -> None:
        self.mutate(docs.TAGS_ADD, {"id": resource_id, "tags": list(tags)}, "tagsAdd")

    def remove_tags(self, resource_id: str, tags: Sequence[str]) -> None:
        self.mutate(docs.TAGS_REMOVE, {"id": resource_id, "tags": list(tags)}, "tagsRemove")

    def create_refund(self, order_id: str, line_items: Sequence[tuple[str, int] | tuple[str, int, str]] = (), *,
                      amount: Decimal | None = None, gateway: str | None = None, shipping_full: bool = False,
                      note: str | None = None, notify: bool = False,
                      idempotency_key: str | None = None) -> dict[str, Any]:
        """Refund line items ((line item id, quantity[, restock type]); restock type RETURN,
        CANCEL or NO_RESTOCK, default NO_RESTOCK) and, when `amount` is given, that much money
        to the order's payment gateway (Shopify moves money only through transactions)."""
        refund: dict[str, Any] = {
            "orderId": order_id, "note": note, "notify": notify,
            "refundLineItems": [{"lineItemId": li[0], "quantity": li[1],
                                 "restockType": li[2] if len(li) > 2 else "NO_RESTOCK"} for li in line_items]}
        if shipping_full:
            refund["shipping"] = {"fullRefund": True}
        if amount is not None:
            if gateway is None:
                gateway = (self.get_order(order_id).gateways or ("manual",))[0]
            refund["transactions"] = [{"orderId": order_id, "amount": str(amount), "kind": "REFUND",
                                       "gateway": gateway}]
        return self.mutate(docs.REFUND_CREATE, {"input": refund,
                                                "idempotencyKey": idempotency_key or str(uuid.uuid4())},
                           "refundCreate")

    def create_return(self, order_id: str, items: Sequence[tuple[str, int, str]]) -> dict[str, Any]:
        """Open a return for shipped units: (fulfillment line item id, quantity, reason note)."""
        payload = self.mutate(docs.RETURN_CREATE, {"returnInput": {"orderId": order_id, "returnLineItems": [
            {"fulfillmentLineItemId": fli, "quantity": qty, "returnReasonNote": note} for fli, qty, note in items]}},
            "returnCreate")
        return payload["return"]  # type: ignore[no-any-return]

    def returnables(self, order_id: str) -> dict[str, list[dict[str, Any]]]:
        """What returnCreate works from: {"lines": shipped units [{"id" (FulfillmentLineItem gid),
        "line_item_id", "quantity"}], "returns": the order's returns [{"id", "name", "status",
        "notes" (every line's returnReasonNote)}]}."""
        node = self.execute(docs.ORDER_RETURNABLES, {"id": order_id}).get("order")
        if node is None:
            raise NotFound("shopify order", order_id)
        lines = [{"id": fli["id"], "line_item_id": fli["lineItem"]["id"], "quantity": fli["quantity"]}
                 for f in node["fulfillments"] if f.get("status") == "SUCCESS"
                 for fli in f["fulfillmentLineItems"]["nodes"]]
        returns = [{"id": r["id"], "name": r.get("name"), "status": r.get("status"),
                    "notes": [li.get("returnReasonNote") or "" for li in r["returnLineItems"]["nodes"]]}
                   for r in node["returns"]["nodes"]]
        return {"lines": lines, "returns": returns}

    def cancel_order(self, order_id: str, *, reason: str = "OTHER", restock: bool = True, refund: bool = True) -> None:
        self.mutate(docs.ORDER_CANCEL, {"orderId": order_id, "reason": reason, "restock": restock,
                                        "refundMethod": {"originalPaymentMethodsRefund": refund}}, "orderCancel")

    def set_metafields(self, metafields: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """metafieldsSet, 25 per call (its documented limit)."""
        out: list[dict[str, Any]] = []
        for index in range(0, len(metafields), 25):
            payload = self.mutate(docs.METAFIELDS_SET, {"metafields": [dict(m) for m in metafields[index:index + 25]]},
                                  "metafieldsSet")
            out += payload.get("metafields") or []
        return out

    # --- catalog content (documents below the class) ------------------------------------------
    def list_catalog_products(self, query: str | None = None, *, page_size: int = 8) -> list[dict[str, Any]]:
        """Products (all, or those matching Shopify search `query`) with content and variants.
        Paged reads: the sandbox emulates no bulk operations; on a Basic plan (100 points/s)
        a page costs up to ~8 s of budget, so large catalogs should be read incrementally
        (query "updated_at:>..."), or with bulkOperationRunQuery once it is emulated."""
        out = []
        for node in self._pages(CATALOG_PRODUCTS, {"first": page_size, "query": query}, ["products"]):
            if node["variants"]["pageInfo"]["hasNextPage"]:
                seen = {v["id"] for v in node["variants"]["nodes"]}
                rest = self._pages(CATALOG_VARIANTS, {"id": node["id"], "first": 50}, ["product", "variants"])
                node["variants"]["nodes"] += [v for v in rest if v["id"] not in seen]
            out.append(node)
        return out

    def product_content(self, product_id: str) -> dict[str, Any] | None:
        return self.execute(PRODUCT_CONTENT, {"id": product_id}).get("product")  # type: ignore[no-any-return]

    def update_product(self, product_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """productUpdate with title / descriptionHtml / seo (userErrors raise VendorError 422)."""
        payload = self.mutate(PRODUCT_UPDATE, {"product": {"id": product_id, **fields}}, "productUpdate")
        return payload["product"]  # type: ignore[no-any-return]



    # --- inventory sync (storeops.flows.inventory): lean documents, costs measured ------------
    def inventory_item_skus(self, created_since: datetime | None = None) -> list[tuple[str, str]]:
        """(inventory item gid, sku) of every item (or those created since): cost 252 per 250 items.
        Created, not updated: every quantity write bumps an item's updated_at."""
        since = _since(created_since)
        return [(n["id"], n["sku"]) for n in self._pages(INVENTORY_ITEM_SKUS, {
            "first": MAX_INPUT, "query": since.replace("updated_at", "created_at") if since else None},
            ["inventoryItems"]) if n.get("sku")]

    def location_levels(self, location_id: str, updated_since: datetime | None = None) -> dict[str, int]:
        """Inventory item gid -> available at one location (or the levels updated since):
        cost 503 per 250 levels. An InventoryLevel gid names its item
        (gid://shopify/InventoryLevel/<location>?inventory_item_id=<item>)."""
        out: dict[str, int] = {}
        variables = {"id": location_id, "first": MAX_INPUT, "query": _since(updated_since)}
        for node in self._pages(LOCATION_LEVELS, variables, ["location", "inventoryLevels"]):
            item = str(node["id"]).partition("inventory_item_id=")[2]
            if item.isdigit():
                out[f"gid://shopify/InventoryItem/{item}"] = int(node["quantities"][0]["quantity"])
        return out

    def read_available(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int | None]:
        """(item gid, location gid) -> available now, None where the item is not stocked there.
        One query per 250 pairs (aliases), cost about 3 per pair."""
        out: dict[tuple[str, str], int | None] = {}
        for start in range(0, len(pairs), MAX_INPUT):
            chunk = pairs[start:start + MAX_INPUT]
            fields = " ".join(
                f'l{i}: inventoryItem(id: "{item}") {{ inventoryLevel(locationId: "{loc}") '
                f'{{ quantities(names: ["available"]) {{ quantity }} }} }}'
                for i, (item, loc) in enumerate(chunk) if _is_gid(item) and _is_gid(loc))
            data = self.execute(f"query ReadAvailable {{ {fields} }}") if fields else {}
            for i, pair in enumerate(chunk):
                level = (data.get(f"l{i}") or {}).get("inventoryLevel")
                out[pair] = int(level["quantities"][0]["quantity"]) if level else None
        return out

    def set_available(self, items: Sequence[tuple[str, str, int, int | None]], *, idempotency_key: str,
                      reason: str = "correction") -> list[dict[str, Any]]:
        """One inventorySetQuantities call (<= 250 items of (item, location, quantity, compare)).
        Returns the userErrors (empty: applied). All or nothing: with any error Shopify
        changes nothing, so the caller can fix the rows named in `field` and send again."""
        if len(items) > MAX_INPUT:
            raise ValueError(f"at most {MAX_INPUT} quantities per call")
        payload = self.execute(SET_AVAILABLE, {
            "idempotencyKey": idempotency_key,
            "input": {"name": "available", "reason": reason,
                      "quantities": [{"inventoryItemId": item, "locationId": location, "quantity": quantity,
                                      "changeFromQuantity": compare}
                                     for item, location, quantity, compare in items]}}).get(
            "inventorySetQuantities") or {}
        return list(payload.get("userErrors") or [])


def _is_gid(value: str) -> bool:
    return value.startswith("gid://shopify/") and '"' not in value and "\\" not in value


INVENTORY_ITEM_SKUS = """
query InventoryItemSkus($first: Int!, $after: String, $query: String) {
  inventoryItems(first: $first, after: $after, query: $query) {
    nodes { id sku }
    pageInfo { hasNextPage endCursor }
  }
}
"""

LOCATION_LEVELS = """
query LocationLevels($id: ID!, $first: Int!, $after: String, $query: String) {
  location(id: $id) {
    inventoryLevels(first: $first, after: $after, query: $query) {
      nodes { id quantities(names: ["available"]) { quantity } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

SET_AVAILABLE = """
mutation SetAvailable($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""

# --- catalog content (storeops.flows.catalog) ---------------------------------------------------
# Kept here rather than in documents.py; tests/flows/test_catalog_publish.py validates both
# against the full 2026-07 schema. Cost (measured on the sandbox): 10 products x 20 variants is
# 1052 > the 1000 single-query maximum, so pages of 8 products (~842).
CATALOG_PRODUCTS = """
query CatalogProducts($first: Int!, $after: String, $query: String) {
  products(first: $first, after: $after, query: $query, sortKey: ID) {
    nodes {
      id legacyResourceId handle title descriptionHtml vendor productType tags status updatedAt
      seo { title description }
      options { name values }
      variants(first: 20) {
        nodes {
          id sku barcode title price compareAtPrice position
          selectedOptions { name value }
          inventoryItem { measurement { weight { unit value } } }
        }
        pageInfo { hasNextPage endCursor }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""

CATALOG_VARIANTS = """
query CatalogVariants($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) {
      nodes {
        id sku barcode title price compareAtPrice position
        selectedOptions { name value }
        inventoryItem { measurement { weight { unit value } } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""

PRODUCT_CONTENT = """
query ProductContent($id: ID!) {
  product(id: $id) { id handle title descriptionHtml seo { title description } updatedAt }
}
"""

PRODUCT_UPDATE = """
mutation ProductUpdate($product: ProductUpdateInput!) {
  productUpdate(product: $product) {
    product { id title descriptionHtml seo { title description } updatedAt }
    userErrors { field message }
  }
}
"""


def _changes(payload: dict[str, Any]) -> list[InventoryChange]:
    group = payload.get("inventoryAdjustmentGroup") or {}
    return [InventoryChange(name=c["name"], delta=c["delta"], quantity_after=c.get("quantityAfterChange"),
                            inventory_item_id=(c.get("item") or {}).get("id", ""),
                            location_id=(c.get("location") or {}).get("id", "")) for c in group.get("changes") or []]
