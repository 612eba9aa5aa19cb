"""Order life cycle end to end: real HTTP between storeops and the sandboxes, a Worker running
the flows (inbox pump, outbox relay, DBOS).

Cancellations reach ShipBob once however often (and in whatever order) Shopify's webhooks
arrive; ShipBob refusing (a label exists) opens an exception; an unpaid order gets its
reminders, then is routed when paid or cancelled in Shopify when not, across a worker
restart; the sandboxes' own state shows what storeops did there.
"""

from __future__ import annotations

import json
import time
from contextlib import closing
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import func, select

from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.secrets import SecretBox
from storeops.core.settings import Settings
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.orders import exceptions
from storeops.domain.orders.models import Order
from storeops.engine.inbox import NewEvent, insert_events
from storeops.engine.models import InboxEvent as InboxEventModel
from storeops.engine.models import OutboxMessage
from storeops.flows import order_lifecycle as lifecycle
from storeops.flows.demo import connect_demo_shop, connector_for
from storeops.flows.runtime import Worker

from conftest import LiveServer
from helpers import wait_for

CANCEL_ROUTE = "POST /2026-01/order/{order_id:int}:cancel"


@pytest.fixture
def shop(db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], live_app: LiveServer) -> str:
    connection = connect_demo_shop(db, box, sandboxes, live_app.url)
    assert connection.ok, connection.as_dict()
    return connection.shop_id


def set_policy(db: Database, shop: str, policy: lifecycle.PaymentPolicy) -> None:
    with db.session(shop) as session:
        lifecycle.set_payment_policy(session, shop, policy, "test")


def state(sandboxes: dict[str, dict[str, Any]], vendor: str) -> dict[str, Any]:
    return httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/state", timeout=10).json()  # type: ignore[no-any-return]


def stats(sandboxes: dict[str, dict[str, Any]], vendor: str) -> dict[str, Any]:
    return httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/stats", timeout=10).json()  # type: ignore[no-any-return]


def faults(sandboxes: dict[str, dict[str, Any]], vendor: str, **settings: Any) -> None:
    httpx.post(f"{sandboxes[vendor]['url']}/_sandbox/faults", json=settings, timeout=10).raise_for_status()


def checkout(sandboxes: dict[str, dict[str, Any]], **override: Any) -> dict[str, Any]:
    body = {"count": 1, "seed": 11, "overrides": [{"lines": [{"sku": "MH01-XS-Orange", "quantity": 1}],
                                                   "payment": "paid", **override}]}
    answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=10).json()
    [placed] = answer["checkouts"]
    assert placed["status"] == "completed", answer
    return placed  # type: ignore[no-any-return]


def stored_order(db: Database, shop: str, order_id: object) -> Order | None:
    with db.session(shop) as session:
        order = session.scalar(select(Order).where(Order.external_id == str(order_id)))
        if order is not None:
            session.expunge(order)
        return order


def records(db: Database, shop: str, order_id: object, rule: str | None = None) -> list[DecisionRecord]:
    with db.session(shop) as session:
        found = decisions.for_subject(session, f"order:{order_id}")
        session.expunge_all()
    return [r for r in found if rule is None or rule in r.rules]


def shipbob_orders(sandboxes: dict[str, dict[str, Any]], order_id: object) -> list[dict[str, Any]]:
    return [o for o in state(sandboxes, "shipbob")["orders"] if o["reference_id"] == str(order_id)]


def shopify_order(sandboxes: dict[str, dict[str, Any]], order_id: object) -> dict[str, Any]:
    return next(o for o in state(sandboxes, "shopify")["orders"] if o["id"] == order_id)


def reminders(sandboxes: dict[str, dict[str, Any]], order_id: object) -> list[str]:
    return sorted(str(e["unique_id"]) for e in state(sandboxes, "klaviyo")["events"]
                  if e["metric"] == "Payment Failed" and str(e["unique_id"]).startswith(f"payment-failed:{order_id}:"))


def outbox(db: Database, target: str) -> list[OutboxMessage]:
    with db.system_session() as session:
        found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.target == target)))
        session.expunge_all()
    return found


def routed_to_shipbob(db: Database, shop: str, sandboxes: dict[str, dict[str, Any]], oid: object) -> Order:
    wait_for(lambda: shipbob_orders(sandboxes, oid), f"ShipBob order for {oid}")
    return wait_for(lambda: (o := stored_order(db, shop, oid)) and o.shipbob_order_id and o, "ShipBob id stored")


def shopify_client(db: Database, box: SecretBox, shop: str) -> ShopifyClient:
    return cast(ShopifyClient, connector_for(db, box, shop, "shopify"))


# --- cancellations -------------------------------------------------------------------------------


