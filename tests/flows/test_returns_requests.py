"""The returns flow's handlers through the inbox, without sandboxes: modes, duplicates, bad payloads."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from storeops.core.clock import utcnow
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.orders import services as orders
from storeops.domain.returns.models import ReturnLine, ReturnRequest
from storeops.engine.inbox import InboxProcessor, NewEvent, claim_batch, insert_events
from storeops.engine.models import InboxEvent, OutboxMessage
from storeops.flows import returns as returns_flow
from storeops.flows.intake import handler_for

_counter = iter(range(10**9))


def deliver(db: Database, shop_id: str, vendor: str, topic: str, payload: dict[str, Any]) -> str:
    event_id = f"ev-{next(_counter)}"
    event = NewEvent(shop_id, vendor, event_id, topic, {"x-topic": topic}, json.dumps(payload).encode())
    assert insert_events(db, [event]) == [True]
    processor = InboxProcessor(db, handler_for, worker="test")
    while ids := claim_batch(db, limit=100, lease_s=30, worker="test"):
        processor.process(ids)
    with db.system_session() as session:
        return str(session.scalar(select(InboxEvent.status).where(InboxEvent.event_id == event_id)))


def shipped_order(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        applied = orders.apply_shopify_order(session, shop_id, {
            "id": 8801, "admin_graphql_api_id": "gid://shopify/Order/8801", "name": "#8801",
            "email": "ada@example.com", "currency": "USD", "total_price": "45.00", "financial_status": "paid",
            "updated_at": "2026-11-20T10:00:00Z", "shipping_lines": [{"title": "Standard"}],
            "line_items": [{"id": 31, "sku": "TEE-M", "name": "Tee", "quantity": 2, "price": "20.00"}]})
        assert applied is not None
        applied.order.status, applied.order.tracking_number = "shipped", "9400111"
        applied.order.updated_at = utcnow()


def return_request(line_items: list[dict[str, Any]], return_id: int = 5501) -> dict[str, Any]:
    """returns/request as Shopify sends it (topic-metadata/returns/request.json, with its lines)."""
    return {"id": return_id, "admin_graphql_api_id": f"gid://shopify/Return/{return_id}", "status": "requested",
            "order": {"id": 8801, "admin_graphql_api_id": "gid://shopify/Order/8801"},
            "total_return_line_items": len(line_items), "name": None, "return_line_items": line_items,
            "return_shipping_fees": [], "exchange_line_items": [], "total_exchange_line_items": 0}


def line(quantity: int, reason: str = "defective") -> dict[str, Any]:
    return {"id": 71, "admin_graphql_api_id": "gid://shopify/ReturnLineItem/71", "quantity": quantity,
            "fulfillment_line_item": {"id": 61, "line_item": {"id": 31}}, "return_reason": reason,
            "return_reason_note": "", "customer_note": "broken seam"}


def counts(db: Database, shop_id: str) -> tuple[int, int, int, int]:
    with db.session(shop_id) as session:
        return (session.scalar(select(func.count()).select_from(ReturnRequest)) or 0,
                session.scalar(select(func.count()).select_from(ReturnLine)) or 0,
                session.scalar(select(func.count()).select_from(DecisionRecord)) or 0,
                session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def test_a_shopify_request_is_decided_once_however_often_it_arrives(db: Database, shop_id: str) -> None:
    shipped_order(db, shop_id)
    assert deliver(db, shop_id, "shopify", "returns/request", return_request([line(2)])) == "processed"
    assert counts(db, shop_id) == (1, 1, 1, 1)  # approved: ShipBob return (Shopify has the return already)
    with db.session(shop_id) as session:
        request = session.scalars(select(ReturnRequest)).one()
        assert (request.status, request.source, request.source_ref, request.note) == (
            "approved", "shopify", "5501", "broken seam")
        # defective and everything back: goods 40.00 + shipping 5.00, no fee
        assert (request.refund_subtotal, request.shipping_refund, request.refund_total) == ("40.00", "5.00", "45.00")
        [message] = session.scalars(select(OutboxMessage)).all()
        assert message.target == "shipbob.create_return" and message.payload["rma"] == request.rma
    # Shopify sends it again (a new event id): still one request, one decision, one message.
    assert deliver(db, shop_id, "shopify", "returns/request", return_request([line(2)])) == "processed"
    assert counts(db, shop_id) == (1, 1, 1, 1)


def test_a_request_for_units_already_returned_is_rejected(db: Database, shop_id: str) -> None:
    shipped_order(db, shop_id)
    deliver(db, shop_id, "shopify", "returns/request", return_request([line(2)]))
    deliver(db, shop_id, "shopify", "returns/request", return_request([line(1)], return_id=5502))
    with db.session(shop_id) as session:
        second = session.scalars(select(ReturnRequest).where(ReturnRequest.source_ref == "5502")).one()
        assert second.status == "rejected"
        assert [r["code"] for r in second.eligibility["reasons"]] == ["quantity_unavailable"]


def test_bad_payloads_are_invalid_and_change_nothing(db: Database, shop_id: str) -> None:
    shipped_order(db, shop_id)
    assert deliver(db, shop_id, "shopify", "returns/request", return_request([])) == "invalid"
    assert deliver(db, shop_id, "shopify", "returns/request", {"id": 1}) == "invalid"
    assert deliver(db, shop_id, "shopify", "returns/request", return_request([line(1, "whim")])) == "invalid"
    unknown = {**return_request([line(1)]), "order": {"id": 1, "admin_graphql_api_id": "gid://shopify/Order/1"}}
    assert deliver(db, shop_id, "shopify", "returns/request", unknown) == "invalid"
    assert counts(db, shop_id) == (0, 0, 0, 0)


def test_off_mode_leaves_the_request_to_a_person(db: Database, shop_id: str) -> None:
    shipped_order(db, shop_id)
    with db.session(shop_id) as session:
        decisions.set_mode(session, shop_id, "returns", "off")
    deliver(db, shop_id, "shopify", "returns/request", return_request([line(1)]))
    assert counts(db, shop_id) == (1, 1, 0, 0)  # stored, not decided, nothing sent
    with db.session(shop_id) as session:
        request = session.scalars(select(ReturnRequest)).one()
        assert request.status == "needs_review" and request.eligibility["outcome"] == "approved"
        returns_flow.decide_by_person(session, shop_id, request.id, approve=True, actor="ops@shop")
    assert counts(db, shop_id) == (1, 1, 1, 1)  # a person's decision acts and is recorded


def test_a_shipbob_return_storeops_did_not_create_is_ignored(db: Database, shop_id: str) -> None:
    body = {"topic": "return.completed", "id": 600123, "reference_id": "SOMEONE-ELSE", "status": "Completed"}
    assert deliver(db, shop_id, "shipbob", "return.completed", body) == "processed"
    assert counts(db, shop_id) == (0, 0, 0, 0)


def test_redacting_a_customer_erases_their_return_details(db: Database, shop_id: str) -> None:
    from storeops.domain.returns import services as returns

    shipped_order(db, shop_id)
    deliver(db, shop_id, "shopify", "returns/request", return_request([line(1)]))
    with db.session(shop_id) as session:
        assert returns.redact_customer(session, customer_external_id=None, email="ada@example.com") == [1]
    with db.session(shop_id) as session:
        request = session.scalars(select(ReturnRequest)).one()
        assert (request.email, request.note, request.status) == (None, None, "approved")
        assert returns.redact_customer(session, customer_external_id=None, email=None) == []
