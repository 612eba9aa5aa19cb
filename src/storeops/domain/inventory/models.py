"""Inventory: stock levels, reservations, channel atp: the tables (see migration 0005).

StockLevel    the truth: units on hand per SKU per location (a ShipBob FC id), newer-wins
              on the source's stamp (a late poll never overwrites a newer one).
Reservation   units promised to an open order, per SKU and location; `open` rows count
              against ATP, `released` (cancelled) / `shipped` rows no longer do, `short`
              rows were bumped because the stock under them disappeared (oversell).
ChannelListing one row per (channel, SKU, location): what we last pushed, what we last saw
              on the channel, the target we want it to show and whether a push is pending.
              Amazon rows use location "" (one quantity per SKU).
ChannelPolicy per channel: safety buffer, floor and allocation share.
SkuThreshold  low-stock threshold per SKU.
InventoryAlert oversell / low-stock / drift alerts a person sees on the dashboard.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, JSONText, ShopScoped

# Reservation.status
OPEN, RELEASED, SHIPPED, SHORT = "open", "released", "shipped", "short"
# Channels
SHOPIFY, AMAZON = "shopify", "amazon"
CHANNELS = (SHOPIFY, AMAZON)
# InventoryAlert.kind
OVERSELL, LOW_STOCK, DRIFT = "oversell", "low_stock", "drift"


class StockLevel(ShopScoped, Base):
    __tablename__ = "stock_levels"
    __table_args__ = (UniqueConstraint("shop_id", "sku", "location"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(128), index=True)
    location: Mapped[str] = mapped_column(String(64))  # ShipBob fulfillment center id
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16), default="shipbob")
    source_updated_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Reservation(ShopScoped, Base):
    __tablename__ = "stock_reservations"
    __table_args__ = (UniqueConstraint("shop_id", "order_id", "sku", "location"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)  # the order's external id
    sku: Mapped[str] = mapped_column(String(128), index=True)
    location: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChannelListing(ShopScoped, Base):
    __tablename__ = "channel_listings"
    __table_args__ = (UniqueConstraint("shop_id", "channel", "sku", "location"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    sku: Mapped[str] = mapped_column(String(128), index=True)
    location: Mapped[str] = mapped_column(String(64), default="")
    external_item: Mapped[str | None] = mapped_column(String(128), default=None)  # Shopify InventoryItem gid
    external_location: Mapped[str | None] = mapped_column(String(128), default=None)  # Shopify Location gid
    stocked: Mapped[bool] = mapped_column(Boolean, default=True)  # False: the channel refuses this level
    target: Mapped[int | None] = mapped_column(Integer, default=None)  # the ATP the channel should show
    last_pushed: Mapped[int | None] = mapped_column(Integer, default=None)
    last_seen: Mapped[int | None] = mapped_column(Integer, default=None)
    pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    pushed_at: Mapped[datetime | None] = mapped_column(default=None)
    seen_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChannelPolicy(ShopScoped, Base):
    __tablename__ = "channel_policies"
    __table_args__ = (UniqueConstraint("shop_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    safety_buffer: Mapped[int] = mapped_column(Integer, default=0)
    floor: Mapped[int] = mapped_column(Integer, default=0)
    share_pct: Mapped[int] = mapped_column(Integer, default=100)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SkuThreshold(ShopScoped, Base):
    __tablename__ = "sku_thresholds"
    __table_args__ = (UniqueConstraint("shop_id", "sku"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(128))
    low_stock: Mapped[int] = mapped_column(Integer, default=0)


class InventoryAlert(ShopScoped, Base):
    __tablename__ = "inventory_alerts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    sku: Mapped[str] = mapped_column(String(128), index=True)
    order_id: Mapped[str | None] = mapped_column(String(64), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
