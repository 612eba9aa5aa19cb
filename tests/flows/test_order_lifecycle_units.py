"""Order life cycle pieces without a running worker: refunds (newer wins, duplicates, bad
input), the GraphQL-to-webhook snapshot, the payment policy, the reconcile command against
the Shopify sandbox (watermark, a 503, exactly-once queueing) and the scheduled sweep."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
import structlog
from sqlalchemy import select
from typer.testing import CliRunner

from storeops.cli.main import app
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.clock import utcnow
from storeops.core.errors import InvalidInput
from storeops.core.secrets import SecretBox
from storeops.core.settings import Settings
from storeops.db.session import Database, reset_database
from storeops.domain.decisions import services as decisions
from storeops.domain.orders import FulfillmentCenter, exceptions
from storeops.domain.orders.models import Order
from storeops.engine.cursors import read_cursor
from storeops.engine.inbox import InboxProcessor, NewEvent, claim_batch, insert_events
from storeops.engine.models import INVALID, InboxEvent
from storeops.flows import order_lifecycle as lifecycle
from storeops.flows import orders as order_flow
from storeops.flows.demo import connect_demo_shop, connector_for
from storeops.flows.intake import handler_for

from conftest import ADMIN_TOKEN

_counter = iter(range(10**9))


@pytest.fixture
def flow(db: Database, box: SecretBox, shop_id: str, monkeypatch: pytest.MonkeyPatch) -> str:
    order_flow.configure(db, box)
    monkeypatch.setattr(order_flow, "fulfillment_centers",
                        lambda _session, _shop: [FulfillmentCenter("7", "LA", 34.05, -118.24)])
    return shop_id


def deliver(db: Database, shop_id: str, topic: str, payload: Any) -> str:
    event_id = f"ev-{next(_counter)}"
    event = NewEvent(shop_id, "shopify", event_id, topic, {"x-shopify-topic": topic}, json.dumps(payload).encode())
    assert insert_events(db, [event]) == [True]
    processor = InboxProcessor(db, handler_for, worker="test")
    while ids := claim_batch(db, limit=100, lease_s=30, worker="test"):
        processor.process(ids)
    return event_id


def order_payload(updated_at: str, **extra: Any) -> dict[str, Any]:
    return {"id": 4242, "admin_graphql_api_id": "gid://shopify/Order/4242", "name": "#1042",
            "email": "ada@example.com", "currency": "USD", "total_price": "42.00", "current_total_price": "42.00",
            "financial_status": "paid", "updated_at": updated_at, "tags": "",
            "shipping_lines": [{"title": "Standard Shipping"}],
            "shipping_address": {"first_name": "Ada", "last_name": "L", "address1": "200 N Spring St",
                                 "city": "Los Angeles", "province_code": "CA", "zip": "90012", "country_code": "US"},
            "line_items": [{"id": 1, "sku": "MH01-XS-Orange", "name": "Hoodie", "quantity": 1, "grams": 500,
                            "price": "36.01"}], **extra}


def refund(refund_id: int, at: str, amount: str) -> dict[str, Any]:
    return {"id": refund_id, "order_id": 4242, "created_at": at, "processed_at": at,
            "transactions": [{"kind": "refund", "status": "success", "amount": amount}], "refund_line_items": []}


def stored(db: Database, shop_id: str) -> Order:
    with db.session(shop_id) as session:
        order = session.scalars(select(Order)).one()
        session.expunge(order)
        return order


def test_refunds_apply_newer_than_our_snapshot_once(db: Database, flow: str) -> None:
    deliver(db, flow, "orders/paid", order_payload("2026-03-01T10:00:00+00:00"))
    deliver(db, flow, "refunds/create", refund(1, "2026-03-01T11:00:00+00:00", "10.00"))
    order = stored(db, flow)
    assert order.financial_status == "partially_refunded" and order.checks is not None
    assert order.checks["refunds"] == {"1": {"amount": "10.00", "at": "2026-03-01T11:00:00+00:00"}}
    deliver(db, flow, "refunds/create", refund(1, "2026-03-01T11:00:00+00:00", "10.00"))  # again
    assert stored(db, flow).checks == order.checks
    # The rest of the money, later: everything since our snapshot adds up to its total.
    deliver(db, flow, "refunds/create", refund(2, "2026-03-01T12:00:00+00:00", "32.00"))
    assert stored(db, flow).financial_status == "refunded"
    # Shopify's orders/updated after the refunds is the truth from then on ...
    deliver(db, flow, "orders/updated", order_payload("2026-03-01T12:00:05+00:00", financial_status="refunded",
                                                      current_total_price="0.00"))
    # ... and a refund webhook arriving late (older than that snapshot) changes no state.
    deliver(db, flow, "refunds/create", refund(3, "2026-03-01T12:00:01+00:00", "5.00"))
    late = stored(db, flow)
    assert late.financial_status == "refunded" and late.total == "0.00" and set(late.checks["refunds"]) == {
        "1", "2", "3"}


def test_a_refund_without_an_order_id_is_invalid_and_changes_nothing(db: Database, flow: str) -> None:
    deliver(db, flow, "orders/paid", order_payload("2026-03-01T10:00:00+00:00"))
    before = stored(db, flow)
    event_id = deliver(db, flow, "refunds/create", {"id": 9, "transactions": []})
    with db.system_session() as session:
        event = session.scalar(select(InboxEvent).where(InboxEvent.event_id == event_id))
        assert event is not None and event.status == INVALID and "order_id" in (event.error or "")
    after = stored(db, flow)
    assert (after.financial_status, after.checks) == (before.financial_status, before.checks)


def test_a_pending_order_decides_its_sequence_once_without_an_engine(db: Database, flow: str) -> None:
    deliver(db, flow, "orders/create", order_payload("2026-03-01T10:00:00+00:00", financial_status="pending"))
    deliver(db, flow, "orders/updated", order_payload("2026-03-01T10:05:00+00:00", financial_status="pending",
                                                      tags="gift"))
    deliver(db, flow, "orders/updated", order_payload("2026-03-01T10:04:00+00:00", financial_status="paid"))  # late
    with db.session(flow) as session:
        found = decisions.for_subject(session, "order:4242")
        order = session.scalars(select(Order)).one()
        assert [r.rules for r in found] == [[lifecycle.PAYMENT_START_RULE, "payment_policy@0"]]  # the default policy
        assert found[0].outputs["policy"]["intervals_s"] == [3600.0, 86400.0, 259200.0]
        assert order.decided_at is None and order.financial_status == "pending" and order.tags == "gift"


def test_cancelling_an_order_that_never_reached_shipbob_records_why(db: Database, flow: str) -> None:
    deliver(db, flow, "orders/create", order_payload("2026-03-01T10:00:00+00:00", financial_status="pending"))
    with db.session(flow) as session:
        exceptions.open_exception(session, flow, "4242", exceptions.PAYMENT, "unpaid after 3 reminders")
    cancelled = order_payload("2026-03-01T11:00:00+00:00", financial_status="voided",
                              cancelled_at="2026-03-01T11:00:00+00:00")
    deliver(db, flow, "orders/cancelled", cancelled)
    deliver(db, flow, "orders/updated", cancelled)  # the same snapshot again
    with db.session(flow) as session:
        found = [r for r in decisions.for_subject(session, "order:4242") if lifecycle.CANCEL_RULE in r.rules]
        assert len(found) == 1
        assert found[0].outputs == {"cancel_at_shipbob": False, "reached_shipbob": False}
        assert found[0].intended_actions == [] and found[0].actions_taken == []
        [held] = exceptions.list_exceptions(session, order="4242")
        assert (held.status, held.resolution, held.resolved_by) == ("resolved", "cancelled", "system")


def test_payment_policy_rejects_nonsense() -> None:
    for bad in ({"intervals_s": ()}, {"intervals_s": (60.0, -1.0)}, {"grace_s": -5.0}, {"final": "shrug"}):
        with pytest.raises(InvalidInput):
            lifecycle.PaymentPolicy(**bad)  # type: ignore[arg-type]
    policy = lifecycle.PaymentPolicy(intervals_s=(1.5, 2.0), grace_s=3.0, final="exception", restock=False)
    assert lifecycle.PaymentPolicy.from_dict(json.loads(json.dumps(policy.as_dict()))) == policy


def test_payment_policy_is_stored_per_shop_versioned_and_checked(settings: Settings, db: Database,
                                                                shop_id: str) -> None:
    from fastapi.testclient import TestClient

    from storeops.web.app import create_app

    client = TestClient(create_app(settings, db).api, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    default = client.get("/api/v1/order-rules/payment").json()
    assert default == {"version": 0, **lifecycle.PaymentPolicy().as_dict()}
    saved = client.put("/api/v1/order-rules/payment?by=ana", json={"intervals_s": [600, 3600], "final": "exception"})
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"version": 1, "intervals_s": [600.0, 3600.0], "grace_s": 86400.0, "final": "exception",
                            "restock": True}
    for bad, field in (({"intervals_s": "hourly"}, "intervals_s"), ({"intervals_s": [60, True]}, "intervals_s"),
                       ({"grace_s": -1}, "grace_s"), ({"final": "shrug"}, "final"),
                       ({"restock": "yes"}, "restock"), ({"retries": 3}, "retries")):
        refused = client.put("/api/v1/order-rules/payment", json=bad)
        assert refused.status_code == 422 and refused.json()["detail"]["field"] == field, (bad, refused.text)
    # Stored in the database (no process memory): another worker or a restart reads the same.
    with db.session(shop_id) as session:
        policy, version = lifecycle.payment_policy(session)
    assert version == 1 and policy.intervals_s == (600.0, 3600.0) and policy.final == "exception"
    # The echo of a GET is accepted back (a new version).
    assert client.put("/api/v1/order-rules/payment", json=saved.json()).json()["version"] == 2


NODE: dict[str, Any] = {
    "id": "gid://shopify/Order/77", "legacyResourceId": "77", "name": "#1077", "email": "bo@example.com",
    "createdAt": "2026-03-01T10:00:00Z", "updatedAt": "2026-03-01T12:00:00Z", "cancelledAt": None,
    "displayFinancialStatus": "PARTIALLY_REFUNDED", "displayFulfillmentStatus": "UNFULFILLED",
    "tags": ["vip", "gift"], "currencyCode": "USD",
    "totalPriceSet": {"shopMoney": {"amount": "50.00", "currencyCode": "USD"}},
    "totalRefundedSet": {"shopMoney": {"amount": "12.50", "currencyCode": "USD"}},
    "customer": {"id": "gid://shopify/Customer/9", "firstName": "Bo", "lastName": "K",
                 "defaultEmailAddress": {"emailAddress": "bo@example.com"}},
    "shippingAddress": {"firstName": "Bo", "lastName": "K", "company": None, "address1": "1 Main St",
                        "address2": None, "city": "Austin", "province": "Texas", "provinceCode": "TX",
                        "zip": "78701", "countryCodeV2": "US", "phone": None},
    "shippingLine": {"title": "Express Shipping", "code": "EXPRESS"},
    "lineItems": {"nodes": [{"id": "gid://shopify/LineItem/5", "sku": "MH01-XS-Orange", "name": "Hoodie",
                             "quantity": 2, "currentQuantity": 1, "unfulfilledQuantity": 1,
                             "originalUnitPriceSet": {"shopMoney": {"amount": "25.00", "currencyCode": "USD"}},
                             "variant": {"id": "gid://shopify/ProductVariant/3"}}],
                  "pageInfo": {"hasNextPage": False, "endCursor": None}},
}


def test_a_graphql_order_becomes_the_webhook_snapshot(db: Database, flow: str) -> None:
    snap = lifecycle.snapshot_of(NODE)
    assert (snap["id"], snap["financial_status"], snap["fulfillment_status"]) == (77, "partially_refunded", None)
    assert Decimal(snap["current_total_price"]) == Decimal("37.50") and snap["tags"] == "vip, gift"
    assert snap["customer"]["id"] == 9 and snap["shipping_address"]["country_code"] == "US"
    deliver(db, flow, "orders/updated", snap)
    with db.session(flow) as session:
        order = session.scalars(select(Order)).one()
        assert (order.external_id, order.gid, order.shipping_method) == ("77", NODE["id"], "Express Shipping")
        assert order.lines == [{"line_id": "5", "sku": "MH01-XS-Orange", "name": "Hoodie", "quantity": 1,
                                "grams": 0, "price": "25.00"}]
        assert order.customer_external_id == "9" and order.status == "routed"  # partially refunded: released
        assert order.shipping_address is not None and order.shipping_address["province_code"] == "TX"


# --- the reconcile command and the scheduled sweep -------------------------------------------------


@pytest.fixture
def run(storeops_env: dict[str, str]) -> Iterator[Any]:
    runner = CliRunner()
    saved = structlog.get_config()
    env = {k: v for k, v in storeops_env.items() if k.startswith("STOREOPS_")}

    def invoke(*args: str) -> Any:
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    yield invoke
    structlog.configure(**saved)
    reset_database()


def test_reconcile_command_queues_missed_orders_once(
        run: Any, db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]]) -> None:
    # Webhooks go to a port nobody listens on: every delivery is lost.
    connection = connect_demo_shop(db, box, sandboxes, "http://127.0.0.1:9")
    assert connection.ok, connection.as_dict()
    shop = connection.shop_id
    first = run("orders", "reconcile", "--shop", "demo.myshopify.com", "--json")
    assert first.exit_code == 0, first.output
    [mark] = json.loads(first.output)
    assert mark["first_run"] and mark["fed"] == 0
    body = {"count": 2, "seed": 3, "overrides": [{"lines": [{"sku": "MH01-XS-Orange", "quantity": 1}]}] * 2}
    placed = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=10).json()
    ids = sorted(str(c["order_id"]) for c in placed["checkouts"])
    shopify = sandboxes["shopify"]["url"]
    httpx.post(f"{shopify}/_sandbox/faults", json={"fail_next": 1, "statuses": [503]}, timeout=10)
    failed = run("orders", "reconcile", "--json")
    assert failed.exit_code == 1 and "503" in json.loads(failed.output)[0]["error"]
    with db.session(shop) as session:
        assert read_cursor(session, lifecycle.CURSOR) == mark["watermark"]  # not moved by the failure
    done = run("orders", "reconcile", "--json")
    assert done.exit_code == 0, done.output
    [swept] = json.loads(done.output)
    assert sorted(swept["orders"]) == ids and swept["fed"] == 2 and swept["watermark"] >= mark["watermark"]
    again = json.loads(run("orders", "reconcile", "--json").output)[0]
    # The boundary second is read again (both orders, or the later one if they fell in two
    # seconds) and nothing is queued twice.
    assert again["fed"] == 0 and 1 <= again["seen"] <= 2
    with db.system_session() as session:
        events = session.scalars(select(InboxEvent).where(InboxEvent.event_id.like("reconcile:%"))).all()
        assert sorted(e.event_id.split(":")[1] for e in events) == ids
        assert {e.topic for e in events} == {"orders/updated"}
    human = run("orders", "reconcile")
    assert human.exit_code == 0 and "0 queued" in human.output
    assert run("orders", "reconcile", "--shop", "nope.myshopify.com").exit_code == 2


def test_the_scheduled_sweep_covers_every_shop(
        db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]], settings: Any) -> None:
    from storeops.flows.runtime import Worker

    connection = connect_demo_shop(db, box, sandboxes, "http://127.0.0.1:9")
    worker = Worker(settings, db)
    worker.engine.launch()  # the engine only: the sweep itself is what is tested
    try:
        [result] = lifecycle.reconcile_sweep(utcnow(), None)
        assert result is not None and result["shop_id"] == connection.shop_id and result["first_run"]
        [again] = lifecycle.reconcile_sweep(utcnow(), None)
        assert again is not None and again["error"] is None and not again["first_run"]
    finally:
        worker.engine.shutdown()


def test_order_nodes_bring_every_line_item(db: Database, box: SecretBox, sandboxes: dict[str, dict[str, Any]]) -> None:
    shop = connect_demo_shop(db, box, sandboxes, "http://127.0.0.1:9").shop_id
    shopify = sandboxes["shopify"]["url"]
    stock = httpx.get(f"{shopify}/_sandbox/state", timeout=10).json()["inventory"]
    skus = sorted(sku for sku, levels in stock.items() if any(q["available"] > 0 for q in levels.values()))[:23]
    assert len(skus) == 23
    since = utcnow()
    body = {"count": 1, "overrides": [{"lines": [{"sku": s, "quantity": 1} for s in skus]}]}
    [placed] = httpx.post(f"{shopify}/_sandbox/checkouts", json=body, timeout=10).json()["checkouts"]
    assert placed["status"] == "completed", placed
    with closing(cast(ShopifyClient, connector_for(db, box, shop, "shopify"))) as client:
        nodes = [n for n in client.list_order_nodes(since) if
                 n["legacyResourceId"] == str(placed["order_id"])]
    [node] = nodes
    snap = lifecycle.snapshot_of(node)
    assert sorted(li["sku"] for li in snap["line_items"]) == skus  # 20 in the first page, 3 more fetched


def test_sandbox_payment_control_refuses_bad_requests(sandboxes: dict[str, dict[str, Any]]) -> None:
    shopify = sandboxes["shopify"]["url"]
    body = {"count": 1, "overrides": [{"lines": [{"sku": "MH01-XS-Orange", "quantity": 1}], "payment": "pending"}]}
    [placed] = httpx.post(f"{shopify}/_sandbox/checkouts", json=body, timeout=10).json()["checkouts"]
    url = f"{shopify}/_sandbox/orders/{placed['order_id']}/payment"
    assert httpx.post(f"{shopify}/_sandbox/orders/1/payment", json={}, timeout=10).status_code == 404
    assert httpx.post(url, json={"outcome": "maybe"}, timeout=10).status_code == 422
    assert httpx.post(url, json={"outcome": "expired"}, timeout=10).json()["financial_status"] == "expired"
    assert httpx.post(url, json={"outcome": "paid"}, timeout=10).json()["financial_status"] == "paid"
    assert httpx.post(url, json={"outcome": "paid"}, timeout=10).status_code == 409  # nothing left to settle
