"""Orders: apply Shopify snapshots (newer wins) and map them to the decision facts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storeops.core.clock import parse_time
from storeops.core.errors import InvalidInput
from storeops.domain.orders.facts import Address, Line, OrderFacts
from storeops.domain.orders.models import CANCELLED, Order, OrderRuleSet
from storeops.domain.orders.risk import service_level_of
from storeops.domain.orders.routing import RoutingRule
from storeops.domain.orders.routing_rules import check_fc_ids, parse_routing_rules
from storeops.domain.orders.substitution import SubstitutionRules, parse_rules

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Applied:
    order: Order
    created: bool
    changed: bool  # False: the snapshot was not newer than the one we hold (late or duplicate)


def _decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal("0")
    except InvalidOperation:
        return Decimal("0")


def _address(data: object) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    names = ("name", "company", "address1", "address2", "city", "province_code", "zip", "country_code", "phone")
    return {name: str(data.get(name) or "") for name in names} | {
        "first_name": str(data.get("first_name") or ""), "last_name": str(data.get("last_name") or "")}


def _lines(items: object) -> list[dict[str, Any]]:
    lines = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("requires_shipping") is False:
            continue
        lines.append({"line_id": str(item.get("id") or ""), "sku": str(item.get("sku") or ""),
                      "name": str(item.get("name") or item.get("title") or ""),
                      "quantity": int(item.get("current_quantity", item.get("quantity")) or 0),
                      "grams": int(item.get("grams") or 0), "price": str(_decimal(item.get("price")))})
    return lines


def find(session: Session, external_id: str, *, lock: bool = False) -> Order | None:
    """The order; `lock` takes its row lock for the transaction (FOR UPDATE on PostgreSQL), so
    two runs of the same step for one order take turns instead of both deciding."""
    query = select(Order).where(Order.external_id == external_id)
    return session.scalar(query.with_for_update() if lock else query)


_FINANCIAL_PROGRESS = {"pending": 0, "authorized": 1, "partially_paid": 1, "paid": 2, "partially_refunded": 3,
                       "refunded": 4, "voided": 4}
_FULFILLMENT_PROGRESS = {None: 0, "partial": 1, "fulfilled": 2, "restocked": 2}


def _progress(financial: object, cancelled: bool, fulfillment: object) -> tuple[int, int, int]:
    """How far along an order snapshot is; states only move forward within one `updated_at`."""
    return (int(cancelled), _FINANCIAL_PROGRESS.get(str(financial), 0),
            _FULFILLMENT_PROGRESS.get(fulfillment if isinstance(fulfillment, str) else None, 0))


def _is_newer(order: Order, stamp: datetime | None, data: dict[str, Any]) -> bool:
    if order.source_updated_at is None:
        return True
    if stamp is None or stamp < order.source_updated_at:
        return False
    if stamp > order.source_updated_at:
        return True
    # Shopify stamps whole seconds: orders/create and orders/paid often share one. Within the
    # same second the snapshot further along (paid after pending, cancelled after open) wins;
    # an identical one is a duplicate delivery.
    theirs = _progress(data.get("financial_status"), parse_time(data.get("cancelled_at")) is not None,
                       data.get("fulfillment_status"))
    ours = _progress(order.financial_status, order.cancelled_at is not None, order.shopify_fulfillment_status)
    return theirs > ours


def apply_shopify_order(session: Session, shop_id: str, data: dict[str, Any]) -> Applied | None:
    """Store the Shopify order snapshot (REST webhook shape) unless we hold a newer one.

    A snapshot with an older `updated_at` than ours is late: not applied. One with the same
    stamp is applied only if its state is further along (see `_is_newer`), else it is a
    duplicate delivery. The row is locked (FOR UPDATE on PostgreSQL) so two workers apply one
    order in turn."""
    if data.get("id") is None:
        return None
    external_id = str(data["id"])
    stamp = parse_time(data.get("updated_at"))
    order = session.scalar(select(Order).where(Order.external_id == external_id).with_for_update())
    created = order is None
    if order is None:
        order = Order(shop_id=shop_id, external_id=external_id)
        session.add(order)
    elif not _is_newer(order, stamp, data):
        return Applied(order, created=False, changed=False)
    shipping = data.get("shipping_lines") or []
    customer = data.get("customer") if isinstance(data.get("customer"), dict) else {}
    order.gid = str(data.get("admin_graphql_api_id") or f"gid://shopify/Order/{external_id}")
    order.name = str(data.get("name") or "") or None
    order.email = str(data.get("email") or data.get("contact_email") or "") or None
    order.customer_external_id = str(customer["id"]) if customer and customer.get("id") is not None else None
    order.currency = str(data.get("currency") or "USD")[:3]
    order.total = str(_decimal(data.get("current_total_price", data.get("total_price"))))
    order.financial_status = data.get("financial_status")
    order.shopify_fulfillment_status = data.get("fulfillment_status")
    order.cancelled_at = parse_time(data.get("cancelled_at"))
    order.shipping_method = str(shipping[0].get("title") or "") if shipping and isinstance(shipping[0], dict) else ""
    order.shipping_address = _address(data.get("shipping_address"))
    order.lines = _lines(data.get("line_items"))
    order.tags = str(data.get("tags") or "")[:1000]
    order.source_updated_at = stamp
    if order.cancelled_at is not None:
        order.status = CANCELLED
    session.flush()
    return Applied(order, created=created, changed=True)


def as_address(stored: dict[str, Any] | None) -> Address:
    stored = stored or {}
    return Address(**{name: str(stored.get(name) or "") for name in Address.__slots__})


def facts_of(order: Order) -> OrderFacts:
    """The decision facts of a stored order."""
    tags = tuple(t.strip() for t in order.tags.split(",") if t.strip())
    return OrderFacts(
        order_id=order.external_id,
        lines=tuple(Line(sku=line["sku"], quantity=int(line["quantity"]), grams=int(line["grams"]),
                         unit_price=Decimal(line["price"]), line_id=line["line_id"]) for line in order.lines),
        shipping_address=as_address(order.shipping_address),
        total=Decimal(order.total), currency=order.currency, shipping_method=order.shipping_method,
        service_level=service_level_of(order.shipping_method) or "standard",
        payment_state=order.financial_status or "pending", tags=tags, customer_id=order.customer_external_id,
    )


# --- the merchant's order rules: versioned JSON per shop and name -------------------------------

SUBSTITUTION, ROUTING, PAYMENT = "substitution", "routing", "payment"


def rule_set(session: Session, name: str) -> tuple[dict[str, Any] | None, int]:
    """The shop's stored rules of that name and their version (None, 0 until saved)."""
    row = session.scalar(select(OrderRuleSet).where(OrderRuleSet.name == name))
    return (None, 0) if row is None else (dict(row.rules), row.version)


