"""Tenancy tables every layer refers to: shops and their encrypted credentials."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, ShopScoped


class Shop(Base):
    """A merchant's store: the tenant. `domain` is its myshopify.com domain."""

    __tablename__ = "shops"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # set when Shopify's shop/redact arrived and the shop's data was erased
    redacted_at: Mapped[datetime | None] = mapped_column(default=None)


class ShopCredential(ShopScoped, Base):
    """One secret of one shop for one vendor, Fernet-encrypted (storeops.core.secrets)."""

    __tablename__ = "shop_credentials"
    __table_args__ = (UniqueConstraint("shop_id", "vendor", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    shop_id: Mapped[str] = mapped_column(String(40), ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    vendor: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(40))  # webhook_secret, access_token, api_key, ...
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AdminToken(Base):
    """Hashes of API tokens with admin rights (the bootstrap token and any added later)."""

    __tablename__ = "admin_tokens"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80), default="bootstrap")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
