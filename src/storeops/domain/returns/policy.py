"""The return policy and the refund math: pure functions over small dataclasses.

No database, no HTTP, no other domain: the flow maps an order (storeops.domain.orders) into
`OrderSnapshot` and the customer's earlier returns into `ReturnHistory`, then records what
`check_eligibility` and `quote_refund` return. Money is Decimal in the order's currency,
rounded to cents half-up (what Shopify's refund transactions carry).

    check_eligibility(policy, order, lines, reason, condition, history, now) -> Eligibility
    quote_refund(policy, order, lines, reason) -> RefundQuote
    ReturnPolicy.from_json(...) / .as_json()  the per-shop stored form
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from storeops.core.errors import InvalidInput
from storeops.domain.returns.error_codes import ReturnReasonCode

CENT = Decimal("0.01")
ZERO = Decimal("0")

# Shopify's ReturnReason enum, lower-cased (Admin GraphQL 2026-07), so a Shopify request
# and an API / Gorgias request speak the same words.
REASONS = ("color", "defective", "not_as_described", "other", "size_too_large", "size_too_small", "style",
           "unknown", "unwanted", "wrong_item")
CONDITIONS = ("unopened", "like_new", "used", "damaged")
APPROVED, REJECTED, NEEDS_REVIEW = "approved", "rejected", "needs_review"
POLICY_RULE = "return_policy@1"


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _money(value: Any, name: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(f"{name} must be a decimal amount, not {value!r}", field=name) from exc
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(f"{name} must be a non-negative amount, not {value!r}", field=name)
    return amount


def _count(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInput(f"{name} must be a whole number of at least {low}, not {value!r}", field=name)
    return value


def _words(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of strings", field=name)
    return tuple(v.strip().lower() for v in value if v.strip())


def _fees(value: Any, name: str) -> dict[str, Decimal]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{name} must map a return reason to an amount", field=name)
    out = {}
    for reason, amount in value.items():
        if reason not in REASONS and reason != "*":
            raise InvalidInput(f"{name}: unknown return reason {reason!r}", field=name)
        out[str(reason)] = _money(amount, f"{name}.{reason}")
    return out


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    """A shop's return policy. Fees are per return reason ("*" for any other reason).

    - window_days: days after delivery (or shipment, when delivery is unknown) to ask.
    - final_sale_tags / final_sale_skus: never returnable (order tags, line tags or SKUs).
    - restocking_fee_percent / restocking_fee_fixed: charged on the returned goods, per reason.
    - max_returns / history_days: a customer with that many returns in that many days goes
      to a person instead of being approved automatically.
    - review_conditions: item conditions a person must look at first.
    - shipping_refund_reasons: the original shipping charge is refunded only for these
      reasons (our fault) and only when every unit still held comes back.
    - review_above: a refund above this amount needs a person (None: no limit).
    """

    window_days: int = 30
    final_sale_tags: tuple[str, ...] = ("final-sale", "final_sale")
    final_sale_skus: tuple[str, ...] = ()
    restocking_fee_percent: Mapping[str, Decimal] = field(default_factory=lambda: {
        "unwanted": Decimal("10"), "style": Decimal("10"), "color": Decimal("10")})
    restocking_fee_fixed: Mapping[str, Decimal] = field(default_factory=dict)
    max_returns: int = 3
    history_days: int = 90
    review_conditions: tuple[str, ...] = ("used", "damaged")
    shipping_refund_reasons: tuple[str, ...] = ("defective", "wrong_item", "not_as_described")
    review_above: Decimal | None = Decimal("500")

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ReturnPolicy:
        """Validate a stored / submitted policy; missing keys keep their defaults."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidInput("the return policy must be a JSON object", field="policy")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown return policy settings: {', '.join(unknown)}", field=unknown[0])
        values: dict[str, Any] = {}
        if "window_days" in data:
            values["window_days"] = _count(data["window_days"], "window_days", 0)
        for name in ("final_sale_tags", "final_sale_skus"):
            if name in data:
                values[name] = _words(data[name], name)
        if "final_sale_skus" in values:  # SKUs keep their case
            values["final_sale_skus"] = tuple(str(s).strip() for s in data["final_sale_skus"] if str(s).strip())
        for name in ("review_conditions", "shipping_refund_reasons"):
            if name in data:
                values[name] = _words(data[name], name)
        for name in ("restocking_fee_percent", "restocking_fee_fixed"):
            if name in data:
                values[name] = _fees(data[name], name)
        if any(p > 100 for p in values.get("restocking_fee_percent", {}).values()):
            raise InvalidInput("restocking_fee_percent cannot exceed 100", field="restocking_fee_percent")
        if "max_returns" in data:
            values["max_returns"] = _count(data["max_returns"], "max_returns", 1)
        if "history_days" in data:
            values["history_days"] = _count(data["history_days"], "history_days", 1)
        if "review_above" in data:
            values["review_above"] = None if data["review_above"] is None else _money(data["review_above"],
                                                                                       "review_above")
        return cls(**values)

    def as_json(self) -> dict[str, Any]:
        return {
            "window_days": self.window_days, "final_sale_tags": list(self.final_sale_tags),
            "final_sale_skus": list(self.final_sale_skus),
            "restocking_fee_percent": {k: str(v) for k, v in self.restocking_fee_percent.items()},
            "restocking_fee_fixed": {k: str(v) for k, v in self.restocking_fee_fixed.items()},
            "max_returns": self.max_returns, "history_days": self.history_days,
            "review_conditions": list(self.review_conditions),
            "shipping_refund_reasons": list(self.shipping_refund_reasons),
            "review_above": None if self.review_above is None else str(self.review_above),
        }

    def fee_for(self, reason: str) -> tuple[Decimal, Decimal]:
        """(percent, fixed) restocking fee for a reason."""
        percent = self.restocking_fee_percent.get(reason, self.restocking_fee_percent.get("*", ZERO))
        fixed = self.restocking_fee_fixed.get(reason, self.restocking_fee_fixed.get("*", ZERO))
        return percent, fixed


