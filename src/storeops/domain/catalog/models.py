"""Catalog: canonical products, their variants, per-channel renditions and live snapshots (migration 0006).

Money is Decimal text (as orders.total); weights are whole grams. A Rendition is what we
compiled for one channel from the canonical record; a ChannelSnapshot is what that channel
showed the last time the consistency monitor read it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, JSONText, ShopScoped

# Rendition.status
PENDING, VALID, INVALID = "pending", "valid", "invalid"


class Product(ShopScoped, Base):
    __tablename__ = "catalog_products"
    __table_args__ = (UniqueConstraint("shop_id", "handle"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    handle: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")  # plain text, HTML stripped
    vendor: Mapped[str] = mapped_column(String(255), default="")
    product_type: Mapped[str] = mapped_column(String(255), default="")
    tags: Mapped[list[str]] = mapped_column(JSONText, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)  # material, pattern, ...
    options: Mapped[dict[str, list[str]]] = mapped_column(JSONText, default=dict)  # size -> [S, M]
    compliance: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)  # country of origin, warnings
    seo_title: Mapped[str | None] = mapped_column(String(255), default=None)
    seo_description: Mapped[str | None] = mapped_column(Text, default=None)
    media: Mapped[list[str]] = mapped_column(JSONText, default=list)  # image URLs, in order
    source: Mapped[str] = mapped_column(String(16), default="csv")  # csv | shopify
    shopify_gid: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Variant(ShopScoped, Base):
    __tablename__ = "catalog_variants"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("catalog_products.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(255), default="Default Title")
    sku: Mapped[str | None] = mapped_column(String(128), default=None, index=True)
    barcode: Mapped[str | None] = mapped_column(String(64), default=None)
    price: Mapped[str] = mapped_column(String(32), default="0")  # Decimal text
    compare_at_price: Mapped[str | None] = mapped_column(String(32), default=None)
    weight_grams: Mapped[int | None] = mapped_column(Integer, default=None)
    options: Mapped[dict[str, str]] = mapped_column(JSONText, default=dict)


class Rendition(ShopScoped, Base):
    __tablename__ = "catalog_renditions"
    __table_args__ = (UniqueConstraint("shop_id", "product_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("catalog_products.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # shopify | amazon | klaviyo | email
    fields: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSONText, default=list)
    generator: Mapped[str] = mapped_column(String(64), default="offline")
    published_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChannelSnapshot(ShopScoped, Base):
    """What a channel showed for a product when the consistency monitor last read it."""

    __tablename__ = "catalog_channel_snapshots"
    __table_args__ = (UniqueConstraint("shop_id", "product_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("catalog_products.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    live_fields: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    equal: Mapped[bool] = mapped_column(default=False)
    drift: Mapped[list[str]] = mapped_column(JSONText, default=list)  # field names that differ
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
