"""Priority and risk of an order, from small versioned rules.

Two axes, kept apart on purpose: *priority* says how fast the order should move (VIP
customer, high value, expedited shipping) and *risk* says whether a person should look
before it ships (first order, billing differs from shipping, payment not captured). A
first-time customer with a different billing address is not a reason to rush, and an
overnight order is not a reason for suspicion.

Every rule is a frozen dataclass with a `version`; each flag records the rule name and
version that raised it, so a decision record can say which rule set decided. Rule
thresholds are money in the shop's currency (Decimal).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from storeops.domain.orders.addresses import normalize_city
from storeops.domain.orders.facts import Address, CustomerHistory, OrderFacts
from storeops.domain.orders.zip_data import split_zip

PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True, slots=True)
class RiskFlag:
    rule: str
    version: str
    reason: str
    kind: str  # priority | risk | payment
    points: int = 0
    hold: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "version": self.version, "reason": self.reason, "kind": self.kind,
                "points": self.points, "hold": self.hold}


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    priority: str  # low | normal | high | urgent
    score: int  # priority points
    flags: list[RiskFlag]
    risk_score: int = 0
    hold: bool = False  # do not release to fulfillment until a person (or a payment event) clears it
    evaluated: list[str] = field(default_factory=list)  # "name@version" of every rule that ran

    @property
    def rules_fired(self) -> set[str]:
        return {flag.rule for flag in self.flags}


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def evaluate(self, order: OrderFacts, history: CustomerHistory) -> RiskFlag | None: ...


@dataclass(frozen=True, slots=True)
class VipCustomer:
    lifetime_value: Decimal = Decimal("1000")
    tags: tuple[str, ...] = ("vip",)
    points: int = 30
    name: str = "vip_customer"
    version: str = "1"

    def evaluate(self, order: OrderFacts, history: CustomerHistory) -> RiskFlag | None:
        wanted = {tag.lower() for tag in self.tags}
        tagged = sorted(wanted & {tag.strip().lower() for tag in (*history.tags, *order.tags)})
        if tagged:
            reason = f"customer tagged {', '.join(tagged)}"
        elif history.lifetime_value >= self.lifetime_value:
            reason = f"lifetime value {history.lifetime_value} >= {self.lifetime_value}"
        else:
            return None
        return RiskFlag(self.name, self.version, reason, "priority", self.points)


@dataclass(frozen=True, slots=True)
class HighOrderValue:
    threshold: Decimal = Decimal("500")
    points: int = 20
    name: str = "high_order_value"
    version: str = "1"

    def evaluate(self, order: OrderFacts, history: CustomerHistory) -> RiskFlag | None:
        if order.total < self.threshold:
            return None
        return RiskFlag(self.name, self.version, f"order total {order.total} >= {self.threshold}", "priority",
                        self.points)


_OVERNIGHT_WORDS = re.compile(r"overnight|next[ -]?day|1[ -]?day|one[ -]?day|same[ -]?day")
_EXPRESS_WORDS = re.compile(r"express|expedited|2[ -]?day|two[ -]?day|second day|3[ -]?day|priority|rush")


def service_level_of(shipping_method: str) -> str | None:
    """standard | express | overnight read from a shipping line title; None if it says nothing."""
    text = shipping_method.lower()
    if _OVERNIGHT_WORDS.search(text):
        return "overnight"
    if _EXPRESS_WORDS.search(text):
        return "express"
    return None


@dataclass(frozen=True, slots=True)
class ExpeditedShipping:
    express_points: int = 30
    overnight_points: int = 60  # overnight alone makes an order urgent: it must leave today
    name: str = "expedited_shipping"
    version: str = "1"

    def evaluate(self, order: OrderFacts, history: CustomerHistory) -> RiskFlag | None:
        levels = {order.service_level, service_level_of(order.shipping_method)}
        level = "overnight" if "overnight" in levels else "express" if "express" in levels else None
        if level is None:
            return None
        points = self.overnight_points if level == "overnight" else self.express_points
        method = f" ({order.shipping_method})" if order.shipping_method else ""
        return RiskFlag(self.name, self.version, f"{level} shipping{method}", "priority", points)


@dataclass(frozen=True, slots=True)
class FirstOrder:
    points: int = 15
    name: str = "first_order"
    version: str = "1"

    def evaluate(self, order: OrderFacts, history: CustomerHistory) -> RiskFlag | None:
        if history.orders_count > 0:
            return None
        who = "guest checkout" if order.customer_id is None else "customer has no earlier orders"
        return RiskFlag(self.name, self.version, f"first order ({who})", "risk", self.points)


_STREET_WORDS = {
    "STREET": "ST", "AVENUE": "AVE", "AV": "AVE", "ROAD": "RD", "BOULEVARD": "BLVD", "DRIVE": "DR",
    "LANE": "LN", "COURT": "CT", "PLACE": "PL", "TERRACE": "TER", "PARKWAY": "PKWY", "HIGHWAY": "HWY",
    "SUITE": "STE", "APARTMENT": "APT", "NUMBER": "#", "NORTH": "N", "SOUTH": "S", "EAST": "E", "WEST": "W",
    "FLOOR": "FL",
}


def address_key(address: Address) -> tuple[str, str, str, str]:
    """What makes two addresses the same place: street (USPS abbreviations), city, ZIP5, country."""
    street = " ".join(f"{address.address1} {address.address2}".upper().replace("#", " # ").split())
    words = re.sub(r"[^A-Z0-9# ]", " ", street).split()
    street = " ".join(_STREET_WORDS.get(word, word) for word in words)
    parts = split_zip(address.zip)
    postal = parts[0] if parts else address.zip.replace(" ", "").upper()
    return street, normalize_city(address.city), postal, address.country_code.strip().upper()


@dataclass(frozen=True, slots=True)
class BillingShippingMismatch:
    points: int = 20
    name: str = "billing_shipping_mismatch"
    version: str = "1"

    def evaluate(self, order: OrderFacts, history: CustomerHistory) -> RiskFlag | None:
        if order.billing_address is None:
            return None
        billing, shipping = address_key(order.billing_address), address_key(order.shipping_address)
        if billing == shipping:
            return None
        differs = [name for name, a, b in zip(("street", "city", "postal code", "country"), billing, shipping,
                                              strict=True) if a != b]
        return RiskFlag(self.name, self.version, f"billing and shipping differ in {', '.join(differs)}", "risk",
                        self.points)


@dataclass(frozen=True, slots=True)
class PaymentState:
    """Shopify financial_status (plus `failed`): ship only what is paid or authorized."""

    hold_states: tuple[str, ...] = ("pending", "partially_paid", "failed", "voided", "refunded")
    name: str = "payment_state"
    version: str = "1"

    def evaluate(self, order: OrderFacts, history: CustomerHistory) -> RiskFlag | None:
        state = order.payment_state.strip().lower()
        if state in {"paid", "partially_refunded"}:
            return None
        if state == "authorized":
            return RiskFlag(self.name, self.version, "payment authorized, capture before it expires", "payment")
        if state in self.hold_states:
            return RiskFlag(self.name, self.version, f"payment {state}: do not ship", "payment", hold=True)
        return RiskFlag(self.name, self.version, f"unknown payment state {state!r}: do not ship", "payment",
                        hold=True)


DEFAULT_RULES: tuple[Rule, ...] = (
    VipCustomer(), HighOrderValue(), ExpeditedShipping(), FirstOrder(), BillingShippingMismatch(), PaymentState(),
)
HIGH_AT = 30
URGENT_AT = 60
REVIEW_AT = 35  # first order + mismatched billing (15 + 20): the classic card-testing shape


def score_order(
    order: OrderFacts,
    customer_history: CustomerHistory,
    rules: Sequence[Rule] = DEFAULT_RULES,
    *,
    high_at: int = HIGH_AT,
    urgent_at: int = URGENT_AT,
    review_at: int = REVIEW_AT,
) -> RiskAssessment:
    flags = [flag for rule in rules if (flag := rule.evaluate(order, customer_history)) is not None]
    score = sum(flag.points for flag in flags if flag.kind == "priority")
    risk_score = sum(flag.points for flag in flags if flag.kind == "risk")
    hold = any(flag.hold for flag in flags) or risk_score >= review_at
    if hold:
        priority = "low"  # it cannot ship until cleared; rushing it helps no one
    elif score >= urgent_at:
        priority = "urgent"
    elif score >= high_at:
        priority = "high"
    else:
        priority = "normal"
    return RiskAssessment(priority=priority, score=score, flags=flags, risk_score=risk_score, hold=hold,
                          evaluated=[f"{rule.name}@{rule.version}" for rule in rules])
