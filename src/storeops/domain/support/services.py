"""Support tables: settings (rules + policy), tickets, replies, KPIs. Every call takes the
caller's session, opened for the shop (db.session(shop_id))."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeops.core.clock import as_utc, utcnow
from storeops.core.errors import InvalidInput
from storeops.domain.support.models import DRAFTED, ESCALATED, REPLIED, SupportSettings, SupportTicket, TicketReply
from storeops.domain.support.policy import DEFAULT_RULES, SupportPolicy, validate_rules


@dataclass(frozen=True)
class ShopSupportSettings:
    rules: list[dict[str, Any]]
    policy: SupportPolicy
    version: int


def settings_for(session: Session, shop_id: str) -> ShopSupportSettings:
    row = session.scalar(select(SupportSettings).where(SupportSettings.shop_id == shop_id))
    if row is None:
        return ShopSupportSettings([dict(r) for r in DEFAULT_RULES], SupportPolicy(), 0)
    return ShopSupportSettings(list(row.routing_rules) or [dict(r) for r in DEFAULT_RULES],
                               SupportPolicy.from_json(row.policy), row.version)


def save_settings(session: Session, shop_id: str, *, rules: Any = None, policy: Any = None) -> ShopSupportSettings:
    """Validate then store; bad input raises InvalidInput and changes nothing."""
    try:
        checked_rules = validate_rules(rules) if rules is not None else None
        checked_policy = SupportPolicy.from_json(policy) if policy is not None else None
    except ValueError as exc:
        raise InvalidInput(str(exc), field="rules" if rules is not None and policy is None else "policy") from exc
    row = session.scalar(select(SupportSettings).where(SupportSettings.shop_id == shop_id))
    if row is None:
        row = SupportSettings(shop_id=shop_id, routing_rules=[dict(r) for r in DEFAULT_RULES], policy={}, version=0)
        session.add(row)
    if checked_rules is not None:
        row.routing_rules = checked_rules
    if checked_policy is not None:
        row.policy = checked_policy.as_json()
    row.version = (row.version or 0) + 1
    session.flush()
    return settings_for(session, shop_id)


def find_ticket(session: Session, gorgias_ticket_id: str) -> SupportTicket | None:
    return session.scalar(select(SupportTicket).where(SupportTicket.gorgias_ticket_id == str(gorgias_ticket_id)))


def contacts_since(session: Session, email: str, since: datetime, *, excluding: str | None = None) -> int:
    """Messages this customer sent us (all tickets) since `since`, as handled so far."""
    query = select(SupportTicket).where(SupportTicket.customer_email == email, SupportTicket.updated_at >= since)
    total = 0
    for ticket in session.scalars(query):
        total += ticket.messages_handled
    return total


def sla_due(opened_at: datetime, urgency: str, policy: SupportPolicy) -> datetime:
    hours = policy.sla_hours.get(urgency) or policy.sla_hours.get("normal") or 24.0
    return as_utc(opened_at) + timedelta(hours=hours)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def kpis(tickets: list[SupportTicket], now: datetime | None = None) -> dict[str, Any]:
    """Automation rate (tickets answered with no person), first-response minutes, escalations."""
    now = now or utcnow()
    decided = [t for t in tickets if t.status in (REPLIED, DRAFTED, ESCALATED)]
    automated = [t for t in decided if t.automated]
    minutes = [(as_utc(t.first_response_at) - as_utc(t.opened_at)).total_seconds() / 60
               for t in tickets if t.first_response_at is not None]
    open_over_sla = [t for t in tickets if t.first_response_at is None and t.sla_due_at is not None
                     and as_utc(t.sla_due_at) < now]
    return {
        "tickets": len(tickets), "decided": len(decided), "automated": len(automated),
        "automation_rate": (100 * len(automated) / len(decided)) if decided else None,
        "drafted": sum(1 for t in tickets if t.status == DRAFTED),
        "escalated": sum(1 for t in tickets if t.escalated),
        "first_response_minutes": {"count": len(minutes), "median": median(minutes) if minutes else None,
                                   "p90": _percentile(minutes, 0.9)},
        "sla_breached": len(open_over_sla) + sum(1 for t in tickets if t.sla_breached_at is not None
                                                 and t not in open_over_sla),
    }


def redact_customer(session: Session, *, email: str | None) -> list[str]:
    """customers/redact: erase the customer's personal data from their tickets and the replies
    storeops wrote them (address, subject, bodies, the facts quoted); triage results, timings
    and statuses stay for the KPIs. Returns the Gorgias ticket ids touched."""
    if not email:
        return []
    tickets = list(session.scalars(select(SupportTicket).where(SupportTicket.customer_email == email)))
    ids = [ticket.gorgias_ticket_id for ticket in tickets]
    for ticket in tickets:
        ticket.customer_email, ticket.subject = None, None
    if ids:
        for reply in session.scalars(select(TicketReply).where(TicketReply.gorgias_ticket_id.in_(ids))):
            reply.body, reply.facts, reply.recipient = "[redacted]", {}, None
    return ids
