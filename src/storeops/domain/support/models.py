"""Support: tickets, triage results, replies, per-shop routing rules and policy (migration 0007)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, JSONText, ShopScoped

# SupportTicket.status
NEW, REPLIED, DRAFTED, ESCALATED = "new", "replied", "drafted", "escalated"
# TicketReply.kind / status
REPLY_KIND, DRAFT_KIND, NOTE_KIND = "reply", "draft", "note"
PLANNED, SENT, FAILED = "planned", "sent", "failed"


class SupportTicket(ShopScoped, Base):
    __tablename__ = "support_tickets"
    __table_args__ = (UniqueConstraint("shop_id", "gorgias_ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    gorgias_ticket_id: Mapped[str] = mapped_column(String(32))
    customer_email: Mapped[str | None] = mapped_column(String(320), default=None, index=True)
    gorgias_customer_id: Mapped[str | None] = mapped_column(String(32), default=None)
    channel: Mapped[str | None] = mapped_column(String(32), default=None)
    subject: Mapped[str | None] = mapped_column(String(500), default=None)
    status: Mapped[str] = mapped_column(String(16), default=NEW, index=True)
    intent: Mapped[str | None] = mapped_column(String(64), default=None)
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSONText, default=None)
    frustration: Mapped[float | None] = mapped_column(Float, default=None)
    urgency: Mapped[str | None] = mapped_column(String(16), default=None)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    escalation_reason: Mapped[str | None] = mapped_column(Text, default=None)
    sla_due_at: Mapped[datetime | None] = mapped_column(default=None)
    sla_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    automated: Mapped[bool] = mapped_column(Boolean, default=False)
    last_message_id: Mapped[str | None] = mapped_column(String(32), default=None)  # last customer message decided
    messages_handled: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)  # first customer message, as Gorgias dates it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TicketReply(ShopScoped, Base):
    """A reply (sent to the customer), a draft (shadow mode: an internal note) or a note."""

    __tablename__ = "support_replies"
    __table_args__ = (UniqueConstraint("shop_id", "gorgias_ticket_id", "message_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    gorgias_ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    message_id: Mapped[str] = mapped_column(String(32))  # the customer message it answers ("360" for the summary)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=PLANNED)
    template: Mapped[str | None] = mapped_column(String(32), default=None)
    body: Mapped[str] = mapped_column(Text)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    grounding: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)  # {"ok", "unsupported"}
    recipient: Mapped[str | None] = mapped_column(String(320), default=None)
    gorgias_message_id: Mapped[str | None] = mapped_column(String(32), default=None)
    decision_id: Mapped[int | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class SupportSettings(ShopScoped, Base):
    """The merchant's routing rules and support policy (JSON, edited in the dashboard / API)."""

    __tablename__ = "support_settings"
    __table_args__ = (UniqueConstraint("shop_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    routing_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONText, default=list)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
