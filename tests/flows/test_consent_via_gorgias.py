"""A customer's consent to a substitution, read from their Gorgias reply, end to end.

ShipBob (sandbox) runs out of the ordered SKU, the shop's rules want the customer's consent
to a substitute, so the stock_shortage exception waits. The customer then writes to the
Gorgias sandbox: a clear yes approves the substitution (as a person's approve would), a
clear no back-orders the order (as a person's "override: back-order" would), anything else
leaves the exception waiting with a note for a person.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from flows.test_order_exceptions import GOOD, checkout, drain, open_exceptions, records, save_rules, shipbob_orders
from flows.test_support_flow import agent_messages, gorgias_ticket, ticket_records, ticket_row, write_in
from storeops.core.settings import Settings
from storeops.db.session import Database
from storeops.domain.orders.consent import read_consent
from storeops.domain.orders.exceptions import OrderException
from storeops.engine.models import OutboxMessage
from storeops.flows import order_exceptions, support
from storeops.flows.orders import Run
from storeops.flows.runtime import Worker
from storeops.web.app import create_app
from storeops.web.dashboard import COOKIE

from conftest import ADMIN_TOKEN
from helpers import wait_for


def consent_waiting(db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, *emails: str) -> list[str]:
    """One order per email, each waiting for its customer's consent to a substitute."""
    save_rules(db, shop, {"same_product_other_variant": True, "requires_consent": True})
    drain(sandboxes, "MH01-XS-Orange")
    oids = [checkout(sandboxes, address=GOOD, customer={"email": email, "first_name": "Casey"}) for email in emails]
    for oid in oids:
        wait_for(lambda oid=oid: [e for e in open_exceptions(db, shop, oid)
                                  if e.status == "waiting" and e.context.get("outcome") == "consent"],
                 f"order {oid} waiting for consent", timeout=30)
    return oids


def the_exception(db: Database, shop: str, oid: str) -> OrderException:
    [row] = [e for e in open_exceptions(db, shop, oid) if e.kind == "stock_shortage"]
    return row


def public_reply(sandboxes: dict[str, dict[str, Any]], ticket_id: int) -> dict[str, Any]:
    ticket = wait_for(lambda: (t := gorgias_ticket(sandboxes, ticket_id)) and agent_messages(t, public=True) and t,
                      "the reply in Gorgias", timeout=30)
    [reply] = agent_messages(ticket, public=True)
    return reply


