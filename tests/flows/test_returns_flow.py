"""Returns end to end: real HTTP between storeops and the sandboxes, checked from their own state.

An order is placed in the Shopify sandbox storefront, routed to ShipBob and shipped by the
order flow; the return is asked for through storeops' API (or the customer's Shopify account);
the ShipBob sandbox receives the parcel; a Worker runs the flow and its outbox actions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import closing
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import func, select

from storeops.connectors.shipbob.client import ShipbobClient
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.orders.models import Order
from storeops.domain.returns.models import ReturnRequest
from storeops.engine.inbox import InboxProcessor, NewEvent, claim_batch, insert_events
from storeops.engine.models import OutboxMessage
from storeops.flows import returns as returns_flow
from storeops.flows.demo import connector_for
from storeops.flows.intake import handler_for
from storeops.flows.runtime import Worker

from conftest import ADMIN_TOKEN, LiveServer
from helpers import wait_for

SKU = "MH01-XS-Orange"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RETURN_TARGETS = ("shipbob.create_return", "shopify.create_return", "shopify.refund", "klaviyo.returned_product")


@pytest.fixture
def api(live_app: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{live_app.url}/api/v1", headers=AUTH, timeout=20) as client:
        yield client


def state(sandboxes: dict[str, dict[str, Any]], vendor: str) -> dict[str, Any]:
    return httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/state", timeout=10).json()  # type: ignore[no-any-return]


def stored_order(db: Database, shop: str, order_id: object) -> Order | None:
    with db.session(shop) as session:
        order = session.scalar(select(Order).where(Order.external_id == str(order_id)))
        if order is not None:
            session.expunge(order)
        return order


def stored_return(db: Database, shop: str, return_id: int) -> ReturnRequest:
    with db.session(shop) as session:
        found = session.scalars(select(ReturnRequest).where(ReturnRequest.id == return_id)).one()
        session.expunge(found)
        return found


def shipped_order(db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, *, quantity: int = 2,
                  tags: list[str] | None = None) -> Order:
    """Place a paid order, let the order flow route it, and ShipBob ship it (shipment Completed)."""
    body = {"count": 1, "seed": 11, "overrides": [{"lines": [{"sku": SKU, "quantity": quantity}], "payment": "paid",
                                                   **({"tags": tags} if tags else {})}]}
    answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=10).json()
    [placed] = [c for c in answer["checkouts"] if c["status"] == "completed"]
    oid = placed["order_id"]
    wait_for(lambda: (o := stored_order(db, shop, oid)) and o.shipbob_order_id, f"ShipBob order for {oid}")
    for _ in range(4):  # picked, packed, labeled (order.shipped), waiting for pickup (Completed)
        httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/advance", timeout=10).raise_for_status()
    shipped = wait_for(lambda: (o := stored_order(db, shop, oid)) and o.status == "shipped" and o, "shipped")
    wait_for(lambda: next(o for o in state(sandboxes, "shopify")["orders"] if o["id"] == oid)["fulfillment_status"]
             == "fulfilled", "the fulfillment mirrored to Shopify")
    return shipped


def shipbob_returns(sandboxes: dict[str, dict[str, Any]], rma: str) -> list[dict[str, Any]]:
    return [r for r in state(sandboxes, "shipbob")["returns"] if r["reference_id"] == rma]


def shipbob_on_hand(sandboxes: dict[str, dict[str, Any]], sku: str) -> int:
    url, token = sandboxes["shipbob"]["url"], sandboxes["shipbob"]["credentials"]["token"]
    with closing(ShipbobClient(token, url)) as client:
        return sum(level.on_hand for level in client.list_inventory() if level.sku == sku)


def shopify_refunds(sandboxes: dict[str, dict[str, Any]], order_id: object) -> list[dict[str, Any]]:
    return [r for r in state(sandboxes, "shopify")["refunds"] if r["order_id"] == order_id]


def klaviyo_returned(sandboxes: dict[str, dict[str, Any]], return_id: int) -> list[dict[str, Any]]:
    return [e for e in state(sandboxes, "klaviyo")["events"]
            if e["metric"] == "Returned Product" and e["unique_id"] == f"returned-product:{return_id}"]


def outbox(db: Database, target: str) -> list[OutboxMessage]:
    with db.system_session() as session:
        found = list(session.scalars(select(OutboxMessage).where(OutboxMessage.target == target)))
        session.expunge_all()
        return found


def label_issued(db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, return_id: int) -> dict[str, Any]:
    request = wait_for(lambda: (r := stored_return(db, shop, return_id)) and r.status == "label_issued" and r,
                       "the ShipBob return order")
    [sb] = shipbob_returns(sandboxes, str(request.rma))
    assert str(sb["id"]) == request.shipbob_return_id
    return sb


def receive(sandboxes: dict[str, dict[str, Any]], shipbob_return_id: object) -> None:
    url = f"{sandboxes['shipbob']['url']}/_sandbox/returns/{shipbob_return_id}/receive"
    assert httpx.post(url, timeout=10).json()["status"] == "Completed"


def shopify_returns(db: Database, box: SecretBox, shop: str, gid: str) -> list[dict[str, Any]]:
    with closing(connector_for(db, box, shop, "shopify")) as client:
        return cast(ShopifyClient, client).returnables(gid)["returns"]


# --- the whole way -------------------------------------------------------------------------


def test_a_return_from_the_api_ends_in_one_refund_and_a_klaviyo_event(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker,
        api: httpx.Client) -> None:
    order = shipped_order(db, sandboxes, shop, quantity=2)
    [line] = order.lines
    price = Decimal(line["price"])
    created = api.post("/returns", json={"order_id": order.external_id, "reason": "unwanted",
                                         "lines": [{"sku": SKU, "quantity": 1}], "note": "not my colour"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "approved" and body["source"] == "api" and body["eligibility"]["reasons"] == []
    fee = (price / 10).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert Decimal(body["refund"]["restocking_fee"]) == fee  # 10% for "unwanted" by default
    assert Decimal(body["refund"]["total"]) == price - fee and body["refund"]["shipping"] == "0.00"
    [decision] = body["decisions"]
    assert decision["mode"] == "live" and decision["rules"] == ["return_policy@1"]
    assert [a["target"] for a in decision["actions_taken"]] == ["shipbob.create_return", "shopify.create_return"]

    rid = body["id"]
    sb = label_issued(db, sandboxes, shop, rid)
    assert sb["status"] == "AwaitingArrival" and [i["quantity"] for i in sb["inventory"]] == [1]
    request = stored_return(db, shop, rid)
    assert request.rma == f"RMA-{order.external_id}-{rid}" and request.fulfillment_center_id == order.assigned_fc
    wait_for(lambda: stored_return(db, shop, rid).shopify_return_id, "the Shopify return")
    [opened] = shopify_returns(db, box, shop, str(order.gid))
    assert opened["id"] == stored_return(db, shop, rid).shopify_return_id and request.rma in opened["notes"][0]
    assert shopify_refunds(sandboxes, int(order.external_id)) == []  # nothing refunded before receipt

    def available() -> int:
        return sum(level["available"] for level in state(sandboxes, "shopify")["inventory"][SKU].values())

    stock_before, shipbob_before = available(), shipbob_on_hand(sandboxes, SKU)
    receive(sandboxes, sb["id"])
    [refund] = wait_for(lambda: shopify_refunds(sandboxes, int(order.external_id)), "the Shopify refund")
    assert Decimal(refund["amount"]) == price - fee
    assert available() == stock_before + 1  # restocked in Shopify (restockType RETURN) ...
    assert shipbob_on_hand(sandboxes, SKU) == shipbob_before + 1  # ... and on hand again at the ShipBob FC (Restock)
    assert refund["lines"] == [{"line_item_id": int(line["line_id"]), "quantity": 1, "restock_type": "RETURN"}]
    [event] = wait_for(lambda: klaviyo_returned(sandboxes, rid), "the Returned Product event")
    assert Decimal(event["value"]) == price - fee and event["profile_id"]
    closed = wait_for(lambda: (r := stored_return(db, shop, rid)) and r.status == "closed" and r, "closed")
    assert closed.refund_id and closed.received_at and closed.refunded_at
    with db.session(shop) as session:
        records = decisions.for_subject(session, f"return:{rid}")
        assert [r.rules for r in records] == [["return_policy@1"], ["refund_on_receipt@1"]]
        assert records[1].actions_taken[0]["target"] == "shopify.refund"
    shop_order = next(o for o in state(sandboxes, "shopify")["orders"] if o["id"] == int(order.external_id))
    assert shop_order["financial_status"] == "partially_refunded"


def test_duplicate_receipts_and_a_5xx_still_make_exactly_one_refund(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker,
        api: httpx.Client) -> None:
    order = shipped_order(db, sandboxes, shop, quantity=1)
    rid = api.post("/returns", json={"order_id": order.external_id, "reason": "defective",
                                     "lines": [{"sku": SKU, "quantity": 1}]}).json()["id"]
    sb = label_issued(db, sandboxes, shop, rid)
    # ShipBob sends every webhook twice; Shopify answers the next three API calls with 503.
    httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/faults", json={"webhook_duplicate_rate": 1.0},
               timeout=10).raise_for_status()
    httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/faults", json={"fail_next": 3, "statuses": [503]},
               timeout=10).raise_for_status()

    def sent() -> int:
        return int(httpx.get(f"{sandboxes['shipbob']['url']}/_sandbox/stats", timeout=10).json()["webhooks_sent"])

    sent_before = sent()
    receive(sandboxes, sb["id"])
    wait_for(lambda: shopify_refunds(sandboxes, int(order.external_id)), "the refund after the 503s")
    stats = httpx.get(f"{sandboxes['shopify']['url']}/_sandbox/stats", timeout=10).json()
    assert stats["injected_errors"] == 3
    wait_for(lambda: sent() - sent_before == 2, "ShipBob's two deliveries of return.completed")
    # The same return.completed again, as a new delivery the inbox has not seen (a new event id).
    body = dict(shipbob_returns(sandboxes, str(stored_return(db, shop, rid).rma))[0], topic="return.completed")
    event = NewEvent(shop, "shipbob", f"redelivered-{rid}", "return.completed",
                     {"x-topic": "return.completed"}, json.dumps(body).encode())
    assert insert_events(db, [event]) == [True]
    processor = InboxProcessor(db, handler_for, worker="test")
    while ids := claim_batch(db, limit=100, lease_s=30, worker="test"):
        processor.process(ids)
    wait_for(lambda: stored_return(db, shop, rid).status == "closed", "closed")

    # Crash after Shopify refunded but before we recorded it: the action runs again, same key.
    [message] = outbox(db, "shopify.refund")
    again = returns_flow.shopify_refund(shop, message.payload, message.idempotency_key)
    assert again["refund_id"] == stored_return(db, shop, rid).refund_id
    time.sleep(1.0)  # give a second refund the time to show
    [refund] = shopify_refunds(sandboxes, int(order.external_id))
    full = Decimal(order.total)  # defective, everything back: goods and shipping, no fee
    assert Decimal(refund["amount"]) == full
    assert len(klaviyo_returned(sandboxes, rid)) == 1 and len(outbox(db, "klaviyo.returned_product")) == 1


def test_a_request_from_the_customers_shopify_account(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    order = shipped_order(db, sandboxes, shop, quantity=2)
    [line] = order.lines
    body = {"order_id": int(order.external_id), "lines": [{"line_item_id": int(line["line_id"]), "quantity": 2,
                                                            "reason": "SIZE_TOO_SMALL", "customer_note": "tight"}]}
    asked = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/returns/request", json=body, timeout=10)
    assert asked.status_code == 201, asked.text

    def mine() -> ReturnRequest | None:
        with db.session(shop) as session:
            found = session.scalar(select(ReturnRequest).where(ReturnRequest.source == "shopify"))
            if found is not None:
                session.expunge(found)
            return found

    request = wait_for(mine, "the request from the returns/request webhook")
    assert request.source_ref == str(asked.json()["id"]) and request.reason == "size_too_small"
    assert request.note == "tight" and request.shopify_return_id == asked.json()["admin_graphql_api_id"]
    sb = label_issued(db, sandboxes, shop, request.id)
    time.sleep(0.5)
    assert outbox(db, "shopify.create_return") == []  # Shopify already has this return
    receive(sandboxes, sb["id"])
    [refund] = wait_for(lambda: shopify_refunds(sandboxes, int(order.external_id)), "the refund")
    # Both units back, no fee for a size; shipping is refunded only for our fault (defective, ...).
    assert Decimal(refund["amount"]) == Decimal(line["price"]) * 2


# --- nothing happens when it should not ------------------------------------------------------


def test_ineligible_requests_get_no_shipbob_return_and_no_refund(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker, api: httpx.Client) -> None:
    final = shipped_order(db, sandboxes, shop, quantity=1, tags=["final-sale"])
    rejected = api.post("/returns", json={"order_id": final.external_id, "reason": "unwanted",
                                          "lines": [{"sku": SKU, "quantity": 1}]}).json()
    assert rejected["status"] == "rejected"
    assert [r["code"] for r in rejected["eligibility"]["reasons"]] == ["final_sale"]
    assert rejected["decisions"][0]["intended_actions"] == [] and rejected["decisions"][0]["actions_taken"] == []

    assert api.put("/return-policy", json={"window_days": 0}).json()["window_days"] == 0
    late = shipped_order(db, sandboxes, shop, quantity=1)
    outside = api.post("/returns", json={"order_id": late.external_id, "reason": "defective",
                                         "lines": [{"sku": SKU, "quantity": 1}]}).json()
    assert outside["status"] == "rejected"
    assert [r["code"] for r in outside["eligibility"]["reasons"]] == ["outside_window"]
    # A person cannot approve what the policy rejected (only needs_review waits for a person).
    refused = api.post(f"/returns/{outside['id']}/approve", json={"note": "be nice"})
    assert refused.status_code == 409 and "only a return in needs_review" in refused.json()["detail"]["error"]
    time.sleep(1.0)
    assert state(sandboxes, "shipbob")["returns"] == []
    assert shopify_refunds(sandboxes, int(final.external_id)) == []
    assert all(outbox(db, target) == [] for target in RETURN_TARGETS)


def test_shadow_mode_decides_records_and_calls_nothing(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker, api: httpx.Client) -> None:
    assert api.put("/automations/returns", json={"mode": "shadow"}).json()["returns"] == "shadow"
    order = shipped_order(db, sandboxes, shop, quantity=1)
    body = api.post("/returns", json={"order_id": order.external_id, "reason": "defective",
                                      "lines": [{"sku": SKU, "quantity": 1}]}).json()
    assert body["status"] == "approved"
    [decision] = body["decisions"]
    assert decision["mode"] == "shadow" and decision["actions_taken"] == []
    assert [a["target"] for a in decision["intended_actions"]] == ["shipbob.create_return", "shopify.create_return"]
    time.sleep(1.0)
    assert state(sandboxes, "shipbob")["returns"] == []
    assert all(outbox(db, target) == [] for target in RETURN_TARGETS)


def test_a_person_approves_what_the_policy_sent_to_review(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker, api: httpx.Client) -> None:
    order = shipped_order(db, sandboxes, shop, quantity=2)
    used = api.post("/returns", json={"order_id": order.external_id, "reason": "defective", "condition": "used",
                                      "lines": [{"sku": SKU, "quantity": 1}]}).json()
    assert used["status"] == "needs_review"
    assert [r["code"] for r in used["eligibility"]["reasons"]] == ["condition_needs_review"]
    assert [r["status"] for r in api.get("/returns", params={"status": "needs_review"}).json()] == ["needs_review"]
    approved = api.post(f"/returns/{used['id']}/approve", json={"note": "photos look fine"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decisions"][-1]["rules"] == ["person_review@1"]
    label_issued(db, sandboxes, shop, used["id"])
    assert api.post(f"/returns/{used['id']}/reject").status_code == 409  # decided already

    other = api.post("/returns", json={"order_id": order.external_id, "reason": "defective", "condition": "damaged",
                                       "lines": [{"sku": SKU, "quantity": 1}]}).json()
    assert api.post(f"/returns/{other['id']}/reject", json={"note": "water damage"}).json()["status"] == "rejected"
    time.sleep(0.5)
    assert len(state(sandboxes, "shipbob")["returns"]) == 1


def test_bad_requests_are_refused_and_change_nothing(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker, api: httpx.Client) -> None:
    order = shipped_order(db, sandboxes, shop, quantity=1)
    good = {"order_id": order.external_id, "reason": "defective", "lines": [{"sku": SKU, "quantity": 1}]}
    cases = [
        ({**good, "order_id": "404"}, 422, "no order '404'"),
        ({**good, "reason": "bored"}, 422, "reason must be one of"),
        ({**good, "condition": "shiny"}, 422, "condition must be one of"),
        ({**good, "lines": [{"sku": "NOPE", "quantity": 1}]}, 422, "0 lines with SKU 'NOPE'"),
        ({**good, "lines": [{"line_id": "1", "quantity": 1}]}, 422, "has no line '1'"),
        ({**good, "lines": [{"sku": SKU, "quantity": 0}]}, 422, None),
        ({**good, "lines": []}, 422, None),
    ]
    for body, status, message in cases:
        answer = api.post("/returns", json=body)
        assert answer.status_code == status, (body, answer.text)
        if message:
            assert message in answer.json()["detail"]["error"]
    assert api.put("/return-policy", json={"window_days": -3}).status_code == 422
    assert api.get("/return-policy").json()["window_days"] == 30
    assert api.get("/returns/999").status_code == 404
    assert api.get("/returns", params={"status": "lost"}).status_code == 422
    with db.session(shop) as session:
        assert session.scalar(select(func.count()).select_from(ReturnRequest)) == 0
    # The same reference twice is one request.
    first = api.post("/returns", json={**good, "reference": "ticket-77"}).json()
    second = api.post("/returns", json={**good, "reference": "ticket-77"}).json()
    assert first["id"] == second["id"] and len(api.get("/returns").json()) == 1


# --- exactly once under stress ------------------------------------------------------------------


def test_exactly_one_refund_per_approved_return_under_faults(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker, api: httpx.Client) -> None:
    """Six orders, six returns; ShipBob delivers every webhook twice and out of order, Shopify
    fails 30% of calls with 5xx or 429: each order still ends with exactly one refund of the
    quoted amount, and each return with one Klaviyo event (the sandboxes' own state)."""
    n = 6
    body = {"count": n, "seed": 23, "overrides": [{"lines": [{"sku": SKU, "quantity": 2}], "payment": "paid"}] * n}
    answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=20).json()
    ids = [c["order_id"] for c in answer["checkouts"] if c["status"] == "completed"]
    assert len(ids) == n
    wait_for(lambda: all((o := stored_order(db, shop, oid)) and o.shipbob_order_id for oid in ids), "routing", 60)
    for _ in range(4):
        httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/advance", timeout=10).raise_for_status()
    wait_for(lambda: all(o["fulfillment_status"] == "fulfilled" for o in state(sandboxes, "shopify")["orders"]
                         if o["id"] in ids), "fulfillments in Shopify", 60)
    reasons = ["unwanted", "defective", "size_too_large"]
    quoted: dict[int, Decimal] = {}
    for index, oid in enumerate(ids):
        made = api.post("/returns", json={"order_id": str(oid), "reason": reasons[index % 3],
                                          "lines": [{"sku": SKU, "quantity": 1 + index % 2}]})
        assert made.status_code == 201 and made.json()["status"] == "approved", made.text
        quoted[oid] = Decimal(made.json()["refund"]["total"])
    httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/faults",
               json={"webhook_duplicate_rate": 1.0, "webhook_reorder": True}, timeout=10).raise_for_status()
    httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/faults",
               json={"error_rate": 0.3, "statuses": [500, 503, 429], "retry_after_s": 0.2},
               timeout=10).raise_for_status()
    with db.session(shop) as session:
        requests = {r.order_external_id: r.id for r in session.scalars(select(ReturnRequest))}
    for oid in ids:
        sb = label_issued(db, sandboxes, shop, requests[str(oid)])
        receive(sandboxes, sb["id"])
    try:
        wait_for(lambda: all(stored_return(db, shop, rid).status == "closed" for rid in requests.values()),
                 "every return closed", 90)
    except AssertionError as exc:  # say where each return stopped and why
        with db.system_session() as session:
            messages = [(m.target, m.status, m.error) for m in session.scalars(select(OutboxMessage))]
        statuses = [stored_return(db, shop, rid).status for rid in requests.values()]
        raise AssertionError(f"{statuses} {messages}") from exc
    refunds = state(sandboxes, "shopify")["refunds"]
    for oid in ids:
        mine = [r for r in refunds if r["order_id"] == oid]
        assert [Decimal(r["amount"]) for r in mine] == [quoted[oid]], oid
    assert len(state(sandboxes, "shipbob")["returns"]) == n
    assert all(len(klaviyo_returned(sandboxes, rid)) == 1 for rid in requests.values())
    assert len(outbox(db, "shopify.refund")) == n