def test_cancel_in_shopify_cancels_the_shipbob_order_once_despite_duplicates_and_reordering(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    placed = checkout(sandboxes)
    oid = placed["order_id"]
    order = routed_to_shipbob(db, shop, sandboxes, oid)
    routed_payload = {"id": oid, "admin_graphql_api_id": order.gid, "financial_status": "paid",
                      "updated_at": order.source_updated_at.isoformat() if order.source_updated_at else None}
    time.sleep(1.1)  # Shopify stamps whole seconds: the cancel must be a newer snapshot
    # Every webhook twice, shuffled: orders/cancelled, orders/updated and refunds/create.
    faults(sandboxes, "shopify", webhook_duplicate_rate=1.0, webhook_reorder=True)
    # ...and ShipBob answers the first two calls with 503: the engine's policy retries.
    faults(sandboxes, "shipbob", fail_next=2, statuses=[503])
    try:
        with closing(shopify_client(db, box, shop)) as client:
            client.cancel_order(order.gid or "", reason="CUSTOMER", restock=True, refund=True)
        cancelled = wait_for(lambda: (o := stored_order(db, shop, oid)) and o.status == "cancelled" and o,
                             "the cancellation in storeops")
        # A late, older snapshot (the pre-cancel orders/updated) arrives after it: nothing changes.
        late = NewEvent(shop, "shopify", f"late-{oid}", "orders/updated", {"x-shopify-topic": "orders/updated"},
                        json.dumps(routed_payload).encode())
        assert insert_events(db, [late]) == [True]
        [sb] = wait_for(lambda: [o for o in shipbob_orders(sandboxes, oid) if o["status"] == "Cancelled"],
                        "the ShipBob order cancelled")
        wait_for(lambda: records(db, shop, oid, lifecycle.CANCEL_RULE)
                 and records(db, shop, oid, lifecycle.CANCEL_RULE)[0].actions_taken[0]["status"] == "done",
                 "the cancel action recorded as done")
        time.sleep(1.5)  # let any duplicate show
    finally:
        faults(sandboxes, "shopify")
        faults(sandboxes, "shipbob")
    shipbob = stats(sandboxes, "shipbob")
    assert shipbob["injected_errors"] == 2 and shipbob["requests"].get(CANCEL_ROUTE) == 1
    [record] = records(db, shop, oid, lifecycle.CANCEL_RULE)
    assert record.mode == "live" and record.outputs == {"cancel_at_shipbob": True, "reached_shipbob": True}
    assert [a["target"] for a in record.actions_taken] == ["shipbob.cancel_order"]
    assert record.actions_taken[0]["result"]["orders"][0]["outcome"] == "cancelled"
    assert len(outbox(db, "shipbob.cancel_order")) == 1
    final = stored_order(db, shop, oid)
    assert final is not None and final.status == "cancelled" and final.cancelled_at == cancelled.cancelled_at
    assert final.shipbob_status == "Cancelled" and sb["id"] == int(final.shipbob_order_id or 0)
    assert final.financial_status == "refunded"  # the refund webhook / newer snapshot, never the late one
    with db.session(shop) as session:
        assert exceptions.list_exceptions(session) == []


def test_cancel_after_shipbob_labelled_it_opens_an_exception(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    oid = checkout(sandboxes)["order_id"]
    order = routed_to_shipbob(db, shop, sandboxes, oid)
    # The label is printed but order.shipped is late: the merchant still can cancel in Shopify.
    faults(sandboxes, "shipbob", webhook_delay_s=3600)
    try:
        for _ in range(3):
            httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/advance", timeout=10).raise_for_status()
        assert shipbob_orders(sandboxes, oid)[0]["status"] != "Cancelled"
        time.sleep(1.1)
        with closing(shopify_client(db, box, shop)) as client:
            client.cancel_order(order.gid or "", reason="CUSTOMER", restock=False, refund=True)
        [exception] = wait_for(lambda: _exceptions(db, shop, oid), "a cancel_failed exception")
    finally:
        faults(sandboxes, "shipbob")
    assert exception.kind == "cancel_failed" and exception.status == "open"
    assert "cannot be canceled" in exception.reason
    [record] = wait_for(lambda: [r for r in records(db, shop, oid, lifecycle.CANCEL_RULE)
                                 if r.actions_taken[0]["status"] == "refused"], "the refusal on the decision")
    assert exception.context["decision_id"] == record.id
    assert [o["status"] for o in shipbob_orders(sandboxes, oid)] != ["Cancelled"]
    assert stats(sandboxes, "shipbob")["requests"].get(CANCEL_ROUTE) == 1


def _exceptions(db: Database, shop: str, oid: object) -> list[exceptions.OrderException]:
    with db.session(shop) as session:
        found = exceptions.list_exceptions(session, order=str(oid))
        session.expunge_all()
    return found


def test_shadow_mode_decides_the_cancel_and_calls_nothing(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    oid = checkout(sandboxes)["order_id"]
    order = routed_to_shipbob(db, shop, sandboxes, oid)
    with db.session(shop) as session:
        decisions.set_mode(session, shop, "order_routing", "shadow")
    time.sleep(1.1)
    with closing(shopify_client(db, box, shop)) as client:
        client.cancel_order(order.gid or "", reason="CUSTOMER", restock=True, refund=True)
    [record] = wait_for(lambda: records(db, shop, oid, lifecycle.CANCEL_RULE), "the cancel decision")
    assert record.mode == "shadow" and record.actions_taken == []
    assert [a["target"] for a in record.intended_actions] == ["shipbob.cancel_order"]
    assert record.intended_actions[0]["payload"]["reference_ids"] == [str(oid)]
    time.sleep(1.0)
    assert outbox(db, "shipbob.cancel_order") == []
    assert shipbob_orders(sandboxes, oid)[0]["status"] != "Cancelled"
    assert CANCEL_ROUTE not in stats(sandboxes, "shipbob")["requests"]


# --- unpaid orders -----------------------------------------------------------------------------


def test_unpaid_order_gets_reminders_then_is_routed_once_paid(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    set_policy(db, shop, lifecycle.PaymentPolicy(intervals_s=(1.0, 8.0, 8.0), grace_s=1.0))
    faults(sandboxes, "klaviyo", fail_next=2, statuses=[429], retry_after_s=0.2)  # the reminder is retried
    placed = checkout(sandboxes, payment="pending")
    oid = placed["order_id"]
    assert placed["financial_status"] == "pending"
    [start] = wait_for(lambda: records(db, shop, oid, lifecycle.PAYMENT_START_RULE), "the retry decision")
    assert start.outputs["sequence"] == lifecycle.payment_workflow_id(shop, str(oid))
    assert start.outputs["policy"]["intervals_s"] == [1.0, 8.0, 8.0]
    wait_for(lambda: records(db, shop, oid, lifecycle.PAYMENT_REMINDER_RULE), "the first reminder", timeout=20)
    answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/orders/{oid}/payment", json={"outcome": "paid"},
                        timeout=10)
    assert answer.status_code == 200 and answer.json()["financial_status"] == "paid"
    routed_to_shipbob(db, shop, sandboxes, oid)
    [stop] = wait_for(lambda: records(db, shop, oid, lifecycle.PAYMENT_STOP_RULE), "the sequence to stop",
                      timeout=20)
    assert stop.outputs == {"stopped": "payment paid"}
    assert worker.engine.result(start.outputs["sequence"], timeout_s=10) == "stopped"
    wait_for(lambda: reminders(sandboxes, oid), "the first reminder at Klaviyo (after two 429s)")
    assert reminders(sandboxes, oid) == [f"payment-failed:{oid}:1"]
    assert stats(sandboxes, "klaviyo")["throttled"] >= 2
    assert [r.outputs["step"] for r in records(db, shop, oid, lifecycle.PAYMENT_REMINDER_RULE)] == [1]
    assert records(db, shop, oid, lifecycle.PAYMENT_FINAL_RULE) == []
    assert shopify_order(sandboxes, oid)["cancelled_at"] is None


def test_unpaid_order_is_cancelled_in_shopify_and_a_restart_repeats_and_loses_nothing(
        settings: Settings, db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    set_policy(db, shop, lifecycle.PaymentPolicy(intervals_s=(1.0, 2.0, 2.0), grace_s=1.0))
    oid = checkout(sandboxes, payment="pending")["order_id"]
    wait_for(lambda: reminders(sandboxes, oid), "the first reminder", timeout=20)
    worker.stop()  # mid-sequence: the workflow is in its second durable sleep
    time.sleep(0.5)
    restarted = Worker(settings, db)
    restarted.start()
    try:
        wait_for(lambda: shopify_order(sandboxes, oid)["cancelled_at"], "the order cancelled in Shopify",
                 timeout=40)
        wait_for(lambda: (o := stored_order(db, shop, oid)) and o.status == "cancelled", "the cancel webhook")
        wait_for(lambda: records(db, shop, oid, lifecycle.CANCEL_RULE), "the cancel decision")
        wait_for(lambda: all(m.status == "done" for m in outbox(db, "shopify.cancel_order")), "cancel done")
        time.sleep(1.0)
    finally:
        restarted.stop()
    assert reminders(sandboxes, oid) == [f"payment-failed:{oid}:{n}" for n in (1, 2, 3)]
    assert sorted(r.outputs["step"] for r in records(db, shop, oid, lifecycle.PAYMENT_REMINDER_RULE)) == [1, 2, 3]
    assert len(outbox(db, "klaviyo.payment_reminder")) == 3
    [final] = records(db, shop, oid, lifecycle.PAYMENT_FINAL_RULE)
    assert final.outputs["final"] == "cancel" and final.actions_taken[0]["status"] == "done"
    [cancel] = outbox(db, "shopify.cancel_order")
    assert cancel.result == {"outcome": "cancelled", "message": None}
    assert shopify_order(sandboxes, oid)["financial_status"] == "voided"
    [on_cancel] = records(db, shop, oid, lifecycle.CANCEL_RULE)
    assert on_cancel.outputs == {"cancel_at_shipbob": False, "reached_shipbob": False}
    assert shipbob_orders(sandboxes, oid) == []


def test_policy_can_leave_the_unpaid_order_to_a_person(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    set_policy(db, shop, lifecycle.PaymentPolicy(intervals_s=(1.0,), grace_s=0.5, final="exception"))
    oid = checkout(sandboxes, payment="pending")["order_id"]
    [exception] = wait_for(lambda: _exceptions(db, shop, oid), "a payment exception", timeout=20)
    assert exception.kind == "payment" and "after 1 reminders" in exception.reason
    [final] = records(db, shop, oid, lifecycle.PAYMENT_FINAL_RULE)
    assert final.outputs["final"] == "exception" and exception.context["decision_id"] == final.id
    assert shopify_order(sandboxes, oid)["cancelled_at"] is None
    assert outbox(db, "shopify.cancel_order") == []


def test_a_payment_that_arrives_unheard_is_not_cancelled(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    set_policy(db, shop, lifecycle.PaymentPolicy(intervals_s=(1.0,), grace_s=3.0))
    oid = checkout(sandboxes, payment="pending")["order_id"]
    wait_for(lambda: records(db, shop, oid, lifecycle.PAYMENT_START_RULE), "the retry decision")
    faults(sandboxes, "shopify", webhook_delay_s=3600)  # the payment's webhooks do not reach us in time
    try:
        answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/orders/{oid}/payment",
                            json={"outcome": "paid"}, timeout=10)
        assert answer.status_code == 200
        [final] = wait_for(lambda: records(db, shop, oid, lifecycle.PAYMENT_FINAL_RULE), "the final decision")
        assert final.outputs["final"] == "cancel"  # our copy still says pending
        [message] = wait_for(lambda: [m for m in outbox(db, "shopify.cancel_order") if m.status == "done"],
                             "the cancel action")
    finally:
        faults(sandboxes, "shopify")
    assert message.result is not None and message.result["outcome"] == "settled"  # Shopify said paid: no cancel
    assert shopify_order(sandboxes, oid)["cancelled_at"] is None
    assert shopify_order(sandboxes, oid)["financial_status"] == "paid"


# --- reconciliation ----------------------------------------------------------------------------


def test_reconciliation_finds_an_order_whose_webhooks_were_lost_and_routes_it_once(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    first = lifecycle.reconcile_shop(db, box, shop)
    assert first.first_run and first.fed == 0  # the first sweep only sets the watermark
    faults(sandboxes, "shopify", webhook_delay_s=3600)  # webhooks held back: storeops hears nothing
    try:
        oid = checkout(sandboxes)["order_id"]
        time.sleep(1.0)
        assert stored_order(db, shop, oid) is None
        swept = lifecycle.reconcile_shop(db, box, shop)
        assert swept.fed == 1 and swept.orders == [str(oid)]
        order = routed_to_shipbob(db, shop, sandboxes, oid)
        assert order.status == "routed" and order.name == placed_name(sandboxes, oid)
        assert order.shipping_method == "Standard Shipping" and order.lines[0]["sku"] == "MH01-XS-Orange"
        # Routing tagged the order in Shopify: a newer version, which the next sweep brings
        # (its webhook is held back too); applying it changes the tags and routes nothing.
        wait_for(lambda: "storeops:routed" in shopify_order(sandboxes, oid)["tags"], "the routing tags")
        tagged = lifecycle.reconcile_shop(db, box, shop)
        assert tagged.fed == 1 and tagged.orders == [str(oid)]
        wait_for(lambda: "storeops:routed" in (stored_order(db, shop, oid) or order).tags, "the tags applied")
        again = lifecycle.reconcile_shop(db, box, shop)
        assert (again.seen, again.fed, again.watermark) == (1, 0, tagged.watermark)  # nothing new: no change
        time.sleep(1.0)
    finally:
        faults(sandboxes, "shopify")
    assert len(shipbob_orders(sandboxes, oid)) == 1
    assert len(records(db, shop, oid)) == 1
    with db.system_session() as session:
        events = session.scalar(select(func.count()).select_from(InboxEventModel)
                                .where(InboxEventModel.event_id.like(f"reconcile:{oid}:%")))
    assert events == 2


def placed_name(sandboxes: dict[str, dict[str, Any]], oid: object) -> str:
    return str(shopify_order(sandboxes, oid)["name"])