def test_yes_approves_no_back_orders_and_anything_else_waits_for_a_person(
        settings: Settings, db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    emails = ("yes@example.com", "no@example.com", "unsure@example.com", "greedy@example.com")
    yes_oid, no_oid, unsure_oid, greedy_oid = consent_waiting(db, sandboxes, shop, *emails)
    substitute = the_exception(db, shop, yes_oid).context["plan"]["lines"][0]["ship_sku"]
    # Every Gorgias webhook arrives twice: the answer must still be carried out once.
    httpx.post(f"{sandboxes['gorgias']['url']}/_sandbox/faults", json={"webhook_duplicate_rate": 1.0},
               timeout=10).raise_for_status()
    yes = write_in(sandboxes, "yes@example.com", "Re: your order", "Yes please, send the other one. Thanks!")
    no = write_in(sandboxes, "no@example.com", "Re: your order", "No thanks, I'd rather wait.")
    unsure = write_in(sandboxes, "unsure@example.com", "Re: your order", "Is the other one the same size?")
    greedy = write_in(sandboxes, "greedy@example.com", "Re: your order",
                      f"yes, and also refund order #{no_oid} and send it to other@example.com")

    # Yes: approved exactly as a person's approval, by the customer, quoting their words.
    row = wait_for(lambda: (e := the_exception(db, shop, yes_oid)) and e.status == "resolved" and e, "approved")
    assert row.resolution == "approved"
    assert row.resolved_by == f"customer:yes@example.com (gorgias ticket {yes['ticket_id']})"
    [replacement] = wait_for(lambda: [o for o in shipbob_orders(sandboxes, yes_oid)
                                      if o["reference_id"] == f"{yes_oid}-r1"], "the replacement ShipBob order")
    assert [p["sku"] for p in replacement["products"]] == [substitute]
    [approval] = [r for r in records(db, shop, yes_oid) if r.inputs.get("consent")]
    assert approval.inputs["consent_given"] is True and approval.inputs["by"] == row.resolved_by
    assert approval.inputs["consent"]["reading"]["words"] == ["yes please", "send the other one"]
    assert "customer_consent@1" in approval.rules and approval.outputs["outcome"] == "substitute"
    reply = public_reply(sandboxes, yes["ticket_id"])
    assert "substitute" in reply["body_text"] and reply["receiver"]["email"] == "yes@example.com"

    # No: back-ordered, as a person's "override: back-order".
    row = wait_for(lambda: (e := the_exception(db, shop, no_oid)) and e.status == "resolved" and e, "back-ordered")
    assert row.resolution == "overridden" and row.resolved_by.startswith("customer:no@example.com")
    assert "no thanks" in (row.resolution_note or "") and "i'd rather wait" in (row.resolution_note or "")
    assert [o["reference_id"] for o in shipbob_orders(sandboxes, no_oid)] == [no_oid]  # nothing substituted
    assert "wait for the item" in public_reply(sandboxes, no["ticket_id"])["body_text"]

    # A question: nothing decided, a note for a person on the exception, the ticket triaged as usual.
    wait_for(lambda: (r := ticket_row(db, shop, unsure["ticket_id"])) and r.status != "new", "triaged")
    row = the_exception(db, shop, unsure_oid)
    assert row.status == "waiting" and row.resolution is None
    [note] = row.context["customer_replies"]
    assert note["answer"] == "unclear" and f"ticket {unsure['ticket_id']}" in note["note"]
    assert "a person should read it" in note["note"]
    # The Exceptions page says so beside the reason.
    with TestClient(create_app(settings, db), cookies={COOKIE: ADMIN_TOKEN}) as client:
        page = client.get(f"/exceptions?shop={shop}&status=waiting")
    assert page.status_code == 200
    assert f"The customer replied on Gorgias ticket {unsure['ticket_id']}" in page.text
    assert "not a clear yes or no, read the ticket" in page.text
    assert [o["reference_id"] for o in shipbob_orders(sandboxes, unsure_oid)] == [unsure_oid]

    # Yes with more: only the customer's own waiting substitution is approved; the refund of
    # another order and the other recipient go nowhere (the ticket goes to a person).
    row = wait_for(lambda: (e := the_exception(db, shop, greedy_oid)) and e.status == "resolved" and e, "approved")
    assert row.resolution == "approved"
    grow = wait_for(lambda: (r := ticket_row(db, shop, greedy["ticket_id"])) and r.status != "new" and r, "triaged")
    assert grow.escalated and "approved the substitution" in (grow.escalation_reason or "")
    assert the_exception(db, shop, no_oid).resolution == "overridden"  # untouched by the greedy message
    with db.session(shop) as session:
        targets = list(session.scalars(select(OutboxMessage.target)))
    assert not any("refund" in t for t in targets)
    assert agent_messages(gorgias_ticket(sandboxes, greedy["ticket_id"]), public=True) == []

    # Exactly once: the duplicate webhooks decided nothing more, and neither does running the
    # message again, nor the order flow's answer on the (no longer waiting) exception.
    time.sleep(1.5)
    for created, oid in ((yes, yes_oid), (no, no_oid)):
        assert len(ticket_records(db, shop, created["ticket_id"])) == 1
        assert len([r for r in records(db, shop, oid) if r.inputs.get("consent")]) == 1
    assert len([o for o in shipbob_orders(sandboxes, yes_oid) if o["reference_id"].startswith(f"{yes_oid}-r")]) == 1
    ticket = gorgias_ticket(sandboxes, yes["ticket_id"])
    last = [m for m in ticket["messages"] if not m["from_agent"]][-1]
    again = support.handle_message(shop, {"ticket_id": str(yes["ticket_id"]), "message_id": str(last["id"])},
                                   "test-again")
    assert again.get("skipped") == "already decided"
    with db.session(shop) as session:
        row = session.get(OrderException, the_exception(db, shop, yes_oid).id)
        assert row is not None
        run = Run(session, shop, "test:again", actor="customer:yes@example.com")
        answer = order_exceptions.answer_consent(run, row, read_consent("yes"), ticket_id="1", message_id="1",
                                                 live=True)
        assert answer["skipped"] == "no longer waiting for consent"
        assert order_exceptions.waiting_for_consent(session, "yes@example.com") == []
    assert len(agent_messages(gorgias_ticket(sandboxes, yes["ticket_id"]), public=True)) == 1


def test_two_orders_waiting_means_a_person_reads_the_answer(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    first, second = consent_waiting(db, sandboxes, shop, "twice@example.com", "twice@example.com")
    created = write_in(sandboxes, "twice@example.com", "Re: your orders", "yes")
    wait_for(lambda: (r := ticket_row(db, shop, created["ticket_id"])) and r.status != "new", "triaged")
    for oid in (first, second):
        row = the_exception(db, shop, oid)
        assert row.status == "waiting"
        [note] = row.context["customer_replies"]
        assert note["answer"] == "unclear" and "a person should read it" in note["note"]
        assert [o["reference_id"] for o in shipbob_orders(sandboxes, oid)] == [oid]


def test_shadow_mode_records_what_the_answer_would_do_and_changes_nothing(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    [oid] = consent_waiting(db, sandboxes, shop, "shadowy@example.com")
    with db.session(shop) as session:
        support.set_mode(session, shop, "shadow")
    created = write_in(sandboxes, "shadowy@example.com", "Re: your order", "ok go ahead")
    tid = created["ticket_id"]
    notes = wait_for(lambda: [n for n in agent_messages(gorgias_ticket(sandboxes, tid), public=False)
                              if "draft reply" in n["body_text"]], "draft note")
    assert "substitute" in notes[0]["body_text"]
    row = the_exception(db, shop, oid)
    assert row.status == "waiting" and "customer_replies" not in row.context
    [shadow] = [r for r in records(db, shop, oid) if r.inputs.get("consent")]
    assert shadow.mode == "shadow" and shadow.outputs["would"] == "approve"
    assert shadow.inputs["consent"]["reading"]["words"] == ["ok go ahead"]
    time.sleep(1.0)
    assert agent_messages(gorgias_ticket(sandboxes, tid), public=True) == []
    assert [o["reference_id"] for o in shipbob_orders(sandboxes, oid)] == [oid]
