"""Customer records (personal data). Redaction blanks every personal field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, JSONText, ShopScoped


class Customer(ShopScoped, Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("shop_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64))  # Shopify customer id
    email: Mapped[str | None] = mapped_column(String(320), default=None, index=True)
    first_name: Mapped[str | None] = mapped_column(String(255), default=None)
    last_name: Mapped[str | None] = mapped_column(String(255), default=None)
    phone: Mapped[str | None] = mapped_column(String(64), default=None)
    addresses: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONText, default=None)
    tags: Mapped[str] = mapped_column(String(1000), default="")
    orders_count: Mapped[int] = mapped_column(default=0)
    total_spent_minor: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    # Vendor's updated_at of the snapshot we hold: older events never overwrite newer state.
    source_updated_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    redacted_at: Mapped[datetime | None] = mapped_column(default=None)


class DataRequest(ShopScoped, Base):
    """A customers/data_request from Shopify and the export we prepared for the merchant."""

    __tablename__ = "customer_data_requests"
    __table_args__ = (UniqueConstraint("shop_id", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64))
    customer_external_id: Mapped[str | None] = mapped_column(String(64), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    export: Mapped[dict[str, Any]] = mapped_column(JSONText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
