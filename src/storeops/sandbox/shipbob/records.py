"""The ShipBob sandbox's records, and the seed built from the shared catalog.

Ids live in ranges that look like ShipBob's (int32, as the 2026-01 spec types them:
shared/vendor-specs/shipbob/openapi-2026-01.json, e.g. Orders.OrderViewModel.id).
Stock is kept per (inventory item, fulfillment center) as on hand and committed;
fulfillable is on hand minus committed, the three numbers ShipBob's
GET /2026-01/inventory-level/locations reports per location.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from storeops.sandbox import catalog

PRODUCT_ID_BASE = 1_000_000
VARIANT_ID_BASE = 2_000_000
INVENTORY_ID_BASE = 3_000_000
ORDER_ID_BASE = 300_000_000
SHIPMENT_ID_BASE = 400_000_000
RETURN_ID_BASE = 600_000
PAT_CHANNEL_ID = 210_001
DEFAULT_CHANNEL_ID = 210_000

# Scopes a Personal Access Token is granted (developer.shipbob.com/auth: "Your PAT should
# automatically have read and write access to the entire ShipBob account"); the list is the
# example in the spec's GET /2026-01/channel response.
PAT_SCOPES = [
    "channels_read", "fulfillments_read", "fulfillments_write", "inventory_read", "inventory_write",
    "locations_read", "locations_write", "orders_read", "orders_write", "products_read", "products_write",
    "receiving_read", "receiving_write", "returns_read", "returns_write", "webhooks_read", "webhooks_write",
]
READ_SCOPES = [s for s in PAT_SCOPES if s.endswith("_read")]

# The Windows time-zone names ShipBob's FulfillmentCenterViewModel example uses.
_TIMEZONES = {"CA": "Pacific Standard Time", "IL": "Central Standard Time", "PA": "Eastern Standard Time"}


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FulfillmentCenter:
    id: int
    name: str
    city: str
    state: str
    zip_code: str
    country: str

    @property
    def timezone(self) -> str | None:
        return _TIMEZONES.get(self.state)


@dataclass
class Variant:
    id: int
    product_id: int
    inventory_id: int
    sku: str
    name: str
    barcode: str | None
    price: Decimal
    weight_grams: int
    created_on: datetime
    updated_on: datetime
    active: bool = True


@dataclass
class Product:
    id: int
    name: str
    variants: list[Variant]
    created_on: datetime
    updated_on: datetime


@dataclass
class Stock:
    on_hand: int = 0
    committed: int = 0

    @property
    def fulfillable(self) -> int:
        return max(0, self.on_hand - self.committed)


@dataclass
class OrderLine:
    line_id: int
    reference_id: str  # the SKU the merchant sent (ShipBob: "also known as sku or seller_sku")
    name: str | None
    quantity: int
    unit_price: float | None
    variant: Variant | None  # None: no ShipBob product has this SKU (UnknownSku exception)
    external_line_id: int | None = None


@dataclass
class StatusDetail:
    id: int
    name: str
    description: str
    inventory_id: int | None = None


@dataclass
class Tracking:
    carrier: str
    carrier_service: str
    tracking_number: str
    tracking_url: str
    shipping_date: datetime | None = None


@dataclass
class Shipment:
    id: int
    order_id: int
    reference_id: str
    lines: list[OrderLine]
    created: datetime
    status: str = "Processing"
    detail: StatusDetail | None = None
    fc_id: int | None = None
    allocated: bool = False  # stock committed at fc_id
    step: int = 0  # index into fulfillment.SHIPMENT_STEPS
    next_at: float | None = None  # monotonic seconds of the next scheduled step
    tracking: Tracking | None = None
    last_update: datetime = field(default_factory=now)
    last_tracking_update: datetime | None = None
    actual_fulfillment_date: datetime | None = None
    delivery_date: datetime | None = None
    history: list[tuple[str, str, datetime]] = field(default_factory=list)  # (status, detail, when)
    # Carrier scans, in Tracking.TrackingHistoryItem's status enum: (status, message, when).
    tracking_events: list[tuple[str, str, datetime]] = field(default_factory=list)


@dataclass
class Order:
    id: int
    reference_id: str
    channel_id: int
    order_number: str | None
    created: datetime
    purchase_date: datetime | None
    recipient: dict[str, Any]
    lines: list[OrderLine]
    shipping_method: str
    type: str
    shipments: list[Shipment]
    total_price: float | None = None
    gift_message: str | None = None
    tags: list[dict[str, str]] = field(default_factory=list)
    cancelled: bool = False
    updated: datetime = field(default_factory=now)


@dataclass
class ReturnLine:
    inventory_id: int
    quantity: int
    action: str  # Returns.ReturnAction: Default | Restock | Quarantine | Dispose


@dataclass
class ReturnOrder:
    id: int
    reference_id: str
    channel_id: int
    fc_id: int
    lines: list[ReturnLine]
    original_shipment_id: int | None
    tracking_number: str | None
    created: datetime
    status: str = "AwaitingArrival"
    step: int = 0
    next_at: float | None = None
    history: list[tuple[str, datetime]] = field(default_factory=list)
    store_order_id: str | None = None
    completed: datetime | None = None


@dataclass
class Subscription:
    id: str
    url: str
    topics: list[str]
    secret: str
    description: str | None
    created_at: datetime
    enabled: bool = True


def webhook_secret(rng: random.Random) -> str:
    """A secret in the shape ShipBob's spec requires: ^whsec_[a-zA-Z0-9+/]{32}$ (24 bytes)."""
    return "whsec_" + base64.b64encode(rng.randbytes(24)).decode("ascii")


