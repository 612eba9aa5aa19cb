"""Order exceptions queue: what the system could not decide, waiting on a person (migration 0003).

One row per (order, kind) while it is unresolved; the flows open them, people resolve them
from the dashboard / API, and a scheduled sweep escalates the ones past their SLA.

Service functions (every one takes the caller's session, i.e. its transaction):

    open_exception(session, shop_id, order, kind, reason, context=None, *, status=OPEN,
                   sla=None, now=None) -> OrderException
        Idempotent per (order, kind) while unresolved: a second call returns the open row
        (its reason/context refreshed) instead of a new one. `order` is an Order row (or its
        Shopify external id as text). `kind` is one of KINDS ("payment", "cancel_failed",
        "address", ...); `context` is JSON: the checks, decision id, suggested actions.
        `sla` overrides DEFAULT_SLA[kind].
    find_open(session, order_external_id, kind=None) -> OrderException | None
    get_exception(session, exception_id) -> OrderException            (NotFound)
    list_exceptions(session, *, status=None, kind=None, order=None, limit=200)
    resolve_exception(session, row, resolution, by, note=None, *, now=None)
        resolution: approved | fixed | overridden | auto_resolved | cancelled
    resolve_open(session, order_external_id, kind, resolution, by, note=None) -> row | None
    escalation_level(row, now) -> int                                   pure
    due_for_escalation(session, now) -> list[(row, new_level)]
    escalate(row, level, now)
    count_unresolved(session) -> int
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from storeops.core.clock import as_utc, utcnow
from storeops.core.errors import InvalidInput, NotFound
from storeops.db.base import Base, JSONText, ShopScoped

# Kinds of exceptions.
ADDRESS, RISK, NO_STOCK, STOCK_SHORTAGE, CONSENT, PAYMENT, SHIPBOB_EXCEPTION, CANCEL_FAILED, OTHER = (
    "address", "risk", "no_stock", "stock_shortage", "consent", "payment", "shipbob_exception",
    "cancel_failed", "other")
KINDS = (ADDRESS, RISK, NO_STOCK, STOCK_SHORTAGE, CONSENT, PAYMENT, SHIPBOB_EXCEPTION, CANCEL_FAILED, OTHER)

# Status: OPEN waits on a person in the merchant's team, WAITING on the customer (consent,
# a corrected address); both are unresolved and count as "waiting on a person".
OPEN, WAITING, RESOLVED = "open", "waiting", "resolved"
STATUSES = (OPEN, WAITING, RESOLVED)
UNRESOLVED = (OPEN, WAITING)

# Resolutions.
APPROVED, FIXED, OVERRIDDEN, AUTO_RESOLVED, CANCELLED = (
    "approved", "fixed", "overridden", "auto_resolved", "cancelled")
RESOLUTIONS = (APPROVED, FIXED, OVERRIDDEN, AUTO_RESOLVED, CANCELLED)

# How long each kind may wait before it is escalated (defaults; a caller may pass its own).
DEFAULT_SLA: dict[str, timedelta] = {
    ADDRESS: timedelta(hours=48),  # the customer has two days to correct it
    RISK: timedelta(hours=4),
    NO_STOCK: timedelta(hours=4),
    STOCK_SHORTAGE: timedelta(hours=8),
    CONSENT: timedelta(hours=48),
    PAYMENT: timedelta(hours=24),
    SHIPBOB_EXCEPTION: timedelta(hours=8),
    CANCEL_FAILED: timedelta(hours=2),
    OTHER: timedelta(hours=24),
}
MAX_LEVEL = 3


class OrderException(ShopScoped, Base):
    __tablename__ = "order_exceptions"
    # open_key is "<order>:<kind>" while unresolved and NULL once resolved: the unique
    # constraint makes "one open exception per order and kind" hold even under races
    # (NULLs never collide on SQLite or PostgreSQL).
    __table_args__ = (UniqueConstraint("shop_id", "open_key"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_external_id: Mapped[str] = mapped_column(String(64), index=True)  # Shopify order id
    order_name: Mapped[str | None] = mapped_column(String(64), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    open_key: Mapped[str | None] = mapped_column(String(100), default=None)
    reason: Mapped[str] = mapped_column(String(500), default="")
    context: Mapped[dict[str, Any]] = mapped_column(JSONText, default=dict)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    sla_due_at: Mapped[datetime] = mapped_column(default=utcnow)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution: Mapped[str | None] = mapped_column(String(16), default=None)
    resolved_by: Mapped[str | None] = mapped_column(String(128), default=None)
    resolution_note: Mapped[str | None] = mapped_column(String(1000), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def unresolved(self) -> bool:
        return self.status in UNRESOLVED

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or utcnow()) - as_utc(self.opened_at)

    def overdue(self, now: datetime | None = None) -> bool:
        return self.unresolved and (now or utcnow()) > as_utc(self.sla_due_at)


def _open_key(order_external_id: str, kind: str) -> str:
    return f"{order_external_id}:{kind}"


def _external_id(order: Any) -> tuple[str, str | None]:
    if isinstance(order, str):
        return order, None
    return str(order.external_id), getattr(order, "name", None)


def find_open(session: Session, order_external_id: str, kind: str | None = None) -> OrderException | None:
    query = select(OrderException).where(OrderException.order_external_id == order_external_id,
                                         OrderException.status.in_(UNRESOLVED))
    if kind is not None:
        query = query.where(OrderException.kind == kind)
    return session.scalars(query.order_by(OrderException.id)).first()


def open_exception(session: Session, shop_id: str, order: Any, kind: str, reason: str,
                   context: dict[str, Any] | None = None, *, status: str = OPEN,
                   sla: timedelta | None = None, now: datetime | None = None) -> OrderException:
    """Open (or refresh) the exception of `kind` for `order`; see the module docstring."""
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
    if status not in UNRESOLVED:
        raise InvalidInput("a new exception is open or waiting", field="status")
    external_id, name = _external_id(order)
    now = now or utcnow()
    row = find_open(session, external_id, kind)
    if row is not None:
        row.reason = reason[:500]
        row.status = status
        if context is not None:
            row.context = {**(row.context or {}), **context}
        return row
    row = OrderException(
        shop_id=shop_id, order_external_id=external_id, order_name=name, kind=kind, status=status,
        open_key=_open_key(external_id, kind), reason=reason[:500], context=dict(context or {}),
        opened_at=now, sla_due_at=now + (sla if sla is not None else DEFAULT_SLA[kind]))
    session.add(row)
    session.flush()
    return row


def get_exception(session: Session, exception_id: int) -> OrderException:
    row = session.scalar(select(OrderException).where(OrderException.id == exception_id))
    if row is None:
        raise NotFound("order exception", exception_id)
    return row


def list_exceptions(session: Session, *, status: str | None = None, kind: str | None = None,
                    order: str | None = None, limit: int = 200) -> list[OrderException]:
    """Newest first. status may be a status or "unresolved" (open + waiting)."""
    query = select(OrderException)
    if status == "unresolved":
        query = query.where(OrderException.status.in_(UNRESOLVED))
    elif status is not None:
        if status not in STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, unresolved", field="status")
        query = query.where(OrderException.status == status)
    if kind is not None:
        if kind not in KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(KINDS)}", field="kind")
        query = query.where(OrderException.kind == kind)
    if order is not None:
        query = query.where(OrderException.order_external_id == order)
    return list(session.scalars(query.order_by(OrderException.id.desc()).limit(limit)))


def count_unresolved(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(OrderException)
                              .where(OrderException.status.in_(UNRESOLVED))) or 0)


def resolve_exception(session: Session, row: OrderException, resolution: str, by: str,
                      note: str | None = None, *, now: datetime | None = None) -> OrderException:
    if resolution not in RESOLUTIONS:
        raise InvalidInput(f"resolution must be one of {', '.join(RESOLUTIONS)}", field="resolution")
    if not row.unresolved:
        raise InvalidInput(f"exception {row.id} is already resolved ({row.resolution})", field="id")
    row.status, row.open_key = RESOLVED, None
    row.resolution, row.resolved_by = resolution, by[:128]
    row.resolution_note = note[:1000] if note else None
    row.resolved_at = now or utcnow()
    session.flush()
    return row


def resolve_open(session: Session, order_external_id: str, kind: str, resolution: str, by: str,
                 note: str | None = None) -> OrderException | None:
    row = find_open(session, order_external_id, kind)
    return None if row is None else resolve_exception(session, row, resolution, by, note)


def escalation_level(row: OrderException, now: datetime) -> int:
    """0 within the SLA; 1 once past it, one more per further SLA period, at most MAX_LEVEL."""
    due, opened = as_utc(row.sla_due_at), as_utc(row.opened_at)
    if not row.unresolved or now <= due:
        return 0
    period = max(due - opened, timedelta(minutes=1))
    return min(MAX_LEVEL, 1 + int((now - due) / period))


def due_for_escalation(session: Session, now: datetime | None = None) -> list[tuple[OrderException, int]]:
    now = now or utcnow()
    rows = session.scalars(select(OrderException).where(OrderException.status.in_(UNRESOLVED),
                                                        OrderException.sla_due_at < now)
                           .order_by(OrderException.id))
    due = []
    for row in rows:
        level = escalation_level(row, now)
        if level > row.escalation_level:
            due.append((row, level))
    return due


def escalate(row: OrderException, level: int, now: datetime | None = None) -> None:
    row.escalation_level = level
    row.escalated_at = now or utcnow()
