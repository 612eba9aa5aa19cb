"""The plain facts the order decisions read: small frozen dataclasses, no database, no HTTP.

Flows map vendor payloads (a Shopify order, a customer record) into these; the decision
functions in this package never see a vendor shape. Money is Decimal in the order's
currency; weights are grams (Shopify's `grams` on a line item).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

SERVICE_LEVELS = ("standard", "express", "overnight")


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address in Shopify's field names (`province_code`, `zip`, `country_code`)."""

    address1: str = ""
    city: str = ""
    province_code: str = ""
    zip: str = ""
    country_code: str = ""
    address2: str = ""
    name: str = ""
    company: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """One order line: `quantity` units of `sku`, each weighing `grams`."""

    sku: str
    quantity: int
    grams: int = 0
    unit_price: Decimal = Decimal("0")
    line_id: str = ""

    @property
    def key(self) -> str:
        return self.line_id or self.sku


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What the decisions need to know about one order.

    `shipping_method` is the storefront's shipping line title ("UPS Next Day Air", "Standard");
    `service_level` is what routing bills: standard, express or overnight. Flows derive the
    second from the first with `risk.service_level_of` unless the shop maps it explicitly.
    `destination` is an optional (lat, lon) for addresses outside the shipped US ZIP data.
    """

    order_id: str
    lines: tuple[Line, ...]
    shipping_address: Address
    billing_address: Address | None = None
    total: Decimal = Decimal("0")
    currency: str = "USD"
    shipping_method: str = ""
    service_level: str = "standard"
    payment_state: str = "paid"
    tags: tuple[str, ...] = ()
    customer_id: str | None = None
    destination: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class CustomerHistory:
    """The customer as of before this order: `orders_count` excludes the order being scored."""

    customer_id: str | None = None
    orders_count: int = 0
    lifetime_value: Decimal = Decimal("0")
    tags: tuple[str, ...] = field(default_factory=tuple)
