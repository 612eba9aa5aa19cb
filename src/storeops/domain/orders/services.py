"""Orders: apply Shopify snapshots (newer wins) and map them to the decision facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeops.domain.orders.facts import Address, Line, OrderFacts
from storeops.domain.orders.models import CANCELLED, Order
from storeops.domain.orders.risk import service_level_of


@dataclass(frozen=True, slots=True)
class Applied:
    order: Order
    created: bool
    changed: bool  # False: the snapshot was not newer than the one we hold (late or duplicate)


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


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


def find(session: Session, external_id: str) -> Order | None:
    return session.scalar(select(Order).where(Order.external_id == external_id))


def apply_shopify_order(session: Session, shop_id: str, data: dict[str, Any]) -> Applied | None:
    """Store the Shopify order snapshot (REST webhook shape) unless we hold a newer one.

    A snapshot with the same `updated_at` as ours is a duplicate delivery: not a change.
    The row is locked (FOR UPDATE on PostgreSQL) so two workers apply one order in turn."""
    if data.get("id") is None:
        return None
    external_id = str(data["id"])
    stamp = parse_time(data.get("updated_at"))
    order = session.scalar(select(Order).where(Order.external_id == external_id).with_for_update())
    created = order is None
    if order is None:
        order = Order(shop_id=shop_id, external_id=external_id)
        session.add(order)
    elif order.source_updated_at is not None and (stamp is None or stamp <= order.source_updated_at):
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