def save_rule_set(session: Session, shop_id: str, name: str, body: dict[str, Any], by: str,
                  parse: Callable[[dict[str, Any], int], T], *, expected_version: int | None = None) -> T:
    """Store `body` as the next version once `parse(body, version)` accepts it (it raises
    InvalidInput otherwise, and nothing is stored). Returns what parse returned.

    `expected_version`: the version the editor started from. If someone saved since, this
    save is refused (InvalidInput on field "version") instead of silently overwriting theirs."""
    row = session.scalar(select(OrderRuleSet).where(OrderRuleSet.name == name).with_for_update())
    current = 0 if row is None else row.version
    if expected_version is not None and expected_version != current:
        raise InvalidInput(f"the {name} rules changed since version {expected_version} was opened (now version "
                           f"{current}{f', saved by {row.updated_by}' if row is not None and row.updated_by else ''}); "
                           "reload them and make your change again", field="version")
    version = current + 1
    parsed = parse(body, version)
    if row is None:
        session.add(OrderRuleSet(shop_id=shop_id, name=name, version=version, rules=body, updated_by=by))
    else:
        row.version, row.rules, row.updated_by = version, body, by
    session.flush()
    return parsed


def substitution_rules(session: Session) -> SubstitutionRules:
    """The shop's stock-shortage rules (the defaults until the merchant saves some)."""
    body, version = rule_set(session, SUBSTITUTION)
    return parse_rules(None if body is None else {**body, "version": version})


def save_substitution_rules(session: Session, shop_id: str, rules: dict[str, Any], by: str, *,
                            expected_version: int | None = None) -> SubstitutionRules:
    """Validate and store new rules as the next version (InvalidInput: nothing stored)."""
    body = {k: v for k, v in rules.items() if k != "version"}
    return save_rule_set(session, shop_id, SUBSTITUTION, body, by,
                         lambda raw, version: parse_rules({**raw, "version": version}),
                         expected_version=expected_version)


def routing_rules(session: Session) -> tuple[tuple[RoutingRule, ...], int]:
    """The shop's routing rules and their version (none, version 0, until the merchant saves some)."""
    body, version = rule_set(session, ROUTING)
    return parse_routing_rules(body, version), version


def save_routing_rules(session: Session, shop_id: str, body: dict[str, Any], by: str, *,
                       expected_version: int | None = None,
                       known_fcs: Mapping[str, str] | None = None) -> tuple[tuple[RoutingRule, ...], int]:
    """Validate and store the rules as the next version (InvalidInput: nothing stored). With
    `known_fcs` (id -> name), every FC a rule names must be one of them."""
    parsed = parse_routing_rules(body)  # the shape first: `rules` below must be a list
    if known_fcs is not None:
        check_fc_ids(parsed, known_fcs)
    return save_rule_set(session, shop_id, ROUTING, {"rules": list(body.get("rules", []))}, by,
                         lambda raw, version: (parse_routing_rules(raw, version), version),
                         expected_version=expected_version)


REDACTED = "[redacted]"
_KEPT_ADDRESS_FIELDS = ("province_code", "zip", "country_code")  # where, not who: routing statistics


def redact_customer(session: Session, *, customer_external_id: str | None, email: str | None) -> list[str]:
    """customers/redact: erase the customer's personal data from their orders (email, the name,
    street, phone and company of the shipping address); totals, lines and statuses stay for
    the books. Returns the external ids of the orders touched."""
    terms = []
    if customer_external_id:
        terms.append(Order.customer_external_id == customer_external_id)
    if email:
        terms.append(Order.email == email)
    if not terms:
        return []
    touched = []
    for order in session.scalars(select(Order).where(or_(*terms))):
        order.email = None
        if order.shipping_address:
            order.shipping_address = {name: (value if name in _KEPT_ADDRESS_FIELDS or not value else REDACTED)
                                      for name, value in order.shipping_address.items()}
        touched.append(order.external_id)
    return touched