class Store:
    """Every record the sandbox holds, seeded from the shared catalog."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.token = "pat_" + rng.randbytes(16).hex()
        self.webhook_secret = webhook_secret(rng)
        self.fulfillment_centers = [
            FulfillmentCenter(fc["id"], fc["name"], fc["city"], fc["state"], fc["zip"], fc["country"])
            for fc in catalog.fulfillment_centers()
        ]
        self.products: dict[int, Product] = {}
        self.variants_by_sku: dict[str, Variant] = {}
        self.variants_by_inventory: dict[int, Variant] = {}
        self.stock: dict[tuple[int, int], Stock] = {}  # (inventory_id, fc_id) -> levels
        self.orders: dict[int, Order] = {}
        self.shipments: dict[int, Shipment] = {}
        self.returns: dict[int, ReturnOrder] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self._next = {"product": PRODUCT_ID_BASE, "variant": VARIANT_ID_BASE, "inventory": INVENTORY_ID_BASE,
                      "order": ORDER_ID_BASE, "shipment": SHIPMENT_ID_BASE, "return": RETURN_ID_BASE,
                      "line": 0, "webhook": 0}
        self._seed_catalog()

    def next_id(self, kind: str) -> int:
        self._next[kind] += 1
        return self._next[kind]

    def _seed_catalog(self) -> None:
        seeded_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        for item in catalog.products():
            product = self.add_product(item["title"], created=seeded_at)
            for v in item["variants"]:
                variant = self.add_variant(product, sku=v["sku"], name=f"{item['title']} - {v['title']}",
                                           barcode=v.get("barcode"), price=Decimal(v["price"]),
                                           weight_grams=int(v["weight_grams"]), created=seeded_at)
                for fc_id, qty in v["stock"].items():
                    self.stock[(variant.inventory_id, int(fc_id))].on_hand = int(qty)

    def add_product(self, name: str, *, created: datetime | None = None) -> Product:
        when = created or now()
        product = Product(self.next_id("product"), name, [], when, when)
        self.products[product.id] = product
        return product

    def add_variant(self, product: Product, *, sku: str, name: str, barcode: str | None, price: Decimal,
                    weight_grams: int, created: datetime | None = None) -> Variant:
        when = created or now()
        variant = Variant(self.next_id("variant"), product.id, self.next_id("inventory"), sku, name, barcode,
                          price, weight_grams, when, when)
        product.variants.append(variant)
        self.variants_by_sku[sku] = variant
        self.variants_by_inventory[variant.inventory_id] = variant
        for fc in self.fulfillment_centers:
            self.stock[(variant.inventory_id, fc.id)] = Stock()
        return variant

    def fc(self, fc_id: int) -> FulfillmentCenter | None:
        return next((fc for fc in self.fulfillment_centers if fc.id == fc_id), None)

    def order_by_reference(self, channel_id: int, reference_id: str) -> Order | None:
        return next((o for o in self.orders.values()
                     if o.reference_id == reference_id and o.channel_id == channel_id), None)

    def variant_for_product_id(self, product_or_variant_id: int) -> Variant | None:
        """`id` in AddProductToOrderByProductIdModel: a variant id, or a one-variant product's id."""
        for product in self.products.values():
            for variant in product.variants:
                if variant.id == product_or_variant_id:
                    return variant
        single = self.products.get(product_or_variant_id)
        if single is not None and len(single.variants) == 1:
            return single.variants[0]
        return None
