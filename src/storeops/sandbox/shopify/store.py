"""The store's state and the inventory rules every write goes through.

Seeded from the shared catalog (storeops.sandbox.catalog): every product with its
variants, one inventory item per variant, the three fulfillment centers as locations,
and the catalog's stock per center as `available` (= `on_hand`) quantities. Order,
fulfillment and refund operations live in orders.py; both call `emit` with a topic and
a payload builder, which the sandbox wires to webhook delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from storeops.sandbox import catalog
from storeops.sandbox.shopify.ids import IdSequence, gid_kind, now, parse_gid
from storeops.sandbox.shopify.records import (
    HELD_STATES,
    QUANTITY_NAMES,
    Checkout,
    Customer,
    Fulfillment,
    FulfillmentOrder,
    InventoryItem,
    InventoryLevel,
    LineItem,
    Location,
    Metafield,
    Order,
    Product,
    Record,
    Refund,
    Return,
    Variant,
    WebhookSubscription,
)

Emit = Callable[[str, Callable[[], dict[str, Any]]], None]
SEEDED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
PROVINCES = {"CA": "California", "IL": "Illinois", "PA": "Pennsylvania", "NY": "New York", "TX": "Texas",
             "WA": "Washington", "FL": "Florida", "GA": "Georgia", "CO": "Colorado", "MA": "Massachusetts",
             "AZ": "Arizona", "OR": "Oregon", "MN": "Minnesota", "NC": "North Carolina", "OH": "Ohio"}


def _noop_emit(topic: str, build: Callable[[], dict[str, Any]]) -> None:
    return None


class Store:
    def __init__(self, *, shop_domain: str, product_limit: int | None = None) -> None:
        self.shop_domain = shop_domain
        self.shop_id = 0
        self.shop_name = "storeops demo"
        self.shop_created_at = SEEDED_AT - timedelta(days=400)
        self.ids = IdSequence()
        self.emit: Emit = _noop_emit
        self.locations: dict[int, Location] = {}
        self.products: dict[int, Product] = {}
        self.variants: dict[int, Variant] = {}
        self.items: dict[int, InventoryItem] = {}
        self.levels: dict[tuple[int, int], InventoryLevel] = {}
        self.item_levels: dict[int, list[InventoryLevel]] = {}  # index: inventory item -> its levels
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, Order] = {}
        self.fulfillment_orders: dict[int, FulfillmentOrder] = {}
        self.fulfillments: dict[int, Fulfillment] = {}
        self.refunds: dict[int, Refund] = {}
        self.returns: dict[int, Return] = {}
        self.metafields: dict[int, Metafield] = {}
        self.subscriptions: dict[int, WebhookSubscription] = {}
        self.checkouts: dict[int, Checkout] = {}
        self.line_items: dict[int, LineItem] = {}  # every order's line items by id
        # @idempotent keys already used: (mutation, key) -> (arguments, payload)
        self.idempotency: dict[tuple[str, str], tuple[str, Any]] = {}
        self.next_order_number = 1001
        self._seed(product_limit)

    # --- seeding ------------------------------------------------------------------------
    def _seed(self, product_limit: int | None) -> None:
        self.shop_id = self.ids.next()
        for fc in catalog.fulfillment_centers():
            loc_id = self.ids.next()
            self.locations[loc_id] = Location(
                id=loc_id, name=fc["name"], fc_id=int(fc["id"]), created_at=self.shop_created_at,
                updated_at=self.shop_created_at,
                address={"address1": f"{100 + int(fc['id'])} Fulfillment Way", "address2": None,
                         "city": fc["city"], "province": PROVINCES.get(fc["state"], fc["state"]),
                         "provinceCode": fc["state"], "zip": fc["zip"], "country": "United States",
                         "countryCode": fc["country"], "phone": "+18005550100", "latitude": fc["lat"],
                         "longitude": fc["lon"], "formatted": [fc["city"], f"{fc['state']} {fc['zip']}",
                                                               "United States"]})
        by_fc = {loc.fc_id: loc for loc in self.locations.values()}
        for index, raw in enumerate(catalog.products(product_limit)):
            stamp = SEEDED_AT + timedelta(minutes=index)
            product_id = self.ids.next()
            option_names = list(raw.get("options") or {})
            product = Product(
                id=product_id, title=raw["title"], handle=raw["handle"],
                description_html=f"<p>{raw.get('description') or ''}</p>", vendor=raw.get("vendor") or "storeops",
                product_type=raw.get("product_type") or "", tags=sorted(raw.get("tags") or []),
                options=[(name.title(), list(values)) for name, values in (raw.get("options") or {}).items()],
                variant_ids=[], created_at=stamp, updated_at=stamp, published_at=stamp)
            if not product.options:
                product.options = [("Title", ["Default Title"])]
            self.products[product_id] = product
            for position, rv in enumerate(raw["variants"], start=1):
                variant_id, item_id = self.ids.next(), self.ids.next()
                options = {name.title(): str(rv["options"].get(name, "")) for name in option_names} or {
                    "Title": "Default Title"}
                self.variants[variant_id] = Variant(
                    id=variant_id, product_id=product_id, inventory_item_id=item_id, title=rv["title"],
                    sku=rv.get("sku"), barcode=rv.get("barcode"), price=Decimal(str(rv["price"])),
                    position=position, options=options, weight_grams=int(rv.get("weight_grams") or 0),
                    created_at=stamp, updated_at=stamp)
                self.items[item_id] = InventoryItem(id=item_id, variant_id=variant_id, sku=rv.get("sku"),
                                                    weight_grams=int(rv.get("weight_grams") or 0),
                                                    created_at=stamp, updated_at=stamp)
                product.variant_ids.append(variant_id)
                for fc_id, qty in (rv.get("stock") or {}).items():
                    loc = by_fc.get(int(fc_id))
                    if loc is None:
                        continue
                    quantities = dict.fromkeys(QUANTITY_NAMES, 0)
                    quantities["available"] = quantities["on_hand"] = int(qty)
                    level = InventoryLevel(item_id=item_id, location_id=loc.id, quantities=quantities,
                                           created_at=stamp, updated_at=stamp)
                    self.levels[(item_id, loc.id)] = level
                    self.item_levels.setdefault(item_id, []).append(level)

    # --- lookups ------------------------------------------------------------------------
    def find(self, global_id: str) -> Record | None:
        """The record a global id names (any kind the sandbox keeps), or None."""
        kind = gid_kind(global_id)
        if kind == "InventoryLevel":
            loc_id = parse_gid(global_id, kind)
            item = global_id.partition("inventory_item_id=")[2]
            return self.levels.get((int(item), loc_id)) if item.isdigit() and loc_id else None
        table: dict[str, dict[int, Any]] = {
            "Location": self.locations, "Product": self.products, "ProductVariant": self.variants,
            "InventoryItem": self.items, "Customer": self.customers, "Order": self.orders,
            "FulfillmentOrder": self.fulfillment_orders, "Fulfillment": self.fulfillments,
            "Refund": self.refunds, "Return": self.returns, "Metafield": self.metafields,
            "WebhookSubscription": self.subscriptions,
        }
        id_ = parse_gid(global_id)
        if kind not in table or id_ is None:
            return None
        found = table[kind].get(id_)
        return found if isinstance(found, Record) else None

    def product_of(self, variant: Variant) -> Product:
        return self.products[variant.product_id]

    def variant_of_item(self, item: InventoryItem) -> Variant:
        return self.variants[item.variant_id]

    def levels_of_item(self, item_id: int) -> list[InventoryLevel]:
        return list(self.item_levels.get(item_id, []))

    def levels_at(self, location_id: int) -> list[InventoryLevel]:
        return [lvl for (_, loc), lvl in self.levels.items() if loc == location_id]

    def available_total(self, variant: Variant) -> int:
        return sum(lvl.quantities["available"] for lvl in self.levels_of_item(variant.inventory_item_id))

    # --- inventory rules ----------------------------------------------------------------
    def change_quantity(self, level: InventoryLevel, name: str, delta: int) -> list[tuple[str, int, int]]:
        """Apply `delta` to quantity `name`, keeping on_hand = available + held states
        (shopify.dev, "Inventory states"). Returns (name, delta, quantity after) per change."""
        if delta == 0:
            return []
        q = level.quantities
        changes: list[tuple[str, int, int]] = []

        def bump(key: str, by: int) -> None:
            q[key] += by
            changes.append((key, by, q[key]))

        if name in ("available", "on_hand"):
            bump(name, delta)
            bump("on_hand" if name == "available" else "available", delta)
        elif name in HELD_STATES:
            bump(name, delta)  # stock moves between available and a held state; on_hand stays
            bump("available", -delta)
        elif name == "incoming":
            bump(name, delta)
        else:
            raise ValueError(name)
        level.updated_at = now()
        self.items[level.item_id].updated_at = level.updated_at
        if any(key == "available" for key, _, _ in changes):
            self.emit_level(level)
        return changes

    def emit_level(self, level: InventoryLevel) -> None:
        from storeops.sandbox.shopify.payloads import inventory_level_payload

        self.emit("inventory_levels/update", lambda: inventory_level_payload(level))

    def touch_product(self, product: Product) -> None:
        from storeops.sandbox.shopify.payloads import product_payload

        product.updated_at = now()
        self.emit("products/update", lambda: product_payload(self, product))
