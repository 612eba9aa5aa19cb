"""DecisionRecord: one row per decision; AutomationMode: off | shadow | live per shop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, JSONText, ShopScoped

OFF, SHADOW, LIVE = "off", "shadow", "live"
MODES = (OFF, SHADOW, LIVE)


class DecisionRecord(ShopScoped, Base):
    __tablename__ = "decision_records"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(128), index=True)  # "order:<shopify id>"
    automation: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    rules: Mapped[list[str]] = mapped_column(JSONText, default=list)  # "name@version" that ran / fired
    outputs: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    intended_actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONText, default=list)
    # {"target", "key", "status": emitted|done|failed, "result"}: filled in as actions finish.
    actions_taken: Mapped[list[dict[str, Any]]] = mapped_column(JSONText, default=list)
    cause: Mapped[str | None] = mapped_column(String(200), default=None)  # the inbound event
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AutomationMode(ShopScoped, Base):
    __tablename__ = "automation_modes"
    __table_args__ = (UniqueConstraint("shop_id", "automation"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    automation: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
