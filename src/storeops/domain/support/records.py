"""What a support decision may know: the customer's own record and the triage of the message.

`CustomerRecord` is the only source of facts a reply may state (order numbers, dates,
amounts, tracking numbers and links, the customer's own email). Flows build it from our
tables (customers, orders, returns) for the ticket's customer as Gorgias names them; it
never comes from the message text. This module imports nothing from other domains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from storeops.core.clock import as_utc


@dataclass(frozen=True)
class OrderFact:
    number: str  # as the customer sees it: "#1001"
    external_id: str  # Shopify order id
    placed_at: datetime
    total: Decimal
    currency: str
    status: str  # storeops' pipeline status: new | routed | shadowed | held | shipped | delivered | cancelled
    financial_status: str | None = None
    tracking_number: str | None = None
    tracking_company: str | None = None
    tracking_url: str | None = None
    items: tuple[str, ...] = ()

    @property
    def shipped(self) -> bool:
        return self.status in ("shipped", "delivered") or bool(self.tracking_number)

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"

    @property
    def digits(self) -> str:
        return self.number.lstrip("#")


@dataclass(frozen=True)
class ReturnFact:
    reference: str
    order_number: str | None
    status: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class CustomerRecord:
    email: str
    first_name: str | None = None
    external_id: str | None = None
    orders: tuple[OrderFact, ...] = ()  # newest first
    returns: tuple[ReturnFact, ...] = ()
    lifetime_value: Decimal = Decimal("0")
    currency: str = "USD"
    tags: tuple[str, ...] = ()
    open_exceptions: int = 0
    previous_tickets: int = 0  # other tickets of this customer in the last 7 days
    contacts_last_7_days: int = 0  # earlier messages (this ticket and others) in the last 7 days

    def order(self, number: str) -> OrderFact | None:
        wanted = number.strip().lstrip("#")
        return next((o for o in self.orders if wanted in (o.digits, o.external_id)), None)

    @property
    def latest_order(self) -> OrderFact | None:
        return self.orders[0] if self.orders else None

    def days_late(self, now: datetime, delivery_days: int) -> int:
        """Days the newest order still on its way (not delivered, not cancelled) is past
        `delivery_days` after it was placed; 0 when none is late. Frustration reads it: a
        customer writing about a parcel a week overdue is rarely calm, whatever the words."""
        waiting = next((o for o in self.orders if not o.cancelled and o.status != "delivered"), None)
        if waiting is None:
            return 0
        return max(0, (now - as_utc(waiting.placed_at)).days - delivery_days)


@dataclass(frozen=True)
class TriageView:
    """The triage model's answer, as the support domain needs it (ai/triage is not imported here)."""

    intent: str
    confidence: float
    urgency: str = "normal"
    frustration: float = 0.0
    out_of_scope: bool = False
    language: str = "en"
    threats: tuple[str, ...] = ()
    model_version: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"intent": self.intent, "confidence": self.confidence, "urgency": self.urgency,
                "frustration": self.frustration, "out_of_scope": self.out_of_scope, "language": self.language,
                "threats": list(self.threats), "model_version": self.model_version}


@dataclass(frozen=True)
class Routing:
    tags: tuple[str, ...] = ()
    priority: str = "normal"
    team: str | None = None
    assignee: str | None = None  # an agent's email
    rules_fired: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        return {"tags": list(self.tags), "priority": self.priority, "team": self.team, "assignee": self.assignee,
                "rules_fired": list(self.rules_fired)}
