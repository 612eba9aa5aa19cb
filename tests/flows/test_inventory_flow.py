"""Inventory sync end to end: real HTTP between storeops and the ShipBob, Shopify and Amazon
sandboxes. A Worker runs the outbox actions; the cycle and the true-up are called directly
(the schedule runs the same functions every few seconds)."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlalchemy import func, select

from storeops.db.session import Database
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.inventory.models import AMAZON, SHOPIFY, ChannelListing, InventoryAlert, Reservation
from storeops.engine.models import OutboxMessage
from storeops.flows import context as flow_context
from storeops.flows import inventory as flow
from storeops.flows.runtime import Worker

from helpers import wait_for

SKU = "MH01-XS-Orange"


def state(sandboxes: dict[str, dict[str, Any]], vendor: str) -> dict[str, Any]:
    return httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/state", timeout=30).json()  # type: ignore[no-any-return]


def stats(sandboxes: dict[str, dict[str, Any]], vendor: str) -> dict[str, Any]:
    return httpx.get(f"{sandboxes[vendor]['url']}/_sandbox/stats", timeout=10).json()  # type: ignore[no-any-return]


def shipbob_adjust(sandboxes: dict[str, dict[str, Any]], sku: str, fc_id: int, delta: int) -> dict[str, Any]:
    answer = httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/inventory",
                        json={"sku": sku, "fc_id": fc_id, "delta": delta}, timeout=10)
    answer.raise_for_status()
    return answer.json()  # type: ignore[no-any-return]


def shipbob_levels(sandboxes: dict[str, dict[str, Any]], sku: str) -> dict[int, int]:
    token = sandboxes["shipbob"]["credentials"]["token"]
    answer = httpx.get(f"{sandboxes['shipbob']['url']}/2026-01/inventory-level/locations",
                       params={"SearchBy": sku, "PageSize": 250}, headers={"Authorization": f"Bearer {token}"})
    [item] = [i for i in answer.json()["items"] if i["sku"] == sku]
    return {int(loc["location_id"]): int(loc["on_hand_quantity"]) for loc in item["locations"]}


def shopify_available(sandboxes: dict[str, dict[str, Any]], sku: str) -> dict[int, int]:
    """fc id -> available at the Shopify location standing for that FC."""
    dump = state(sandboxes, "shopify")
    fc_of = {str(loc["id"]): int(loc["fc_id"]) for loc in dump["locations"]}
    return {fc_of[loc]: q["available"] for loc, q in dump["inventory"][sku].items()}


def amazon_quantity(sandboxes: dict[str, dict[str, Any]], sku: str) -> int | None:
    return state(sandboxes, "amazon")["listings"][sku]["quantity"]  # type: ignore[no-any-return]


def finish_amazon_feeds(sandboxes: dict[str, dict[str, Any]]) -> None:
    httpx.post(f"{sandboxes['amazon']['url']}/_sandbox/advance", json={}, timeout=30).raise_for_status()


def enable(db: Database, shop: str, value: str = "live") -> None:
    with db.session(shop) as session:
        flow.set_mode(session, shop, value)


def synced(db: Database, shop: str, sandboxes: dict[str, dict[str, Any]]) -> None:
    """Link, first poll, first push of every listing; Amazon's feed finished."""
    enable(db, shop)
    flow.link(shop)
    flow.poll_shipbob(shop, force=True)
    flow.plan_push(shop)
    assert flow.wait_idle(shop, 90), "the first push did not finish"
    wait_for(lambda: all(m.status == "done" for m in outbox(db)), "outbox done")
    finish_amazon_feeds(sandboxes)


def outbox(db: Database) -> list[OutboxMessage]:
    with db.system_session() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def push_now(shop: str) -> None:
    flow.poll_shipbob(shop, force=True)
    flow.plan_push(shop)


