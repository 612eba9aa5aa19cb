"""Order exceptions end to end: real HTTP between storeops and the sandboxes.

A held address asks the customer (Klaviyo sandbox), a corrected address (a signed Shopify
orders/updated) resumes the order to ShipBob; ShipBob's stock exceptions are planned per the
merchant's substitution rules (ShipBob sandbox inventory, 429s included); the SLA sweep
escalates aged exceptions (tags in the Shopify sandbox); a person's actions through the API.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from storeops.connectors.shopify.webhooks import sign
from storeops.core.clock import parse_time, utcnow
from storeops.core.secrets import SecretBox
from storeops.core.settings import Settings
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.orders import exceptions
from storeops.domain.orders import services as order_services
from storeops.domain.orders.exceptions import OrderException
from storeops.domain.orders.models import Order
from storeops.domain.shops import services as shops
from storeops.engine.models import InboxEvent, OutboxMessage
from storeops.flows import order_exceptions
from storeops.flows.runtime import Worker

from conftest import ADMIN_TOKEN, LiveServer
from helpers import wait_for

BAD = {"city": "Los Angeles", "province_code": "CA", "zip": "10001"}  # a New York ZIP in LA
GOOD = {"address1": "200 N Spring St", "city": "Los Angeles", "province_code": "CA", "zip": "90012"}


def state(sandboxes: dict[str, dict[str, Any]], vendor: str) -> dict[str, Any]:
    return httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/state", timeout=10).json()  # type: ignore[no-any-return]


def checkout(sandboxes: dict[str, dict[str, Any]], **override: Any) -> str:
    body = {"count": 1, "seed": 11,
            "overrides": [{"lines": [{"sku": "MH01-XS-Orange", "quantity": 1}], "payment": "paid", **override}]}
    answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=10).json()
    [placed] = [c for c in answer["checkouts"] if c["status"] == "completed"]
    return str(placed["order_id"])


def stored(db: Database, shop: str, oid: str) -> Order | None:
    with db.session(shop) as session:
        order = order_services.find(session, oid)
        if order is not None:
            session.expunge(order)
        return order


def open_exceptions(db: Database, shop: str, oid: str) -> list[OrderException]:
    with db.session(shop) as session:
        found = exceptions.list_exceptions(session, order=oid)
        session.expunge_all()
        return found


def records(db: Database, shop: str, oid: str) -> list[DecisionRecord]:
    with db.session(shop) as session:
        found = decisions.for_subject(session, f"order:{oid}")
        session.expunge_all()
        return found


def shipbob_orders(sandboxes: dict[str, dict[str, Any]], oid: str) -> list[dict[str, Any]]:
    return [o for o in state(sandboxes, "shipbob")["orders"] if str(o["reference_id"]).split("-")[0] == oid]


def klaviyo_events(sandboxes: dict[str, dict[str, Any]], metric: str, oid: str) -> list[dict[str, Any]]:
    return [e for e in state(sandboxes, "klaviyo")["events"]
            if e["metric"] == metric and str(e["unique_id"]).endswith(f":{oid}")]


def shopify_tags(sandboxes: dict[str, dict[str, Any]], oid: str) -> list[str]:
    order = next(o for o in state(sandboxes, "shopify")["orders"] if str(o["id"]) == oid)
    return list(order["tags"])


def send_order_update(db: Database, box: SecretBox, shop: str, live_app: LiveServer, oid: str,
                      address: dict[str, Any], minutes_later: int) -> None:
    """What Shopify sends when the merchant edits the order's address: orders/updated, signed."""
    with db.system_session() as session:
        event = session.scalars(select(InboxEvent).where(InboxEvent.shop_id == shop,
                                                         InboxEvent.topic == "orders/create")
                                .order_by(InboxEvent.id.desc())).first()
        assert event is not None
        payload = json.loads(event.body)
        secret = shops.get_credential(session, box, shop_id=shop, vendor="shopify", name="webhook_secret")
        domain = shops.find_shop(session, shop).domain
    assert str(payload["id"]) == oid and secret is not None
    payload["shipping_address"] = {**payload["shipping_address"], **address}
    stamp = parse_time(payload["updated_at"])
    assert stamp is not None
    payload["updated_at"] = (stamp + timedelta(minutes=minutes_later)).isoformat()
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": "orders/updated",
               "X-Shopify-Shop-Domain": domain, "X-Shopify-API-Version": "2026-07",
               "X-Shopify-Webhook-Id": f"wh-{oid}-{minutes_later}", "X-Shopify-Event-Id": f"ev-{oid}-{minutes_later}",
               "X-Shopify-Triggered-At": utcnow().isoformat(), "X-Shopify-Hmac-Sha256": sign(body, secret.reveal())}
    answer = httpx.post(f"{live_app.url}/webhooks/shopify", content=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text


def drain(sandboxes: dict[str, dict[str, Any]], sku: str) -> None:
    """ShipBob has none of `sku` left anywhere (a stock adjustment in the sandbox)."""
    entry = sandboxes["shipbob"]
    answer = httpx.get(f"{entry['url']}/2026-01/inventory-level/locations", params={"SearchBy": sku},
                       headers={"Authorization": f"Bearer {entry['credentials']['token']}"}, timeout=10)
    [item] = [i for i in answer.json()["items"] if i["sku"] == sku]
    for location in item["locations"]:
        if location["fulfillable_quantity"]:
            httpx.post(f"{entry['url']}/_sandbox/inventory", timeout=10, json={
                "sku": sku, "fc_id": location["location_id"],
                "delta": -location["fulfillable_quantity"]}).raise_for_status()


def save_rules(db: Database, shop: str, rules: dict[str, Any]) -> None:
    with db.session(shop) as session:
        order_services.save_substitution_rules(session, shop, rules, by="merchant@example.com")


def api(settings: Settings, db: Database) -> TestClient:
    from storeops.web import orders_api
    from storeops.web.app import create_app

    app = create_app(settings, db).api
    if not any(getattr(r, "path", None) == "/api/v1/exceptions" for r in app.routes):
        app.include_router(orders_api.router)
    return TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


# --- held for address ------------------------------------------------------------------------


def test_bad_address_holds_asks_the_customer_and_resumes_when_corrected(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker,
        live_app: LiveServer) -> None:
    oid = checkout(sandboxes, address=BAD)
    [exc] = wait_for(lambda: open_exceptions(db, shop, oid), "an address exception")
    assert (exc.kind, exc.status, exc.resolution) == ("address", "waiting", None)
    assert "ZIP" in exc.reason and exc.context["address_attempts"] == 1
    assert exc.context["decision_id"] == records(db, shop, oid)[0].id
    assert exc.sla_due_at - exc.opened_at == timedelta(hours=48)
    [asked] = wait_for(lambda: klaviyo_events(sandboxes, "Address Needs Correction", oid), "the address request")
    assert asked["unique_id"] == f"address-needs-correction:1:{oid}"
    assert stored(db, shop, oid).status == "held"  # type: ignore[union-attr]

    # Still wrong, but different: asked again (attempt 2), still held, one exception.
    send_order_update(db, box, shop, live_app, oid, {"zip": "60601"}, minutes_later=5)
    wait_for(lambda: len(klaviyo_events(sandboxes, "Address Needs Correction", oid)) == 2, "a second request")
    [again] = open_exceptions(db, shop, oid)
    assert again.id == exc.id and again.context["address_attempts"] == 2
    assert shipbob_orders(sandboxes, oid) == []

    # Corrected: the order resumes by itself and the exception resolves itself.
    send_order_update(db, box, shop, live_app, oid, GOOD, minutes_later=10)
    [sb] = wait_for(lambda: shipbob_orders(sandboxes, oid), "the ShipBob order")
    assert sb["recipient"]["address"]["zip_code"] == "90012"
    order = wait_for(lambda: (o := stored(db, shop, oid)) and o.shipbob_order_id and o, "ShipBob id on the order")
    assert order.status == "routed" and order.shipbob_order_id == str(sb["id"])
    [done] = open_exceptions(db, shop, oid)
    assert (done.status, done.resolution, done.resolved_by) == ("resolved", "auto_resolved", "system")
    assert "corrected" in (done.resolution_note or "")
    assert [r.outputs.get("held") for r in records(db, shop, oid)] == ["address", "address", None]
    wait_for(lambda: klaviyo_events(sandboxes, "Placed Order", oid), "Placed Order")


# --- stock shortage --------------------------------------------------------------------------


def test_stock_shortage_substitutes_the_listed_sku_without_consent(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    save_rules(db, shop, {"skus": {"MH01-XS-Orange": {"substitutes": ["MH01-XS-Black", "MH01-XS-Gray"],
                                                     "requires_consent": False}}})
    drain(sandboxes, "MH01-XS-Orange")
    # ShipBob's first inventory read answers 429 once: the action waits and tries again.
    httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/faults", json={"statuses": [429], "fail_next": 1},
               timeout=10).raise_for_status()
    oid = checkout(sandboxes, address=GOOD)
    replacement = wait_for(lambda: [o for o in shipbob_orders(sandboxes, oid) if o["reference_id"] == f"{oid}-r1"],
                           "the replacement ShipBob order")[0]
    assert [p["sku"] for p in replacement["products"]] == ["MH01-XS-Gray"]  # Black has no stock either
    original = next(o for o in shipbob_orders(sandboxes, oid) if o["reference_id"] == oid)
    wait_for(lambda: next(o for o in shipbob_orders(sandboxes, oid) if o["reference_id"] == oid)["status"]
             == "Cancelled", "the stuck order cancelled")
    order = wait_for(lambda: (o := stored(db, shop, oid)) and o.shipbob_order_id == str(replacement["id"]) and o,
                     "the replacement's id on the order")
    assert order.status == "routed" and original["id"] != replacement["id"]
    [exc] = open_exceptions(db, shop, oid)
    assert (exc.kind, exc.status, exc.resolution) == ("stock_shortage", "resolved", "auto_resolved")
    plan = next(r for r in records(db, shop, oid) if r.rules == ["substitution@1"])
    assert plan.outputs["outcome"] == "substitute"
    assert plan.outputs["plan"]["lines"][0]["ship_sku"] == "MH01-XS-Gray"
    wait_for(lambda: klaviyo_events(sandboxes, "Order Item Substituted", oid), "the substitution notice")


def test_stock_shortage_with_consent_waits_then_the_approval_ships_it(
        settings: Settings, db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    save_rules(db, shop, {"same_product_other_variant": True, "requires_consent": True})
    drain(sandboxes, "MH01-XS-Orange")
    httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/faults", json={"statuses": [503], "fail_next": 1},
               timeout=10).raise_for_status()
    oid = checkout(sandboxes, address=GOOD)
    exc = wait_for(lambda: [e for e in open_exceptions(db, shop, oid) if e.status == "waiting"], "consent wait")[0]
    assert exc.kind == "stock_shortage" and exc.context["outcome"] == "consent"
    [line] = exc.context["plan"]["lines"]
    assert line["action"] == "substitute" and line["source"] == "same_product" and line["needs_consent"]
    substitute = line["ship_sku"]
    assert substitute.startswith("MH01-") and substitute != "MH01-XS-Orange"
    wait_for(lambda: klaviyo_events(sandboxes, "Substitution Consent Requested", oid), "the consent request")
    assert stored(db, shop, oid).status == "held"  # type: ignore[union-attr]
    assert [o["reference_id"] for o in shipbob_orders(sandboxes, oid)] == [oid]

    client = api(settings, db)
    answer = client.post(f"/api/v1/exceptions/{exc.id}/approve", json={"by": "ana@shop.test", "note": "agreed by mail"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "resolved" and answer.json()["resolution"] == "approved"
    [replacement] = wait_for(lambda: [o for o in shipbob_orders(sandboxes, oid) if o["reference_id"] == f"{oid}-r1"],
                             "the replacement ShipBob order")
    assert [p["sku"] for p in replacement["products"]] == [substitute]
    approved = [r for r in records(db, shop, oid) if r.inputs.get("by") == "ana@shop.test"]
    assert approved and approved[0].inputs["consent_given"] is True
    # Approving twice is a clear error and changes nothing.
    again = client.post(f"/api/v1/exceptions/{exc.id}/approve", json={"by": "ana@shop.test"})
    assert again.status_code == 422 and "already resolved" in again.text


def test_stock_shortage_without_a_substitute_is_back_ordered(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    drain(sandboxes, "MH01-XS-Orange")  # and the default rules substitute nothing
    oid = checkout(sandboxes, address=GOOD)
    order = wait_for(lambda: (o := stored(db, shop, oid)) and o.status == "backordered" and o, "back-order")
    [exc] = open_exceptions(db, shop, oid)
    assert (exc.kind, exc.status) == ("stock_shortage", "waiting") and exc.context["outcome"] == "backorder"
    assert "back-ordered" in exc.reason and order.shipbob_status == "Exception"
    wait_for(lambda: klaviyo_events(sandboxes, "Order Backordered", oid), "the back-order notice")
    assert [o["reference_id"] for o in shipbob_orders(sandboxes, oid)] == [oid]  # nothing replaced
    # A duplicate ShipBob exception webhook for the same shipment changes nothing.
    with db.session(shop) as session:
        count = session.scalar(select(func.count()).select_from(DecisionRecord))
    [sb] = shipbob_orders(sandboxes, oid)
    payload = {"id": sb["shipments"][0]["id"], "reference_id": oid, "order_id": sb["id"],
               "status": "Exception", "status_details": [{"name": "OutOfStock", "description": "No Stock"}],
               "products": []}
    from storeops.engine.inbox import NewEvent, insert_events

    assert insert_events(db, [NewEvent(shop, "shipbob", "dup-exception", "order.shipment.exception", {},
                                       json.dumps(payload).encode())]) == [True]
    time.sleep(1.5)
    with db.session(shop) as session:
        assert session.scalar(select(func.count()).select_from(DecisionRecord)) == count
    assert len(open_exceptions(db, shop, oid)) == 1


# --- SLA escalation --------------------------------------------------------------------------


def test_sla_sweep_escalates_an_aged_exception_and_tags_the_order(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    oid = checkout(sandboxes, address=BAD)
    [exc] = wait_for(lambda: open_exceptions(db, shop, oid), "an address exception")
    assert order_exceptions.sweep_sla(db) == []  # within its SLA: nothing
    later = exc.sla_due_at + timedelta(minutes=1)
    [first] = order_exceptions.sweep_sla(db, now=later)
    assert (first["exception_id"], first["level"]) == (exc.id, 1)
    assert order_exceptions.sweep_sla(db, now=later) == []  # already at level 1
    wait_for(lambda: "storeops:escalated-1" in shopify_tags(sandboxes, oid), "the escalation tag in Shopify")
    assert "storeops:exception-address" in shopify_tags(sandboxes, oid)
    [second] = order_exceptions.sweep_sla(db, now=exc.sla_due_at + timedelta(hours=49))
    assert second["level"] == 2
    wait_for(lambda: "storeops:escalated-2" in shopify_tags(sandboxes, oid), "level 2 in Shopify")
    [row] = open_exceptions(db, shop, oid)
    assert row.escalation_level == 2 and [e["level"] for e in row.context["escalations"]] == [1, 2]
    sla = [r for r in records(db, shop, oid) if r.rules == ["exception_sla@1"]]
    assert [r.outputs["escalation_level"] for r in sla] == [1, 2]


# --- a person's actions through the API ------------------------------------------------------


def test_api_fix_validates_then_releases_and_override_checks_its_input(
        settings: Settings, db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    oid = checkout(sandboxes, address=BAD)
    [exc] = wait_for(lambda: open_exceptions(db, shop, oid), "an address exception")
    client = api(settings, db)
    assert client.get("/api/v1/exceptions", headers={"Authorization": "Bearer nope"}).status_code == 401
    [listed] = client.get("/api/v1/exceptions?status=unresolved").json()
    assert listed["id"] == exc.id and listed["kind"] == "address" and listed["order"]["id"] == oid
    assert listed["overdue"] is False and listed["sla_due_at"]
    assert client.get("/api/v1/exceptions?kind=address").json()[0]["id"] == exc.id
    assert client.get("/api/v1/exceptions?kind=weather").status_code == 422
    assert client.get("/api/v1/exceptions?status=closed").status_code == 422
    one = client.get(f"/api/v1/exceptions/{exc.id}").json()
    assert one["context"]["checks"]["address"]["ok"] is False and one["decisions"]
    assert client.get("/api/v1/exceptions/999999").status_code == 404

    def outbox() -> int:
        with db.system_session() as session:
            return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)

    before = (outbox(), len(records(db, shop, oid)))
    bad = [
        ({"by": "ana", "address": {"zip": "10002"}}, "still invalid"),
        ({"by": "ana", "address": {"planet": "Mars"}}, "unknown address field"),
        ({"by": "ana"}, "needs the corrected address"),
        ({"by": "", "address": GOOD}, "who acts"),
    ]
    for body, message in bad:
        answer = client.post(f"/api/v1/exceptions/{exc.id}/fix", json=body)
        assert answer.status_code == 422 and message in answer.text, (body, answer.text)
    answer = client.post(f"/api/v1/exceptions/{exc.id}/override", json={"by": "ana", "override": "route", "fc": "99"})
    assert answer.status_code == 422 and "no fulfillment center '99'" in answer.text
    answer = client.post(f"/api/v1/exceptions/{exc.id}/override", json={"by": "ana", "override": "teleport"})
    assert answer.status_code == 422
    assert client.post(f"/api/v1/exceptions/{exc.id}/explode", json={"by": "ana"}).status_code == 404
    assert (outbox(), len(records(db, shop, oid))) == before
    assert open_exceptions(db, shop, oid)[0].status == "waiting"
    assert stored(db, shop, oid).shipping_address["zip"] == "10001"  # type: ignore[index, union-attr]

    answer = client.post(f"/api/v1/exceptions/{exc.id}/fix", json={"by": "ana@shop.test", "address": GOOD,
                                                                   "note": "called the customer"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["resolution"], answer.json()["resolved_by"]) == ("fixed", "ana@shop.test")
    [sb] = wait_for(lambda: shipbob_orders(sandboxes, oid), "the ShipBob order")
    assert sb["recipient"]["address"]["zip_code"] == "90012"
    last = records(db, shop, oid)[-1]
    assert last.inputs["by"] == "ana@shop.test" and last.inputs["note"] == "called the customer"
    assert {a["target"] for a in last.actions_taken} == {"shipbob.create_order", "shopify.tag_order",
                                                          "klaviyo.placed_order"}


def test_api_override_routes_a_held_order_to_the_chosen_fc(
        settings: Settings, db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    oid = checkout(sandboxes, address=BAD)
    [exc] = wait_for(lambda: open_exceptions(db, shop, oid), "an address exception")
    client = api(settings, db)
    answer = client.post(f"/api/v1/exceptions/{exc.id}/override",
                         json={"by": "ops@shop.test", "override": "route", "fc": "3", "note": "ship as is"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["resolution"] == "overridden"
    [sb] = wait_for(lambda: shipbob_orders(sandboxes, oid), "the ShipBob order")
    assert [s["location"]["id"] for s in sb["shipments"]] == [3]
    order = stored(db, shop, oid)
    assert order is not None and order.assigned_fc == "3" and order.status == "routed"
    assert records(db, shop, oid)[-1].rules[-1] == "override_route@1"


def test_api_override_cancels_a_held_order_in_shopify_and_nothing_reaches_shipbob(
        settings: Settings, db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    oid = checkout(sandboxes, address=BAD)
    [exc] = wait_for(lambda: open_exceptions(db, shop, oid), "an address exception")
    client = api(settings, db)
    answer = client.post(f"/api/v1/exceptions/{exc.id}/override",
                         json={"by": "ops@shop.test", "override": "cancel", "note": "customer unreachable"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["resolution"] == "overridden"
    shopify = lambda: next(o for o in state(sandboxes, "shopify")["orders"] if str(o["id"]) == oid)  # noqa: E731
    cancelled = wait_for(lambda: shopify()["cancelled_at"] and shopify(), "the cancel in Shopify")
    assert cancelled["cancel_reason"] == "other"
    # Shopify's orders/cancelled comes back through the inbox: the order is cancelled here too.
    wait_for(lambda: (o := stored(db, shop, oid)) is not None and o.status == "cancelled", "orders/cancelled")
    record = next(r for r in records(db, shop, oid) if r.outputs.get("action") == "override:cancel")
    assert record.inputs["by"] == "ops@shop.test"
    assert [a["target"] for a in record.actions_taken] == ["orders.cancel_order"]
    assert shipbob_orders(sandboxes, oid) == []
    # Cancelling again is refused and changes nothing.
    again = client.post(f"/api/v1/exceptions/{exc.id}/override", json={"by": "ana", "override": "cancel"})
    assert again.status_code == 422


def test_partial_shipment_ships_what_is_there_and_back_orders_the_rest(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    save_rules(db, shop, {"allow_partial": True})
    drain(sandboxes, "MH01-XS-Orange")
    oid = checkout(sandboxes, address=GOOD, lines=[{"sku": "MH01-XS-Orange", "quantity": 1},
                                                   {"sku": "MH01-XS-Gray", "quantity": 2}])
    [replacement] = wait_for(lambda: [o for o in shipbob_orders(sandboxes, oid) if o["reference_id"] == f"{oid}-r1"],
                             "the partial ShipBob order")
    assert [(p["sku"], p["quantity"]) for p in replacement["products"]] == [("MH01-XS-Gray", 2)]
    exc = wait_for(lambda: [e for e in open_exceptions(db, shop, oid) if e.context.get("outcome") == "partial"],
                   "the partial outcome")[0]
    assert exc.status == "waiting" and "1 x MH01-XS-Orange" in exc.reason
    wait_for(lambda: klaviyo_events(sandboxes, "Order Partially Backordered", oid), "the partial notice")


def test_shadow_mode_holds_records_the_request_and_opens_nothing(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    with db.session(shop) as session:
        decisions.set_mode(session, shop, "order_routing", "shadow")
    oid = checkout(sandboxes, address=BAD)
    [record] = wait_for(lambda: records(db, shop, oid), "a decision record")
    assert record.outputs["held"] == "address" and record.actions_taken == []
    assert [a["target"] for a in record.intended_actions] == ["klaviyo.address_correction"]
    time.sleep(1.0)
    assert open_exceptions(db, shop, oid) == [] and not klaviyo_events(sandboxes, "Address Needs Correction", oid)


def test_the_address_request_survives_a_klaviyo_outage(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    httpx.post(f"{sandboxes['klaviyo']['url']}/_sandbox/faults", json={"statuses": [503], "fail_next": 2},
               timeout=10).raise_for_status()
    oid = checkout(sandboxes, address=BAD)
    [event] = wait_for(lambda: klaviyo_events(sandboxes, "Address Needs Correction", oid), "the address request", 60)
    assert event["unique_id"] == f"address-needs-correction:1:{oid}"
    [record] = records(db, shop, oid)
    wait_for(lambda: records(db, shop, oid)[0].actions_taken[0]["status"] == "done", "the action recorded done")
    assert record.outputs["exception_id"] == open_exceptions(db, shop, oid)[0].id


def test_the_scheduled_sweep_runs_as_a_durable_workflow(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    oid = checkout(sandboxes, address=BAD)
    [exc] = wait_for(lambda: open_exceptions(db, shop, oid), "an address exception")
    with db.session(shop) as session:  # it has waited past its SLA
        row = exceptions.get_exception(session, exc.id)
        row.opened_at, row.sla_due_at = row.opened_at - timedelta(hours=50), row.sla_due_at - timedelta(hours=50)
    handle = worker.engine.start(order_exceptions.sla_sweep, utcnow(), None, workflow_id=f"test-sla-{exc.id}")
    handle.get_result()
    [row] = open_exceptions(db, shop, oid)
    assert row.escalation_level == 1 and row.escalated_at is not None
    wait_for(lambda: "storeops:escalated-1" in shopify_tags(sandboxes, oid), "the escalation tag in Shopify")


def test_substitution_rules_api(settings: Settings, db: Database, shop: str) -> None:
    client = api(settings, db)
    assert client.get("/api/v1/order-rules/substitution").json()["version"] == 0
    rules = {"allow_partial": True, "skus": {"A-1": {"substitutes": ["B-1"], "requires_consent": False}}}
    saved = client.put("/api/v1/order-rules/substitution?by=ana", json=rules)
    assert saved.status_code == 200 and saved.json()["version"] == 1
    assert saved.json()["skus"]["A-1"] == {"substitutes": ["B-1"], "same_product_other_variant": False,
                                           "requires_consent": False}
    bad = client.put("/api/v1/order-rules/substitution", json={"skus": {"A-1": {"substitutes": ["A-1"]}}})
    assert bad.status_code == 422 and "cannot substitute itself" in bad.text
    assert client.get("/api/v1/order-rules/substitution").json() == saved.json()  # nothing changed
