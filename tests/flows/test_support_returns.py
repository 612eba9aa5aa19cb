"""Support -> returns: a customer asking to return their order gets a return request through
the returns flow's own policy (storeops.flows.returns.request_return); the reply promises a
return only when that policy approved it, and a person gets every other case."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storeops.connectors.gorgias.models import Ticket as GorgiasTicket
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.orders import services as orders
from storeops.domain.returns.models import ReturnRequest
from storeops.domain.support import DEFAULT_RULES, SupportPolicy, TriageView, plan_ticket
from storeops.domain.support.models import SupportTicket, TicketReply
from storeops.engine.models import OutboxMessage
from storeops.flows import context as flow_context
from storeops.flows import support


def _order(db: Database, shop_id: str, n: int, lines: int) -> None:
    with db.session(shop_id) as session:
        applied = orders.apply_shopify_order(session, shop_id, {
            "id": 8000 + n, "name": f"#80{n:02d}", "email": "rita@example.com", "currency": "USD",
            "total_price": "49.00", "financial_status": "paid", "fulfillment_status": "fulfilled",
            "updated_at": "2026-11-20T09:00:00Z", "shipping_lines": [{"title": "Standard"}],
            "line_items": [{"id": 100 + i, "sku": f"SKU-{i}", "quantity": 1, "grams": 300, "price": "49.00",
                            "name": f"Tee {i}"} for i in range(lines)]})
        assert applied is not None
        applied.order.status = "delivered"


def _decide(db: Database, shop_id: str, ticket_id: int, text: str) -> dict[str, Any]:
    ticket = GorgiasTicket.from_api({"id": ticket_id, "status": "open", "subject": "Return", "channel": "email",
                                     "customer": {"id": 7, "email": "rita@example.com"}, "messages": []})
    with db.session(shop_id) as session:
        record = support.customer_record(session, "rita@example.com")
        view = TriageView("check_refund_policy", 0.97)
        plan = plan_ticket(view, text, record, SupportPolicy(), DEFAULT_RULES, frozenset({"start_return"}))
        assert plan.promised_action == "start_return"
        return support._decide(session, shop_id, ticket, {"id": ticket_id * 10}, str(ticket_id * 10), text, record,
                               key=f"t{ticket_id}", decided=(view, plan, {"used": False}))


def test_a_return_request_goes_through_the_returns_policy(db: Database, box: SecretBox, shop_id: str) -> None:
    flow_context.configure(db, box)
    _order(db, shop_id, 1, lines=1)
    result = _decide(db, shop_id, 31, "I'd like to start a return for my order, the shirt is too small")
    with db.session(shop_id) as session:
        [request] = session.scalars(select(ReturnRequest)).all()
        assert request.source == "gorgias" and request.source_ref == "31" and request.reason == "size_too_small"
        ticket = session.scalar(select(SupportTicket).where(SupportTicket.gorgias_ticket_id == "31"))
        assert ticket is not None
        replies = session.scalars(select(TicketReply).where(TicketReply.kind == "reply")).all()
    with db.system_session() as session:
        targets = [m.target for m in session.scalars(select(OutboxMessage))]
    if request.status in ("approved", "label_issued"):
        assert result["action"] == "reply" and not ticket.escalated
        assert [r.template for r in replies] == ["return_policy"] and "gorgias.reply" in targets
    else:
        assert result["action"] == "escalate" and ticket.escalated
        assert f"return request {request.id} is {request.status}" in (ticket.escalation_reason or "")
        assert replies == [] and "gorgias.reply" not in targets

    # The same ticket asked again is the same request (the returns flow dedupes on the ticket).
    again = _decide(db, shop_id, 31, "I'd like to start a return for my order, the shirt is too small")
    assert again.get("skipped") == "already decided" or again["action"] == result["action"]
    with db.session(shop_id) as session:
        assert len(session.scalars(select(ReturnRequest)).all()) == 1


def test_an_order_with_several_items_goes_to_a_person(db: Database, box: SecretBox, shop_id: str) -> None:
    flow_context.configure(db, box)
    _order(db, shop_id, 2, lines=2)
    result = _decide(db, shop_id, 32, "please start a return for my order")
    assert result["action"] == "escalate"
    with db.session(shop_id) as session:
        assert session.scalars(select(ReturnRequest)).all() == []
        ticket = session.scalar(select(SupportTicket).where(SupportTicket.gorgias_ticket_id == "32"))
        assert ticket is not None and "has 2 items" in (ticket.escalation_reason or "")