def test_a_stock_change_at_a_shipbob_fc_reaches_shopify_and_amazon(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    synced(db, shop, sandboxes)
    before = shipbob_levels(sandboxes, SKU)
    assert shopify_available(sandboxes, SKU) == before
    assert amazon_quantity(sandboxes, SKU) == sum(before.values())
    shopify_calls = stats(sandboxes, "shopify")["requests_total"]

    shipbob_adjust(sandboxes, SKU, 1, 7)
    shipbob_adjust(sandboxes, SKU, 1, -2)  # a burst: only the latest level is pushed
    push_now(shop)
    expected = {**before, 1: before[1] + 5}
    wait_for(lambda: shopify_available(sandboxes, SKU) == expected, "Shopify shows the new level")
    wait_for(lambda: amazon_quantity(sandboxes, SKU) == sum(expected.values()), "Amazon shows the new total")
    # One SKU changed: one inventorySetQuantities call, and one listings patch (cheaper than a feed).
    assert stats(sandboxes, "shopify")["requests_total"] - shopify_calls == 1
    messages = outbox(db)[-2:]
    assert {m.target for m in messages} == {"inventory.shopify_set", "inventory.amazon_set"}
    assert next(m for m in messages if m.target == "inventory.amazon_set").result["path"] == "patch"
    with db.session(shop) as session:
        record = session.scalars(select(DecisionRecord).where(DecisionRecord.subject.startswith("inventory:push:"))
                                 .order_by(DecisionRecord.id.desc())).first()
        assert record is not None and record.mode == "live"
        assert record.inputs["pending"] == {"shopify": 1, "amazon": 1}


def test_shadow_mode_decides_and_records_but_calls_no_channel(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    synced(db, shop, sandboxes)
    enable(db, shop, "shadow")
    before = shopify_available(sandboxes, SKU)
    shopify_calls = stats(sandboxes, "shopify")["requests_total"]
    shipbob_adjust(sandboxes, SKU, 2, 3)
    push_now(shop)
    with db.session(shop) as session:
        record = session.scalars(select(DecisionRecord).where(DecisionRecord.subject.startswith("inventory:push:"))
                                 .order_by(DecisionRecord.id.desc())).first()
        assert record is not None and record.mode == "shadow"
        assert {a["target"] for a in record.intended_actions} == {"inventory.shopify_set", "inventory.amazon_set"}
        assert record.actions_taken == []
    time.sleep(1.0)
    assert shopify_available(sandboxes, SKU) == before
    assert stats(sandboxes, "shopify")["requests_total"] == shopify_calls


def test_drift_injected_into_shopify_and_amazon_is_repaired_by_the_true_up(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    synced(db, shop, sandboxes)
    first = flow.true_up(shop)  # reads every channel once, sets the watermarks
    assert first["drift"] == [] and first["checked"] > 0
    truth = shipbob_levels(sandboxes, SKU)
    # Someone edits Shopify by hand and Amazon by a listings patch, behind storeops' back.
    from storeops.connectors.amazon.client import AmazonClient
    from storeops.connectors.shopify.client import ShopifyClient
    from storeops.flows.demo import connector_for

    db_, box = flow_context.deps()
    with connector_for(db_, box, shop, "shopify") as raw:
        shopify = raw if isinstance(raw, ShopifyClient) else None
        assert shopify is not None
        with db.session(shop) as session:
            row = session.scalar(select(ChannelListing).where(ChannelListing.channel == SHOPIFY,
                                                              ChannelListing.sku == SKU,
                                                              ChannelListing.location == "1"))
            assert row is not None
            item, loc = str(row.external_item), str(row.external_location)
        assert shopify.set_available([(item, loc, 999, None)], idempotency_key="drift-test") == []
    client = connector_for(db_, box, shop, "amazon")
    assert isinstance(client, AmazonClient)
    client.set_quantities({SKU: 0})
    client.close()
    assert shopify_available(sandboxes, SKU)[1] == 999 and amazon_quantity(sandboxes, SKU) == 0

    result = flow.true_up(shop)
    found = {(d["channel"], d["location"]): d for d in result["drift"] if d["sku"] == SKU}
    assert found[(SHOPIFY, "1")]["found"] == 999 and found[(AMAZON, "")]["found"] == 0
    wait_for(lambda: shopify_available(sandboxes, SKU) == truth, "Shopify repaired")
    wait_for(lambda: amazon_quantity(sandboxes, SKU) == sum(truth.values()), "Amazon repaired")
    with db.session(shop) as session:
        alerts = list(session.scalars(select(InventoryAlert).where(InventoryAlert.kind == "drift",
                                                                   InventoryAlert.sku == SKU)))
        assert len(alerts) == 2
        record = session.scalars(select(DecisionRecord).where(DecisionRecord.subject.startswith(
            "inventory:true-up:")).order_by(DecisionRecord.id.desc())).first()
        assert record is not None and record.outputs["repaired"] >= 2
    # A second true-up finds nothing new to fix.
    assert flow.wait_idle(shop, 30)
    assert [d for d in flow.true_up(shop)["drift"] if d["sku"] == SKU] == []


def test_a_concurrent_change_on_shopify_is_not_overwritten_blindly(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    synced(db, shop, sandboxes)
    truth = shipbob_levels(sandboxes, SKU)
    from storeops.connectors.shopify.client import ShopifyClient
    from storeops.flows.demo import connector_for

    db_, box = flow_context.deps()
    with db.session(shop) as session:
        row = session.scalar(select(ChannelListing).where(ChannelListing.channel == SHOPIFY,
                                                          ChannelListing.sku == SKU, ChannelListing.location == "2"))
        assert row is not None
        item, loc = str(row.external_item), str(row.external_location)
    # Shopify sold 1 unit at FC 2's location that storeops has not heard of yet.
    raw = connector_for(db_, box, shop, "shopify")
    assert isinstance(raw, ShopifyClient)
    sold = truth[2] - 1
    assert raw.set_available([(item, loc, sold, truth[2])], idempotency_key="sale") == []
    raw.close()
    shipbob_adjust(sandboxes, SKU, 2, 10)  # then a receipt at FC 2
    push_now(shop)
    wait_for(lambda: any(r.subject.startswith("inventory:conflict:") for r in decision_records(db, shop)),
             "a compare-and-set conflict recorded")
    conflict = next(r for r in decision_records(db, shop) if r.subject.startswith("inventory:conflict:"))
    [entry] = conflict.outputs["conflicts"]
    assert entry["expected"] == truth[2] and entry["found"] == sold
    assert entry["decision"] == "channel_lower_kept"
    # The channel keeps the lower number until the order that explains it reaches storeops.
    assert shopify_available(sandboxes, SKU)[2] == sold


def decision_records(db: Database, shop: str) -> list[DecisionRecord]:
    with db.session(shop) as session:
        rows = list(session.scalars(select(DecisionRecord).order_by(DecisionRecord.id)))
        session.expunge_all()
        return rows


def test_vendor_429_and_500_are_retried_without_double_applying(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    synced(db, shop, sandboxes)
    before = shipbob_levels(sandboxes, SKU)
    for vendor, status in (("shopify", 500), ("amazon", 429)):
        httpx.post(f"{sandboxes[vendor]['url']}/_sandbox/faults",
                   json={"fail_next": 2, "statuses": [status], "retry_after_s": 0.2}, timeout=10).raise_for_status()
    known = len(outbox(db))
    shipbob_adjust(sandboxes, SKU, 3, 4)
    push_now(shop)
    expected = {**before, 3: before[3] + 4}
    wait_for(lambda: shopify_available(sandboxes, SKU) == expected, "Shopify after retries")
    wait_for(lambda: amazon_quantity(sandboxes, SKU) == sum(expected.values()), "Amazon after retries")
    assert stats(sandboxes, "shopify")["injected_errors"] == 2
    assert stats(sandboxes, "amazon")["injected_errors"] == 2
    wait_for(lambda: all(m.status == "done" for m in outbox(db)[known:]), "actions done")
    assert {m.target for m in outbox(db)[known:]} == {"inventory.shopify_set", "inventory.amazon_set"}
    # Absolute quantities: the level moved once, by exactly the change.
    assert shopify_available(sandboxes, SKU) == expected


def test_orders_reserve_stock_and_an_unreservable_order_is_an_oversell(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    synced(db, shop, sandboxes)
    truth = shipbob_levels(sandboxes, SKU)
    total = sum(truth.values())
    [first] = place(sandboxes, 1)
    wait_for(lambda: records_for(db, shop, first), "the first order's reservation")
    [record] = records_for(db, shop, first)
    assert record.outputs["ok"] and record.outputs["reserved"][0]["quantity"] == 1
    with db.session(shop) as session:
        row = session.scalar(select(ChannelListing).where(ChannelListing.sku == SKU, ChannelListing.channel == AMAZON))
        assert row is not None and row.target == total - 1
    # Shadow: storeops keeps the truth but writes to no channel, so Shopify keeps offering units
    # that ShipBob has just lost (a count found them damaged). A shopper buys one of them.
    enable(db, shop, "shadow")
    for fc, units in shipbob_levels(sandboxes, SKU).items():
        if units:
            shipbob_adjust(sandboxes, SKU, fc, -units)
    flow.poll_shipbob(shop, force=True)
    bumped = alerts_for(db, shop, first)  # the first order's unit is gone too
    assert [a.detail["reason"] for a in bumped] == ["stock_lost"]
    [second] = place(sandboxes, 1)
    wait_for(lambda: alerts_for(db, shop, second), "an oversell alert")
    [alert] = alerts_for(db, shop, second)
    assert alert.detail["reason"] == "not_reservable"
    assert alert.detail["short"] == [{"sku": SKU, "wanted": 1, "available": 0}]
    [oversold] = records_for(db, shop, second)
    assert oversold.outputs["oversold"] is True and oversold.mode == "shadow"
    with db.session(shop) as session:
        assert session.scalar(select(func.count()).select_from(Reservation)
                              .where(Reservation.order_id == second)) == 0


def place(sandboxes: dict[str, dict[str, Any]], quantity: int) -> list[str]:
    body = {"count": 1, "seed": 3, "overrides": [{"lines": [{"sku": SKU, "quantity": quantity}], "payment": "paid"}]}
    answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=30).json()
    placed = [str(c["order_id"]) for c in answer["checkouts"] if c["status"] == "completed"]
    assert len(placed) == 1, answer
    return placed


def records_for(db: Database, shop: str, order_id: str) -> list[DecisionRecord]:
    with db.session(shop) as session:
        rows = list(session.scalars(select(DecisionRecord).where(DecisionRecord.subject == f"order:{order_id}",
                                                                 DecisionRecord.automation == "inventory_sync")))
        session.expunge_all()
        return rows


def alerts_for(db: Database, shop: str, order_id: str) -> list[InventoryAlert]:
    with db.session(shop) as session:
        rows = list(session.scalars(select(InventoryAlert).where(InventoryAlert.order_id == order_id,
                                                                 InventoryAlert.kind == "oversell")))
        session.expunge_all()
        return rows
