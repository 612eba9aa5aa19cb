"""Inbox and outbox: the durable edges of storeops.

The inbox holds every inbound vendor event exactly once (unique on shop + vendor +
vendor event id). The outbox holds every outbound effect a flow decided on, written
in the same transaction as the decision, keyed by an idempotency key derived from
(event, action) so a replay cannot create a second effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storeops.core.clock import utcnow
from storeops.db.base import Base, JSONText, ShopScoped

# Inbox statuses. `pending` rows are waiting for a worker; `invalid` were signed
# correctly but could not be parsed; `failed` exhausted their retries; `ignored` had
# no handler for their topic.
PENDING, PROCESSED, INVALID, FAILED, IGNORED = "pending", "processed", "invalid", "failed", "ignored"


class InboxEvent(ShopScoped, Base):
    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("shop_id", "vendor", "event_id"),
        Index("ix_inbox_events_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    topic: Mapped[str] = mapped_column(String(120))
    headers: Mapped[dict[str, str]] = mapped_column(JSONText)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    process_count: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    processed_by: Mapped[str | None] = mapped_column(String(80), default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # Whose personal data the body holds ("customer:<id>"), set by handlers, so a
    # privacy redaction can erase the raw bodies too.
    subject: Mapped[str | None] = mapped_column(String(120), default=None, index=True)


REDACTED_BODY = b'{"redacted":true}'


class OutboxMessage(ShopScoped, Base):
    """An outbound effect to perform: call a vendor or start a workflow."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_outbox_messages_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(80))  # "shopify.tag_order", "workflow:route_order", ...
    payload: Mapped[dict[str, Any]] = mapped_column(JSONText)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)  # pending / dispatched / done / failed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    workflow_id: Mapped[str | None] = mapped_column(String(120), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONText, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # A vendor that stayed unavailable through a whole retry policy sends the message back
    # to pending for a later round: `rounds` counts them (and names a partitioned action's
    # workflow), `not_before` is when the next may start, `failing_since` when the
    # transient failures began (the message fails once that is too long ago).
    rounds: Mapped[int] = mapped_column(default=0, server_default="0")
    not_before: Mapped[datetime | None] = mapped_column(default=None)
    failing_since: Mapped[datetime | None] = mapped_column(default=None)


class SyncCursor(ShopScoped, Base):
    """Where a polling sweep got to, per shop and per sweep ("shopify.orders", ...): the
    watermark it resumes from, so a restart neither skips nor re-reads everything."""

    __tablename__ = "sync_cursors"
    __table_args__ = (UniqueConstraint("shop_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80))
    value: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def newest_with_counts(session: Session, model: type[InboxEvent] | type[OutboxMessage], *, shop_id: str | None,
                       limit: int, **equal: str | None) -> tuple[list[Any], dict[str, int]]:
    """Inbox or outbox rows, newest first, filtered by the `equal` columns that are given, and
    the shop's counts by status (the counts ignore those filters: the whole picture)."""
    query = select(model).order_by(model.id.desc()).limit(limit)
    counts = select(model.status, func.count()).group_by(model.status)
    if shop_id:
        query = query.where(model.shop_id == shop_id)
        counts = counts.where(model.shop_id == shop_id)
    for column, value in equal.items():
        if value:
            query = query.where(getattr(model, column) == value)
    return list(session.scalars(query)), dict(session.execute(counts).tuples().all())