@dataclass(frozen=True, slots=True)
class OrderLineFacts:
    """One order line: `quantity` units bought, `returned` of them already in other returns."""

    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    returned: int = 0
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """What the policy needs about the order. `extra_charges` is what the customer paid
    beyond the line prices (the shipping charge)."""

    order_id: str
    lines: tuple[OrderLineFacts, ...]
    ordered_at: datetime
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    currency: str = "USD"
    tags: tuple[str, ...] = ()
    extra_charges: Decimal = ZERO
    cancelled: bool = False

    def line(self, line_id: str) -> OrderLineFacts | None:
        return next((li for li in self.lines if li.line_id == line_id), None)


@dataclass(frozen=True, slots=True)
class RequestedLine:
    line_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class ReturnHistory:
    """The customer's earlier return requests (any order), with when they were made."""

    requested_at: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReturnReasonCode
    message: str
    outcome: str  # rejected | needs_review

    def as_json(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message, "outcome": self.outcome}


@dataclass(frozen=True, slots=True)
class Eligibility:
    outcome: str  # approved | rejected | needs_review
    reasons: tuple[Reason, ...]
    window_ends: datetime | None
    rules: tuple[str, ...] = (POLICY_RULE,)

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reasons": [r.as_json() for r in self.reasons],
                "window_ends": self.window_ends.isoformat() if self.window_ends else None,
                "rules": list(self.rules)}


@dataclass(frozen=True, slots=True)
class RefundLine:
    line_id: str
    sku: str
    quantity: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RefundQuote:
    lines: tuple[RefundLine, ...]
    subtotal: Decimal
    restocking_fee: Decimal
    shipping: Decimal
    total: Decimal
    currency: str
    full_return: bool

    def as_json(self) -> dict[str, Any]:
        return {"lines": [{"line_id": li.line_id, "sku": li.sku, "quantity": li.quantity, "amount": str(li.amount)}
                          for li in self.lines],
                "subtotal": str(self.subtotal), "restocking_fee": str(self.restocking_fee),
                "shipping": str(self.shipping), "total": str(self.total), "currency": self.currency,
                "full_return": self.full_return}


def validate_request(order: OrderSnapshot, lines: list[RequestedLine], reason: str, condition: str) -> None:
    """Bad input is an error (InvalidInput), not an ineligible return: nothing is recorded."""
    if reason not in REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(REASONS)}", field="reason")
    if condition not in CONDITIONS:
        raise InvalidInput(f"condition must be one of {', '.join(CONDITIONS)}", field="condition")
    if not lines:
        raise InvalidInput("a return needs at least one line", field="lines")
    seen: set[str] = set()
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if line.line_id in seen:
            raise InvalidInput(f"{where}: line {line.line_id!r} is listed twice", field=where)
        seen.add(line.line_id)
        if order.line(line.line_id) is None:
            raise InvalidInput(f"{where}: order {order.order_id} has no line {line.line_id!r}", field=where)
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity < 1:
            raise InvalidInput(f"{where}: quantity must be a whole number of at least 1", field=where)


