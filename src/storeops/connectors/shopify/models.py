"""What the Shopify connector hands back: small frozen dataclasses built from the
GraphQL nodes of documents.py. Ids stay global ids (gid://shopify/...); money is Decimal;
times are timezone-aware."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _money(bag: dict[str, Any] | None) -> Decimal:
    return Decimal(str(((bag or {}).get("shopMoney") or {}).get("amount") or "0"))


@dataclass(frozen=True)
class Location:
    id: str
    legacy_id: int
    name: str
    active: bool
    fulfills_online_orders: bool
    address: dict[str, Any]

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> Location:
        return cls(id=n["id"], legacy_id=int(n["legacyResourceId"]), name=n["name"], active=n["isActive"],
                   fulfills_online_orders=n["fulfillsOnlineOrders"], address=n.get("address") or {})


@dataclass(frozen=True)
class Variant:
    id: str
    legacy_id: int
    sku: str | None
    barcode: str | None
    title: str
    price: Decimal
    position: int
    inventory_item_id: str
    options: dict[str, str]
    updated_at: datetime | None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> Variant:
        return cls(id=n["id"], legacy_id=int(n["legacyResourceId"]), sku=n.get("sku"), barcode=n.get("barcode"),
                   title=n["title"], price=Decimal(str(n["price"])), position=n["position"],
                   inventory_item_id=n["inventoryItem"]["id"],
                   options={o["name"]: o["value"] for o in n.get("selectedOptions") or []},
                   updated_at=parse_time(n.get("updatedAt")))


@dataclass(frozen=True)
class Product:
    id: str
    legacy_id: int
    title: str
    handle: str
    status: str
    vendor: str
    product_type: str
    tags: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    variants: tuple[Variant, ...] = ()

    @classmethod
    def from_node(cls, n: dict[str, Any], variants: list[Variant]) -> Product:
        return cls(id=n["id"], legacy_id=int(n["legacyResourceId"]), title=n["title"], handle=n["handle"],
                   status=n["status"], vendor=n["vendor"], product_type=n["productType"], tags=tuple(n["tags"]),
                   created_at=parse_time(n.get("createdAt")), updated_at=parse_time(n.get("updatedAt")),
                   variants=tuple(variants))


@dataclass(frozen=True)
class InventoryLevel:
    inventory_item_id: str
    sku: str | None
    location_id: str
    quantities: dict[str, int]


@dataclass(frozen=True)
class LineItem:
    id: str
    sku: str | None
    name: str
    quantity: int
    current_quantity: int
    unfulfilled_quantity: int
    unit_price: Decimal
    variant_id: str | None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> LineItem:
        return cls(id=n["id"], sku=n.get("sku"), name=n["name"], quantity=n["quantity"],
                   current_quantity=n["currentQuantity"], unfulfilled_quantity=n["unfulfilledQuantity"],
                   unit_price=_money(n.get("originalUnitPriceSet")), variant_id=(n.get("variant") or {}).get("id"))


@dataclass(frozen=True)
class FulfillmentOrderLine:
    id: str
    line_item_id: str
    remaining_quantity: int
    total_quantity: int


@dataclass(frozen=True)
class FulfillmentOrder:
    id: str
    status: str
    location_id: str | None
    line_items: tuple[FulfillmentOrderLine, ...]

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> FulfillmentOrder:
        location = (n.get("assignedLocation") or {}).get("location") or {}
        return cls(id=n["id"], status=n["status"], location_id=location.get("id"), line_items=tuple(
            FulfillmentOrderLine(id=li["id"], line_item_id=li["lineItem"]["id"],
                                 remaining_quantity=li["remainingQuantity"], total_quantity=li["totalQuantity"])
            for li in n["lineItems"]["nodes"]))


@dataclass(frozen=True)
class Order:
    id: str
    legacy_id: int
    name: str
    email: str | None
    created_at: datetime | None
    updated_at: datetime | None
    cancelled_at: datetime | None
    financial_status: str | None
    fulfillment_status: str
    tags: tuple[str, ...]
    currency: str
    total: Decimal
    subtotal: Decimal
    shipping: Decimal
    refunded: Decimal
    gateways: tuple[str, ...]
    customer_id: str | None
    customer_email: str | None
    shipping_address: dict[str, Any] | None
    line_items: tuple[LineItem, ...]
    fulfillment_orders: tuple[FulfillmentOrder, ...] = field(default=())

    @classmethod
    def from_node(cls, n: dict[str, Any], line_items: list[LineItem]) -> Order:
        customer = n.get("customer") or {}
        return cls(
            id=n["id"], legacy_id=int(n["legacyResourceId"]), name=n["name"], email=n.get("email"),
            created_at=parse_time(n.get("createdAt")), updated_at=parse_time(n.get("updatedAt")),
            cancelled_at=parse_time(n.get("cancelledAt")), financial_status=n.get("displayFinancialStatus"),
            fulfillment_status=n["displayFulfillmentStatus"], tags=tuple(n["tags"]), currency=n["currencyCode"],
            total=_money(n.get("totalPriceSet")), subtotal=_money(n.get("subtotalPriceSet")),
            shipping=_money(n.get("totalShippingPriceSet")), refunded=_money(n.get("totalRefundedSet")),
            gateways=tuple(n.get("paymentGatewayNames") or ()), customer_id=customer.get("id"),
            customer_email=(customer.get("defaultEmailAddress") or {}).get("emailAddress"),
            shipping_address=n.get("shippingAddress"), line_items=tuple(line_items),
            fulfillment_orders=tuple(FulfillmentOrder.from_node(fo)
                                     for fo in (n.get("fulfillmentOrders") or {}).get("nodes", [])))


@dataclass(frozen=True)
class Customer:
    id: str
    legacy_id: int
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    tags: tuple[str, ...]
    updated_at: datetime | None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> Customer:
        return cls(id=n["id"], legacy_id=int(n["legacyResourceId"]), first_name=n.get("firstName"),
                   last_name=n.get("lastName"), email=(n.get("defaultEmailAddress") or {}).get("emailAddress"),
                   phone=(n.get("defaultPhoneNumber") or {}).get("phoneNumber"), tags=tuple(n.get("tags") or ()),
                   updated_at=parse_time(n.get("updatedAt")))


@dataclass(frozen=True)
class InventoryChange:
    name: str
    delta: int
    quantity_after: int | None
    inventory_item_id: str
    location_id: str
