"""The sandbox's records: what a Shopify store holds, in memory.

Plain dataclasses; GraphQL fields resolve from them by name (productType ->
product_type) unless a resolver in resolvers_*.py says otherwise. `TYPENAME` is the
GraphQL type a record answers as (for Node / interface fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from storeops.sandbox.shopify.ids import gid

# Inventory quantity names (shopify.dev "Inventory states"): on_hand is the sum of
# available and the states that hold stock back; set/adjust accept available and on_hand.
QUANTITY_NAMES = ("available", "committed", "damaged", "incoming", "on_hand", "quality_control",
                  "reserved", "safety_stock")
HELD_STATES = ("committed", "damaged", "quality_control", "reserved", "safety_stock")


class Record:
    TYPENAME: ClassVar[str] = ""
    id: int

    @property
    def gid(self) -> str:
        return gid(self.TYPENAME, self.id)


@dataclass
class Location(Record):
    TYPENAME: ClassVar[str] = "Location"
    id: int
    name: str
    address: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    fc_id: int = 0  # the catalog's fulfillment-center id this location stands for
    is_active: bool = True
    fulfills_online_orders: bool = True
    ships_inventory: bool = True
    has_active_inventory: bool = True


@dataclass
class InventoryItem(Record):
    TYPENAME: ClassVar[str] = "InventoryItem"
    id: int
    variant_id: int
    sku: str | None
    weight_grams: int
    created_at: datetime
    updated_at: datetime
    tracked: bool = True
    requires_shipping: bool = True
    unit_cost: Decimal | None = None


@dataclass
class InventoryLevel(Record):
    TYPENAME: ClassVar[str] = "InventoryLevel"
    item_id: int
    location_id: int
    quantities: dict[str, int]
    created_at: datetime
    updated_at: datetime
    is_active: bool = True

    @property
    def id(self) -> int:  # type: ignore[override]
        return self.location_id

    @property
    def gid(self) -> str:
        # Shopify's form: gid://shopify/InventoryLevel/<n>?inventory_item_id=<item id>
        return gid("InventoryLevel", self.location_id, inventory_item_id=self.item_id)


@dataclass
class Variant(Record):
    TYPENAME: ClassVar[str] = "ProductVariant"
    id: int
    product_id: int
    inventory_item_id: int
    title: str
    sku: str | None
    barcode: str | None
    price: Decimal
    position: int
    options: dict[str, str]
    weight_grams: int
    created_at: datetime
    updated_at: datetime
    compare_at_price: Decimal | None = None
    inventory_policy: str = "DENY"
    taxable: bool = True


@dataclass
class Product(Record):
    TYPENAME: ClassVar[str] = "Product"
    id: int
    title: str
    handle: str
    description_html: str
    vendor: str
    product_type: str
    tags: list[str]
    options: list[tuple[str, list[str]]]
    variant_ids: list[int]
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    status: str = "ACTIVE"
    seo_title: str | None = None  # None: Shopify falls back to the title / description
    seo_description: str | None = None


@dataclass
class Address(Record):
    TYPENAME: ClassVar[str] = "MailingAddress"
    id: int
    first_name: str
    last_name: str
    address1: str
    city: str
    province: str
    province_code: str
    zip: str
    phone: str
    country: str = "United States"
    country_code: str = "US"
    address2: str | None = None
    company: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


@dataclass
class Customer(Record):
    TYPENAME: ClassVar[str] = "Customer"
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str | None
    addresses: list[Address]
    created_at: datetime
    updated_at: datetime
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    state: str = "ENABLED"
    verified_email: bool = True
    tax_exempt: bool = False
    accepts_marketing: bool = False
    order_ids: list[int] = field(default_factory=list)


@dataclass
class LineItem(Record):
    TYPENAME: ClassVar[str] = "LineItem"
    id: int
    variant_id: int | None
    product_id: int | None
    title: str
    variant_title: str | None
    sku: str | None
    vendor: str | None
    quantity: int
    price: Decimal
    grams: int
    requires_shipping: bool = True
    taxable: bool = True
    fulfilled_quantity: int = 0
    refunded_quantity: int = 0
    properties: list[dict[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.title} - {self.variant_title}" if self.variant_title else self.title


@dataclass
class ShippingLine(Record):
    TYPENAME: ClassVar[str] = "ShippingLine"
    id: int
    title: str
    code: str
    price: Decimal
    source: str = "shopify"


@dataclass
class Transaction(Record):
    TYPENAME: ClassVar[str] = "OrderTransaction"
    id: int
    kind: str  # sale | refund | authorization
    status: str  # success | failure | pending
    amount: Decimal
    gateway: str
    created_at: datetime
    parent_id: int | None = None


@dataclass
class Order(Record):
    TYPENAME: ClassVar[str] = "Order"
    id: int
    number: int
    email: str
    phone: str | None
    customer_id: int | None
    shipping_address: Address | None
    billing_address: Address | None
    line_items: list[LineItem]
    shipping_line: ShippingLine | None
    financial_status: str  # paid | pending | partially_refunded | refunded | voided
    created_at: datetime
    updated_at: datetime
    token: str
    checkout_token: str | None = None
    cart_token: str | None = None
    gateway: str = "shopify_payments"
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    note_attributes: list[dict[str, str]] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    source_name: str = "web"
    buyer_accepts_marketing: bool = False
    test: bool = False
    transactions: list[Transaction] = field(default_factory=list)
    fulfillment_order_ids: list[int] = field(default_factory=list)
    fulfillment_ids: list[int] = field(default_factory=list)
    refund_ids: list[int] = field(default_factory=list)
    return_ids: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def processed_at(self) -> datetime:
        return self.created_at


@dataclass
class FulfillmentOrderLineItem(Record):
    TYPENAME: ClassVar[str] = "FulfillmentOrderLineItem"
    id: int
    line_item_id: int
    inventory_item_id: int | None
    variant_id: int | None
    total_quantity: int
    remaining_quantity: int


@dataclass
class FulfillmentOrder(Record):
    TYPENAME: ClassVar[str] = "FulfillmentOrder"
    id: int
    order_id: int
    location_id: int
    line_items: list[FulfillmentOrderLineItem]
    created_at: datetime
    updated_at: datetime
    status: str = "OPEN"  # OPEN | IN_PROGRESS | CLOSED | CANCELLED
    request_status: str = "UNSUBMITTED"
    fulfillment_ids: list[int] = field(default_factory=list)


@dataclass
class FulfillmentLineItem(Record):
    TYPENAME: ClassVar[str] = "FulfillmentLineItem"
    id: int
    line_item_id: int
    quantity: int


@dataclass
class Fulfillment(Record):
    TYPENAME: ClassVar[str] = "Fulfillment"
    id: int
    order_id: int
    location_id: int
    name: str
    line_items: list[FulfillmentLineItem]
    fulfillment_order_ids: list[int]
    created_at: datetime
    updated_at: datetime
    tracking_company: str | None = None
    tracking_numbers: list[str] = field(default_factory=list)
    tracking_urls: list[str] = field(default_factory=list)
    status: str = "SUCCESS"
    shipment_status: str | None = None


@dataclass
class RefundLineItem(Record):
    TYPENAME: ClassVar[str] = "RefundLineItem"
    id: int
    line_item_id: int
    quantity: int
    restock_type: str  # NO_RESTOCK | CANCEL | RETURN
    location_id: int | None
    subtotal: Decimal


@dataclass
class Refund(Record):
    TYPENAME: ClassVar[str] = "Refund"
    id: int
    order_id: int
    note: str | None
    line_items: list[RefundLineItem]
    shipping_amount: Decimal
    transactions: list[Transaction]
    created_at: datetime
    return_id: int | None = None

    @property
    def total(self) -> Decimal:
        return sum((t.amount for t in self.transactions if t.status == "success"), Decimal("0"))


@dataclass
class ReturnLineItem(Record):
    TYPENAME: ClassVar[str] = "ReturnLineItem"
    id: int
    fulfillment_line_item_id: int
    line_item_id: int
    quantity: int
    return_reason_note: str = ""
    customer_note: str | None = None
    processed_quantity: int = 0


@dataclass
class Return(Record):
    TYPENAME: ClassVar[str] = "Return"
    id: int
    order_id: int
    name: str
    line_items: list[ReturnLineItem]
    created_at: datetime
    status: str = "OPEN"
    closed_at: datetime | None = None


@dataclass
class Metafield(Record):
    TYPENAME: ClassVar[str] = "Metafield"
    id: int
    owner_gid: str
    namespace: str
    key: str
    value: str
    type: str
    created_at: datetime
    updated_at: datetime


@dataclass
class WebhookSubscription(Record):
    TYPENAME: ClassVar[str] = "WebhookSubscription"
    id: int
    topic: str  # REST form, e.g. "orders/create"
    uri: str
    created_at: datetime
    updated_at: datetime
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    metafield_namespaces: list[str] = field(default_factory=list)
    filter: str | None = None
    name: str | None = None


@dataclass
class Checkout:
    """A storefront checkout (REST-only resource: it reaches apps as checkouts/* webhooks)."""

    id: int
    token: str
    cart_token: str
    email: str
    customer_id: int | None
    shipping_address: Address
    line_items: list[LineItem]
    shipping_line: ShippingLine
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    order_id: int | None = None
    status: str = "open"  # open | abandoned | completed | payment_failed
    gateway: str = "shopify_payments"