def check_eligibility(policy: ReturnPolicy, order: OrderSnapshot, lines: list[RequestedLine], reason: str,
                      condition: str, history: ReturnHistory, now: datetime) -> Eligibility:
    """Decide whether a return request is approved, rejected or goes to a person, and why.

    Any rejecting reason rejects; else any review reason sends it to a person; else approved.
    Every reason found is kept so a person sees them all."""
    validate_request(order, lines, reason, condition)
    found: list[Reason] = []

    def reject(code: ReturnReasonCode, message: str) -> None:
        found.append(Reason(code, message, REJECTED))

    def review(code: ReturnReasonCode, message: str) -> None:
        found.append(Reason(code, message, NEEDS_REVIEW))

    start = order.delivered_at or order.shipped_at
    window_ends = start + timedelta(days=policy.window_days) if start is not None else None
    if order.cancelled:
        reject(ReturnReasonCode.ORDER_CANCELLED, "the order was cancelled; there is nothing to return")
    elif start is None:
        reject(ReturnReasonCode.NOT_SHIPPED, "the order has not shipped yet; cancel the items instead")
    elif window_ends is not None and now > window_ends:
        basis = "delivery" if order.delivered_at else "shipment"
        reject(ReturnReasonCode.OUTSIDE_WINDOW,
               f"the {policy.window_days}-day return window after {basis} ended on {window_ends.date().isoformat()}")
    order_tags = {t.lower() for t in order.tags}
    if order_tags & set(policy.final_sale_tags):
        reject(ReturnReasonCode.FINAL_SALE, "the order is tagged final sale")
    for line in lines:
        facts = order.line(line.line_id)
        assert facts is not None  # validate_request checked it
        if facts.sku in policy.final_sale_skus or {t.lower() for t in facts.tags} & set(policy.final_sale_tags):
            reject(ReturnReasonCode.FINAL_SALE, f"{facts.sku or facts.line_id} is final sale")
        available = facts.quantity - facts.returned
        if line.quantity > available:
            reject(ReturnReasonCode.QUANTITY_UNAVAILABLE,
                   f"{facts.sku or facts.line_id}: {line.quantity} asked, {max(available, 0)} still returnable")
    if condition in policy.review_conditions:
        review(ReturnReasonCode.CONDITION_NEEDS_REVIEW, f"the item is reported {condition.replace('_', ' ')}")
    recent = [t for t in history.requested_at if t >= now - timedelta(days=policy.history_days)]
    if len(recent) >= policy.max_returns:
        review(ReturnReasonCode.RETURN_HISTORY,
               f"the customer already asked for {len(recent)} returns in {policy.history_days} days "
               f"(limit {policy.max_returns})")
    if policy.review_above is not None and not any(r.outcome == REJECTED for r in found):
        total = quote_refund(policy, order, lines, reason).total
        if total > policy.review_above:
            review(ReturnReasonCode.HIGH_VALUE, f"the refund {total} {order.currency} is above "
                                                f"{policy.review_above} {order.currency}")
    if any(r.outcome == REJECTED for r in found):
        outcome = REJECTED
    elif found:
        outcome = NEEDS_REVIEW
    else:
        outcome = APPROVED
    return Eligibility(outcome, tuple(found), window_ends)


def quote_refund(policy: ReturnPolicy, order: OrderSnapshot, lines: list[RequestedLine], reason: str) -> RefundQuote:
    """What the customer gets back: returned units at their price, less the restocking fee
    for the reason, plus the shipping charge when the policy refunds it.

    The fee (percent of the goods, then the fixed part) never exceeds the goods' value."""
    validate_request(order, lines, reason, "unopened")
    refund_lines = []
    for line in lines:
        facts = order.line(line.line_id)
        assert facts is not None
        amount = cents(facts.unit_price * line.quantity)
        refund_lines.append(RefundLine(facts.line_id, facts.sku, line.quantity, amount))
    subtotal = sum((li.amount for li in refund_lines), ZERO)
    percent, fixed = policy.fee_for(reason)
    fee = min(subtotal, cents(subtotal * percent / 100) + cents(fixed))
    asked = {line.line_id: line.quantity for line in lines}
    full = all(asked.get(li.line_id, 0) >= li.quantity - li.returned for li in order.lines)
    shipping = cents(order.extra_charges if full and reason in policy.shipping_refund_reasons else ZERO)
    return RefundQuote(tuple(refund_lines), subtotal, fee, shipping, subtotal - fee + shipping, order.currency, full)
