"""Returns: the tables (see migration 0004).

One `ReturnRequest` per customer request, whatever it came from (a Shopify return request,
a Gorgias ticket, the API), with its lines, the policy's verdict, the refund quote and the
ids the request has in every system it reaches (Shopify return, ShipBob return order,
Shopify refund). Amounts are Decimal as text, never float. `(source, source_ref)` is unique
per shop: the same Shopify return or ticket asked twice is one request.

    requested -> approved | rejected | needs_review
    needs_review -> approved | rejected            (a person decides)
    approved -> label_issued -> received -> refunded -> closed
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, JSONText, ShopScoped

REQUESTED, APPROVED, REJECTED, NEEDS_REVIEW = "requested", "approved", "rejected", "needs_review"
LABEL_ISSUED, RECEIVED, REFUNDED, CLOSED = "label_issued", "received", "refunded", "closed"
STATUSES = (REQUESTED, APPROVED, REJECTED, NEEDS_REVIEW, LABEL_ISSUED, RECEIVED, REFUNDED, CLOSED)
SOURCES = ("shopify", "gorgias", "api")


class ReturnRequest(ShopScoped, Base):
    __tablename__ = "return_requests"
    __table_args__ = (UniqueConstraint("shop_id", "source", "source_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_external_id: Mapped[str] = mapped_column(String(64), index=True)  # Shopify order id
    order_name: Mapped[str | None] = mapped_column(String(64), default=None)
    customer_external_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    source: Mapped[str] = mapped_column(String(16))  # shopify | gorgias | api
    source_ref: Mapped[str | None] = mapped_column(String(128), default=None)  # Shopify return / ticket id
    status: Mapped[str] = mapped_column(String(16), default=REQUESTED, index=True)
    reason: Mapped[str] = mapped_column(String(32))
    condition: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(String(1000), default=None)
    eligibility: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)  # policy verdict + reasons
    decided_by: Mapped[str | None] = mapped_column(String(64), default=None)  # "policy" or "person"
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    refund_subtotal: Mapped[str] = mapped_column(String(32), default="0")
    restocking_fee: Mapped[str] = mapped_column(String(32), default="0")
    shipping_refund: Mapped[str] = mapped_column(String(32), default="0")
    refund_total: Mapped[str] = mapped_column(String(32), default="0")
    shopify_return_id: Mapped[str | None] = mapped_column(String(128), default=None)
    shipbob_return_id: Mapped[str | None] = mapped_column(String(32), default=None)
    rma: Mapped[str | None] = mapped_column(String(50), default=None)  # ShipBob reference id on the box
    fulfillment_center_id: Mapped[str | None] = mapped_column(String(32), default=None)
    tracking_number: Mapped[str | None] = mapped_column(String(64), default=None)
    shipbob_status: Mapped[str | None] = mapped_column(String(32), default=None)
    refund_id: Mapped[str | None] = mapped_column(String(128), default=None)  # Shopify refund gid
    received_at: Mapped[datetime | None] = mapped_column(default=None)
    refunded_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReturnLine(ShopScoped, Base):
    __tablename__ = "return_lines"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("return_requests.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[str] = mapped_column(String(64))  # Shopify line item id
    sku: Mapped[str] = mapped_column(String(128), default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    quantity: Mapped[int] = mapped_column()
    unit_price: Mapped[str] = mapped_column(String(32), default="0")
    refund_amount: Mapped[str] = mapped_column(String(32), default="0")


class ReturnPolicySetting(ShopScoped, Base):
    """The shop's return policy as JSON (storeops.domain.returns.policy.ReturnPolicy.as_json)."""

    __tablename__ = "return_policies"
    __table_args__ = (UniqueConstraint("shop_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
