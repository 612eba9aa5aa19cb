"""Orders as storeops tracks them across systems: Shopify (source), ShipBob (fulfillment).

One row per Shopify order. `source_updated_at` is Shopify's `updated_at` of the snapshot we
hold: a late or reordered webhook with an older stamp never overwrites newer state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, JSONText, ShopScoped

# Order.status: where the order is in storeops' own pipeline.
NEW, ROUTED, HELD, SHIPPED, DELIVERED, CANCELLED, SHADOWED, BACKORDERED = (
    "new", "routed", "held", "shipped", "delivered", "cancelled", "shadowed", "backordered")


class Order(ShopScoped, Base):
    __tablename__ = "orders"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64))  # Shopify order id (numeric, as text)
    gid: Mapped[str | None] = mapped_column(String(128), default=None)  # gid://shopify/Order/<id>
    name: Mapped[str | None] = mapped_column(String(64), default=None)  # "#1001"
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    customer_external_id: Mapped[str | None] = mapped_column(String(64), default=None)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    total: Mapped[str] = mapped_column(String(32), default="0")  # Decimal as text, never float
    financial_status: Mapped[str | None] = mapped_column(String(32), default=None)
    shopify_fulfillment_status: Mapped[str | None] = mapped_column(String(32), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    shipping_method: Mapped[str] = mapped_column(String(255), default="")
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONText, default=None)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSONText, default=list)
    tags: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(16), default=NEW, index=True)
    priority: Mapped[str | None] = mapped_column(String(16), default=None)
    checks: Mapped[dict[str, Any] | None] = mapped_column(JSONText, default=None)  # address + risk results
    assigned_fc: Mapped[str | None] = mapped_column(String(32), default=None)
    shipbob_order_id: Mapped[str | None] = mapped_column(String(32), default=None)
    shipbob_status: Mapped[str | None] = mapped_column(String(32), default=None)
    tracking_number: Mapped[str | None] = mapped_column(String(64), default=None)
    tracking_company: Mapped[str | None] = mapped_column(String(64), default=None)
    tracking_url: Mapped[str | None] = mapped_column(String(500), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)  # checks + routing ran once
    source_updated_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderRuleSet(ShopScoped, Base):
    """A merchant's order rules as versioned JSON, one row per shop and name
    ("substitution": see storeops.domain.orders.substitution)."""

    __tablename__ = "order_rule_sets"
    __table_args__ = (UniqueConstraint("shop_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    updated_by: Mapped[str | None] = mapped_column(String(128), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
