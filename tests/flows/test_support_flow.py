"""Support automation end to end: real HTTP between storeops and the Gorgias, Shopify and
ShipBob sandboxes.

A shopper checks out in the Shopify sandbox; the order flow routes it to ShipBob, which
ships it (tracking comes back by webhook). The same shopper then writes to the Gorgias
sandbox; its HTTP integration calls storeops, and the Gorgias sandbox's own state shows
what storeops did there: the reply, the internal notes, tags, priority and assignee.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from flows.test_order_flow import checkout, state, stored_order, wait_for
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.support import services as support_services
from storeops.domain.support.models import SupportTicket, TicketReply
from storeops.engine.models import OutboxMessage
from storeops.flows import support
from storeops.flows.runtime import Worker


def write_in(sandboxes: dict[str, dict[str, Any]], email: str, subject: str, body: str) -> dict[str, Any]:
    answer = httpx.post(f"{sandboxes['gorgias']['url']}/_sandbox/customer-message", timeout=10, json={
        "customer": {"email": email, "name": "Test Customer"}, "subject": subject, "body": body})
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def gorgias_ticket(sandboxes: dict[str, dict[str, Any]], ticket_id: int) -> dict[str, Any]:
    return next(t for t in state(sandboxes, "gorgias")["tickets"] if t["id"] == ticket_id)


def agent_messages(ticket: dict[str, Any], *, public: bool) -> list[dict[str, Any]]:
    return [m for m in ticket["messages"] if m["from_agent"] and m["public"] == public]


def ship(sandboxes: dict[str, dict[str, Any]], db: Database, shop: str, order_id: object) -> Any:
    wait_for(lambda: (o := stored_order(db, shop, order_id)) and o.shipbob_order_id, "order at ShipBob")
    for _ in range(3):
        httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/advance", timeout=10).raise_for_status()
    return wait_for(lambda: (o := stored_order(db, shop, order_id)) and o.tracking_number and o, "tracking")


def ticket_row(db: Database, shop: str, ticket_id: int) -> SupportTicket | None:
    with db.session(shop) as session:
        row = session.scalar(select(SupportTicket).where(SupportTicket.gorgias_ticket_id == str(ticket_id)))
        if row is not None:
            session.expunge(row)
        return row


def ticket_records(db: Database, shop: str, ticket_id: int) -> list[DecisionRecord]:
    with db.session(shop) as session:
        found = decisions.for_subject(session, f"ticket:{ticket_id}")
        session.expunge_all()
        return found


def test_where_is_my_order_gets_the_real_tracking_number_in_seconds(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    [placed] = checkout(sandboxes, {"customer": {"email": "wismo@example.com", "first_name": "Wanda"}})
    order = ship(sandboxes, db, shop, placed["order_id"])
    started = time.monotonic()
    created = write_in(sandboxes, "wismo@example.com", "Where is my order?",
                       f"Hi, I ordered last week and it has not arrived. Where is my order {order.name}?")
    ticket_id = created["ticket_id"]
    ticket = wait_for(lambda: (t := gorgias_ticket(sandboxes, ticket_id)) and agent_messages(t, public=True) and t,
                      "the reply in Gorgias")
    elapsed = time.monotonic() - started
    [reply] = agent_messages(ticket, public=True)
    assert order.tracking_number in reply["body_text"] and order.name in reply["body_text"]
    # The reply goes to the ticket's customer, and only to them.
    assert reply["receiver"]["email"] == "wismo@example.com"
    assert [a["address"] for a in reply["source"]["to"]] == ["wismo@example.com"]
    assert elapsed < 10, f"reply took {elapsed:.1f} s"
    # The customer 360 is attached as an internal note; tags and priority are set.
    notes = agent_messages(wait_for(lambda: (t := gorgias_ticket(sandboxes, ticket_id))
                                    and agent_messages(t, public=False) and t, "360 note"), public=False)
    assert any(order.name in n["body_text"] and "customer 360" in n["body_text"] for n in notes)
    wait_for(lambda: {"order-status", "intent:track_order"} <= {t["name"] for t in
                                                                gorgias_ticket(sandboxes, ticket_id)["tags"]}, "tags")
    row = wait_for(lambda: (r := ticket_row(db, shop, ticket_id)) and r.first_response_at and r, "first response")
    assert row.automated and not row.escalated and row.status == "replied" and row.intent == "track_order"
    [record] = ticket_records(db, shop, ticket_id)
    assert record.automation == "support_replies" and record.mode == "live"
    assert record.outputs["action"] == "reply" and record.outputs["order"] == order.name
    with db.session(shop) as session:
        [stored] = session.scalars(select(TicketReply).where(TicketReply.kind == "reply")).all()
        assert stored.status == "sent" and stored.grounding == {"ok": True, "unsupported": []}
        assert stored.facts["tracking_number"] == order.tracking_number

    # Our own reply fired ticket-message-created in Gorgias: it must not be answered again.
    time.sleep(1.5)
    assert len(agent_messages(gorgias_ticket(sandboxes, ticket_id), public=True)) == 1


def test_a_frustrated_vip_goes_to_a_person_and_a_refund_demand_gets_no_refund(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    # This merchant counts customers worth 100 or more as VIPs; Vera's real order is above it.
    with db.session(shop) as session:
        support_services.save_settings(session, shop, policy={"vip_lifetime_value": "100"})
    [big] = checkout(sandboxes, {"customer": {"email": "vip@example.com", "first_name": "Vera"},
                                 "lines": [{"sku": "MH01-XS-Orange", "quantity": 3}]})
    assert Decimal(big["total_price"]) >= 100
    [small] = checkout(sandboxes, {"customer": {"email": "refund@example.com", "first_name": "Rafe"}})
    for placed in (big, small):
        wait_for(lambda p=placed: stored_order(db, shop, p["order_id"]), "order stored")
    vip = write_in(sandboxes, "vip@example.com", "WHERE IS MY ORDER",
                   "This is ridiculous!!! Third time asking, where is my order? Worst service ever, I am furious.")
    refund = write_in(sandboxes, "refund@example.com", "Refund",
                      f"I want a full refund for order {small['order_name']} right now. Refund me today.")
    for created in (vip, refund):
        tid = created["ticket_id"]
        row = wait_for(lambda tid=tid: (r := ticket_row(db, shop, tid)) and r.status != "new" and r, "decision")
        assert row.escalated and row.status == "escalated" and not row.automated
        note = wait_for(lambda tid=tid: [n for n in agent_messages(gorgias_ticket(sandboxes, tid), public=False)
                                         if "needs a person" in n["body_text"]], "escalation note")
        assert "Why:" in note[0]["body_text"]
    time.sleep(1.0)
    for created in (vip, refund):
        assert agent_messages(gorgias_ticket(sandboxes, created["ticket_id"]), public=True) == []

    vip_row = ticket_row(db, shop, vip["ticket_id"])
    assert vip_row is not None and vip_row.escalation_reason is not None
    assert "frustrated" in vip_row.escalation_reason and "high-value customer" in vip_row.escalation_reason
    vip_ticket = wait_for(lambda: (t := gorgias_ticket(sandboxes, vip["ticket_id"]))
                          and t["assignee_team"] and t, "VIP team assigned")
    assert vip_ticket["assignee_team"]["name"] == "VIP" and vip_ticket["priority"] == "high"
    assert {"vip", "storeops:escalated"} <= {t["name"] for t in vip_ticket["tags"]}

    refund_row = ticket_row(db, shop, refund["ticket_id"])
    assert refund_row is not None and "refund request" in (refund_row.escalation_reason or "")
    # No refund anywhere: nothing refund-like queued, the Shopify order untouched.
    with db.system_session() as session:
        targets = set(session.scalars(select(OutboxMessage.target)))
    assert not any("refund" in t for t in targets)
    shopify = next(o for o in state(sandboxes, "shopify")["orders"] if o["id"] == small["order_id"])
    assert shopify["financial_status"] == "paid"


def test_shadow_mode_writes_a_draft_note_and_sends_nothing(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    with db.session(shop) as session:
        support.set_mode(session, shop, "shadow")
    [placed] = checkout(sandboxes, {"customer": {"email": "shadow@example.com", "first_name": "Sasha"}})
    wait_for(lambda: stored_order(db, shop, placed["order_id"]), "order stored")
    created = write_in(sandboxes, "shadow@example.com", "Order status", "Where is my order? When will it arrive?")
    tid = created["ticket_id"]
    notes = wait_for(lambda: [n for n in agent_messages(gorgias_ticket(sandboxes, tid), public=False)
                              if "draft reply" in n["body_text"]], "draft note")
    assert placed["order_name"] in notes[0]["body_text"]
    time.sleep(1.0)
    ticket = gorgias_ticket(sandboxes, tid)
    assert agent_messages(ticket, public=True) == []
    assert ticket["tags"] == [] and ticket["assignee_team"] is None  # routing stays intended only
    [record] = ticket_records(db, shop, tid)
    assert record.mode == "shadow"
    assert {a["target"] for a in record.intended_actions} == {"gorgias.internal_note", "gorgias.update_ticket"}
    assert {a["target"] for a in record.actions_taken} == {"gorgias.internal_note"}
    row = ticket_row(db, shop, tid)
    assert row is not None and row.status == "drafted" and row.first_response_at is None


def test_gorgias_5xx_and_429s_are_retried_and_each_reply_is_sent_once(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    [placed] = checkout(sandboxes, {"customer": {"email": "retry@example.com", "first_name": "Remy"}})
    order = ship(sandboxes, db, shop, placed["order_id"])
    faults_url = f"{sandboxes['gorgias']['url']}/_sandbox/faults"
    # The next Gorgias API calls (storeops' reads and writes) fail with 503, then with 429.
    httpx.post(faults_url, json={"fail_next": 3, "statuses": [503]}, timeout=10).raise_for_status()
    created = write_in(sandboxes, "retry@example.com", "Tracking", "Can you give me the tracking for my order?")
    tid = created["ticket_id"]
    ticket = wait_for(lambda: (t := gorgias_ticket(sandboxes, tid)) and agent_messages(t, public=True) and t,
                      "the reply despite 503s", timeout=60)
    assert order.tracking_number in agent_messages(ticket, public=True)[0]["body_text"]

    httpx.post(faults_url, json={"fail_next": 3, "statuses": [429], "retry_after_s": 0.5},
               timeout=10).raise_for_status()
    again = write_in(sandboxes, "retry@example.com", "Tracking", f"Sorry, which carrier is order {order.name} with?")
    assert again["ticket_id"] == tid and not again["created"]
    wait_for(lambda: len(agent_messages(gorgias_ticket(sandboxes, tid), public=True)) == 2,
             "the second reply despite 429s", timeout=60)
    time.sleep(1.5)
    assert len(agent_messages(gorgias_ticket(sandboxes, tid), public=True)) == 2
    assert len(ticket_records(db, shop, tid)) == 2


def test_a_cancel_request_before_shipment_cancels_in_shopify_and_shipbob(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    [placed] = checkout(sandboxes, {"customer": {"email": "cancel@example.com", "first_name": "Cal"}})
    oid = placed["order_id"]
    order = wait_for(lambda: (o := stored_order(db, shop, oid)) and o.shipbob_order_id and o, "order at ShipBob")
    created = write_in(sandboxes, "cancel@example.com", "Cancel please",
                       f"Hi, please cancel my order {order.name}.")
    ticket_id = created["ticket_id"]
    ticket = wait_for(lambda: (t := gorgias_ticket(sandboxes, ticket_id)) and agent_messages(t, public=True) and t,
                      "the reply in Gorgias")
    [reply] = agent_messages(ticket, public=True)
    assert order.name in reply["body_text"] and "cancelled" in reply["body_text"]
    # The promise is kept: Shopify cancels (refund, restock), and ShipBob follows from orders/cancelled.
    shopify = wait_for(lambda: (o := next(x for x in state(sandboxes, "shopify")["orders"] if x["id"] == oid))
                       and o.get("cancelled_at") and o, "the order cancelled in Shopify", timeout=30)
    assert shopify["cancelled_at"]
    wait_for(lambda: [o for o in state(sandboxes, "shipbob")["orders"]
                      if o["reference_id"] == str(oid) and o["status"] == "Cancelled"], "ShipBob cancelled", timeout=30)
    with db.session(shop) as session:
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.target == "orders.cancel_order")).all()
    assert len(sent) == 1


def test_a_cancel_request_after_shipment_is_answered_and_nothing_is_cancelled(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    [placed] = checkout(sandboxes, {"customer": {"email": "late@example.com", "first_name": "Lee"}})
    order = ship(sandboxes, db, shop, placed["order_id"])
    created = write_in(sandboxes, "late@example.com", "Cancel", f"Please cancel order {order.name}.")
    ticket = wait_for(lambda: (t := gorgias_ticket(sandboxes, created["ticket_id"]))
                      and agent_messages(t, public=True) and t, "the reply in Gorgias")
    [reply] = agent_messages(ticket, public=True)
    assert "already shipped" in reply["body_text"] and order.tracking_number in reply["body_text"]
    time.sleep(1)
    with db.session(shop) as session:
        assert session.scalars(select(OutboxMessage).where(OutboxMessage.target == "orders.cancel_order")).all() == []
    shopify = next(x for x in state(sandboxes, "shopify")["orders"] if x["id"] == placed["order_id"])
    assert not shopify.get("cancelled_at")
