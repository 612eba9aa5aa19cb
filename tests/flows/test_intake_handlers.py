"""Inbox handlers: customer snapshots, late events, and Shopify's privacy duties."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from storeops.db.models import Shop
from storeops.db.session import Database
from storeops.domain.customers.models import Customer, DataRequest
from storeops.domain.orders import services as order_services
from storeops.domain.support.models import SupportTicket, TicketReply
from storeops.engine.inbox import InboxProcessor, NewEvent, claim_batch, insert_events
from storeops.engine.models import INVALID, PROCESSED, REDACTED_BODY, InboxEvent
from storeops.flows.intake import handler_for

_counter = iter(range(10**9))


def deliver(db: Database, shop_id: str, topic: str, payload: Any, raw: bytes | None = None) -> None:
    body = raw if raw is not None else json.dumps(payload).encode()
    event = NewEvent(shop_id, "shopify", f"ev-{next(_counter)}", topic, {"x-shopify-topic": topic}, body)
    assert insert_events(db, [event]) == [True]


def process_all(db: Database) -> None:
    processor = InboxProcessor(db, handler_for, worker="test")
    while ids := claim_batch(db, limit=100, lease_s=30, worker="test"):
        processor.process(ids)


def customer_payload(cid: int, updated_at: str, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "email": f"c{cid}@example.com", "first_name": "Ada", "last_name": "Lovelace",
            "phone": "+14155550100", "updated_at": updated_at, "tags": "vip",
            "default_address": {"address1": "1 Main St", "city": "Springfield", "zip": "62701"}, **extra}


def customers(db: Database, shop_id: str) -> list[Customer]:
    with db.session(shop_id) as session:
        return list(session.scalars(select(Customer).order_by(Customer.external_id)))


def test_customer_snapshot_from_customer_and_order_events(db: Database, shop_id: str) -> None:
    deliver(db, shop_id, "customers/create", customer_payload(1, "2026-01-01T10:00:00Z", total_spent="120.50"))
    deliver(db, shop_id, "orders/create",
            {"id": 900, "customer": customer_payload(2, "2026-01-01T10:00:00Z")})
    process_all(db)
    found = customers(db, shop_id)
    assert [(c.external_id, c.email, c.total_spent_minor) for c in found] == [
        ("1", "c1@example.com", 12050), ("2", "c2@example.com", 0)]


def test_late_event_does_not_overwrite_newer_state(db: Database, shop_id: str) -> None:
    deliver(db, shop_id, "customers/update", customer_payload(3, "2026-02-02T10:00:00Z", email="new@example.com"))
    deliver(db, shop_id, "customers/update", customer_payload(3, "2026-01-01T10:00:00Z", email="old@example.com"))
    process_all(db)
    [customer] = customers(db, shop_id)
    assert customer.email == "new@example.com"


def test_malformed_json_is_marked_invalid_not_crashed_on(db: Database, shop_id: str) -> None:
    deliver(db, shop_id, "orders/create", None, raw=b'{"id": 1,')
    deliver(db, shop_id, "customers/create", ["not", "an", "object"])
    deliver(db, shop_id, "customers/create", customer_payload(4, "2026-01-01T10:00:00Z"))
    process_all(db)
    with db.system_session() as session:
        statuses = [e.status for e in session.scalars(select(InboxEvent).order_by(InboxEvent.id))]
    assert statuses == [INVALID, INVALID, PROCESSED]
    assert [c.external_id for c in customers(db, shop_id)] == ["4"]


def test_customers_redact_erases_personal_data_everywhere(db: Database, shop_id: str) -> None:
    deliver(db, shop_id, "customers/create", customer_payload(5, "2026-01-01T10:00:00Z"))
    deliver(db, shop_id, "orders/create", {
        "id": 901, "email": "c5@example.com", "updated_at": "2026-01-02T10:00:00Z",
        "customer": customer_payload(5, "2026-01-02T10:00:00Z"),
        "shipping_address": {"name": "Ada Five", "address1": "5 Secret Lane", "city": "Austin",
                             "province_code": "TX", "zip": "78701", "country_code": "US", "phone": "+15125550105"}})
    deliver(db, shop_id, "customers/create", customer_payload(6, "2026-01-01T10:00:00Z"))
    deliver(db, shop_id, "customers/data_request",
            {"shop_id": 1, "customer": {"id": 5, "email": "c5@example.com"}, "data_request": {"id": 77}})
    process_all(db)
    with db.session(shop_id) as session:
        [request] = session.scalars(select(DataRequest)).all()
        assert request.export["customers"][0]["email"] == "c5@example.com"

    with db.session(shop_id) as session:
        session.add(SupportTicket(shop_id=shop_id, gorgias_ticket_id="t5", customer_email="c5@example.com",
                                  subject="Ada's order"))
        session.add(TicketReply(shop_id=shop_id, gorgias_ticket_id="t5", message_id="m1", kind="reply",
                                body="Hi Ada, order #1001 ships to 5 Secret Lane", recipient="c5@example.com",
                                facts={"address": "5 Secret Lane"}))
    deliver(db, shop_id, "customers/redact",
            {"shop_id": 1, "customer": {"id": 5, "email": "c5@example.com"}, "orders_to_redact": [901]})
    process_all(db)

    redacted, kept = customers(db, shop_id)
    assert redacted.external_id == "5" and redacted.redacted_at is not None
    assert (redacted.email, redacted.first_name, redacted.last_name, redacted.phone, redacted.addresses) == (
        None, None, None, None, None)
    assert kept.email == "c6@example.com"
    with db.system_session() as session:
        bodies = [e.body for e in session.scalars(select(InboxEvent).order_by(InboxEvent.id))]
        export = session.scalars(select(DataRequest)).one().export
    assert b"c5@example.com" not in b"".join(bodies)  # raw webhook bodies too, the redact request included
    assert b"c6@example.com" in b"".join(bodies)
    assert "c5@example.com" not in json.dumps(export)
    with db.session(shop_id) as session:
        order = order_services.find(session, "901")
        assert order is not None and order.email is None and order.shipping_address is not None
        assert "5 Secret Lane" not in json.dumps(order.shipping_address)
        assert "Ada Five" not in json.dumps(order.shipping_address)
        assert order.shipping_address["zip"] == "78701"  # where, not who
        ticket = session.scalars(select(SupportTicket)).one()
        reply = session.scalars(select(TicketReply)).one()
        assert (ticket.customer_email, ticket.subject) == (None, None)
        assert "Secret" not in reply.body + json.dumps(reply.facts) and reply.recipient is None

    # A late update for the erased customer must not bring the data back.
    deliver(db, shop_id, "customers/update", customer_payload(5, "2026-03-01T10:00:00Z"))
    process_all(db)
    assert customers(db, shop_id)[0].email is None


def test_shop_redact_erases_the_shops_customer_data_only(db: Database, shop_id: str, box: Any) -> None:
    from storeops.domain.shops.services import add_shop

    with db.system_session() as session:
        other = add_shop(session, box, domain="other.myshopify.com").id
    deliver(db, shop_id, "customers/create", customer_payload(7, "2026-01-01T10:00:00Z"))
    deliver(db, other, "customers/create", customer_payload(8, "2026-01-01T10:00:00Z"))
    process_all(db)
    deliver(db, shop_id, "shop/redact", {"shop_id": 1, "shop_domain": "test-shop.myshopify.com"})
    process_all(db)
    assert customers(db, shop_id) == []
    assert [c.email for c in customers(db, other)] == ["c8@example.com"]
    with db.system_session() as session:
        mine = session.scalars(select(InboxEvent.body).where(InboxEvent.shop_id == shop_id)).all()
        theirs = session.scalars(select(InboxEvent.body).where(InboxEvent.shop_id == other)).all()
        assert session.get(Shop, shop_id).redacted_at is not None
    assert set(mine) == {REDACTED_BODY}
    assert theirs and REDACTED_BODY not in theirs
