"""Return requests and the shop's return policy in the database. Every call takes the
caller's session (its transaction, scoped to one shop)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storeops.core.errors import InvalidInput
from storeops.domain.returns.models import (
    APPROVED,
    CLOSED,
    LABEL_ISSUED,
    NEEDS_REVIEW,
    RECEIVED,
    REFUNDED,
    REJECTED,
    REQUESTED,
    ReturnLine,
    ReturnPolicySetting,
    ReturnRequest,
)
from storeops.domain.returns.policy import RefundQuote, ReturnHistory, ReturnPolicy

# Which status may follow which; anything else is refused (InvalidInput, nothing changed).
TRANSITIONS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({APPROVED, REJECTED, NEEDS_REVIEW}),
    NEEDS_REVIEW: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset({LABEL_ISSUED, RECEIVED}),
    LABEL_ISSUED: frozenset({RECEIVED}),
    RECEIVED: frozenset({REFUNDED}),
    REFUNDED: frozenset({CLOSED}),
    REJECTED: frozenset(),
    CLOSED: frozenset(),
}
OPEN_STATUSES = (REQUESTED, NEEDS_REVIEW, APPROVED, LABEL_ISSUED, RECEIVED)


def move(request: ReturnRequest, status: str) -> None:
    if status not in TRANSITIONS.get(request.status, frozenset()):
        raise InvalidInput(f"return {request.id} is {request.status}; it cannot become {status}", field="status")
    request.status = status


# --- policy --------------------------------------------------------------------------------


def get_policy(session: Session, shop_id: str) -> ReturnPolicy:
    row = session.scalar(select(ReturnPolicySetting).where(ReturnPolicySetting.shop_id == shop_id))
    return ReturnPolicy.from_json(row.policy if row is not None else None)


def set_policy(session: Session, shop_id: str, data: dict[str, Any]) -> ReturnPolicy:
    """Validate (InvalidInput on bad settings, nothing stored) and store the shop's policy."""
    policy = ReturnPolicy.from_json(data)
    row = session.scalar(select(ReturnPolicySetting).where(ReturnPolicySetting.shop_id == shop_id))
    if row is None:
        session.add(ReturnPolicySetting(shop_id=shop_id, policy=policy.as_json()))
    else:
        row.policy = policy.as_json()
    return policy


# --- requests ------------------------------------------------------------------------------


def find(session: Session, return_id: int, *, lock: bool = False) -> ReturnRequest | None:
    query = select(ReturnRequest).where(ReturnRequest.id == return_id)
    return session.scalar(query.with_for_update() if lock else query)


def find_by_source(session: Session, source: str, source_ref: str) -> ReturnRequest | None:
    return session.scalar(select(ReturnRequest).where(ReturnRequest.source == source,
                                                      ReturnRequest.source_ref == source_ref))


def find_for_shipbob(session: Session, *, shipbob_return_id: str | None, rma: str | None) -> ReturnRequest | None:
    """The request a ShipBob return belongs to, by ShipBob's id or our RMA (its reference_id),
    locked: a duplicate webhook processed at the same time waits and then sees the new status."""
    terms = []
    if shipbob_return_id:
        terms.append(ReturnRequest.shipbob_return_id == shipbob_return_id)
    if rma:
        terms.append(ReturnRequest.rma == rma)
    if not terms:
        return None
    return session.scalar(select(ReturnRequest).where(or_(*terms)).with_for_update())


def lines_of(session: Session, return_id: int) -> list[ReturnLine]:
    return list(session.scalars(select(ReturnLine).where(ReturnLine.return_id == return_id).order_by(ReturnLine.id)))


def list_requests(session: Session, *, status: str | None = None, order_external_id: str | None = None,
                  limit: int = 100) -> list[ReturnRequest]:
    query = select(ReturnRequest).order_by(ReturnRequest.id.desc()).limit(limit)
    if status:
        query = query.where(ReturnRequest.status == status)
    if order_external_id:
        query = query.where(ReturnRequest.order_external_id == order_external_id)
    return list(session.scalars(query))


def returned_quantities(session: Session, order_external_id: str) -> dict[str, int]:
    """Units of each order line already in a return that was not rejected."""
    rows = session.execute(
        select(ReturnLine.line_id, ReturnLine.quantity)
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_id)
        .where(ReturnRequest.order_external_id == order_external_id, ReturnRequest.status != REJECTED))
    out: dict[str, int] = {}
    for line_id, quantity in rows:
        out[line_id] = out.get(line_id, 0) + int(quantity)
    return out


def history(session: Session, *, customer_external_id: str | None, email: str | None) -> ReturnHistory:
    """The customer's earlier requests (by Shopify customer id, else by email)."""
    terms = []
    if customer_external_id:
        terms.append(ReturnRequest.customer_external_id == customer_external_id)
    if email:
        terms.append(ReturnRequest.email == email)
    if not terms:
        return ReturnHistory()
    stamps = session.scalars(select(ReturnRequest.created_at).where(or_(*terms)))
    return ReturnHistory(requested_at=tuple(stamps))


def create(session: Session, shop_id: str, *, order_external_id: str, order_name: str | None,
           customer_external_id: str | None, email: str | None, source: str, source_ref: str | None,
           reason: str, condition: str, note: str | None, currency: str,
           lines: Iterable[dict[str, Any]], requested_at: datetime | None = None) -> ReturnRequest:
    """A new request (status `requested`) and its lines: {line_id, sku, name, quantity, unit_price}."""
    request = ReturnRequest(shop_id=shop_id, order_external_id=order_external_id, order_name=order_name,
                            customer_external_id=customer_external_id, email=email, source=source,
                            source_ref=source_ref, reason=reason, condition=condition, note=note,
                            currency=currency, status=REQUESTED, eligibility={})
    if requested_at is not None:
        request.created_at = requested_at
    session.add(request)
    session.flush()
    for line in lines:
        session.add(ReturnLine(shop_id=shop_id, return_id=request.id, line_id=str(line["line_id"]),
                               sku=str(line.get("sku") or ""), name=str(line.get("name") or "")[:255],
                               quantity=int(line["quantity"]), unit_price=str(line.get("unit_price") or "0")))
    session.flush()
    return request


def apply_quote(session: Session, request: ReturnRequest, quote: RefundQuote) -> None:
    request.refund_subtotal = str(quote.subtotal)
    request.restocking_fee = str(quote.restocking_fee)
    request.shipping_refund = str(quote.shipping)
    request.refund_total = str(quote.total)
    amounts = {li.line_id: li.amount for li in quote.lines}
    for line in lines_of(session, request.id):
        line.refund_amount = str(amounts.get(line.line_id, line.refund_amount))


def redact_customer(session: Session, *, customer_external_id: str | None, email: str | None) -> list[int]:
    """customers/redact: erase the customer's personal data from their return requests (email,
    notes); ids, amounts and statuses stay for the books. Returns the requests touched."""
    terms = []
    if customer_external_id:
        terms.append(ReturnRequest.customer_external_id == customer_external_id)
    if email:
        terms.append(ReturnRequest.email == email)
    if not terms:
        return []
    touched = []
    for request in session.scalars(select(ReturnRequest).where(or_(*terms))):
        request.email, request.note = None, None
        touched.append(request.id)
    return touched
