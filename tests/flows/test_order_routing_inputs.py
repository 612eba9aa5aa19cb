"""Routing reads the stock storeops tracks and the merchant's routing rules (flows/routing_inputs.py).

End to end through the sandboxes: Shopify places the order, the worker decides, ShipBob gets
the order at the FC routing chose; the stock snapshot comes from ShipBob's own levels.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from storeops.core.settings import Settings
from storeops.db.session import Database
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.inventory.models import Reservation
from storeops.engine.models import OutboxMessage
from storeops.flows import inventory as inventory_flow
from storeops.flows.runtime import Worker

from conftest import ADMIN_TOKEN
from helpers import wait_for

SKU = "MH01-XS-Orange"
LOS_ANGELES = {"address1": "200 N Spring St", "city": "Los Angeles", "province_code": "CA", "zip": "90012"}


def checkout(sandboxes: dict[str, dict[str, Any]], quantity: int = 1) -> str:
    body = {"count": 1, "seed": 5, "overrides": [{"lines": [{"sku": SKU, "quantity": quantity}], "payment": "paid",
                                                  "address": LOS_ANGELES}]}
    answer = httpx.post(f"{sandboxes['shopify']['url']}/_sandbox/checkouts", json=body, timeout=10).json()
    [placed] = [c for c in answer["checkouts"] if c["status"] == "completed"]
    return str(placed["order_id"])


def routing_record(db: Database, shop: str, oid: str) -> DecisionRecord | None:
    with db.session(shop) as session:
        row = session.scalar(select(DecisionRecord).where(DecisionRecord.subject == f"order:{oid}",
                                                          DecisionRecord.automation == "order_routing"))
        if row is not None:
            session.expunge(row)
        return row


def decided(db: Database, shop: str, oid: str) -> DecisionRecord:
    return wait_for(lambda: routing_record(db, shop, oid), f"order {oid}'s routing decision")


def held_units(db: Database, shop: str, oid: str) -> list[tuple[str, str, int]]:
    with db.session(shop) as session:
        return sorted((r.sku, r.location, r.quantity) for r in session.scalars(
            select(Reservation).where(Reservation.order_id == oid, Reservation.status == "open")))


def shipbob_location(db: Database, oid: str) -> int | None:
    with db.system_session() as session:
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.target == "shipbob.create_order")):
            if str(message.payload.get("reference_id")) == oid:
                return message.payload.get("location_id")  # type: ignore[no-any-return]
    return None


def shipbob_levels(sandboxes: dict[str, dict[str, Any]]) -> dict[str, int]:
    token = sandboxes["shipbob"]["credentials"]["token"]
    answer = httpx.get(f"{sandboxes['shipbob']['url']}/2026-01/inventory-level/locations",
                       params={"SearchBy": SKU, "PageSize": 250}, headers={"Authorization": f"Bearer {token}"})
    [item] = [i for i in answer.json()["items"] if i["sku"] == SKU]
    return {str(loc["location_id"]): int(loc["on_hand_quantity"]) for loc in item["locations"]}


def shipbob_adjust(sandboxes: dict[str, dict[str, Any]], fc_id: str, delta: int) -> None:
    httpx.post(f"{sandboxes['shipbob']['url']}/_sandbox/inventory",
               json={"sku": SKU, "fc_id": int(fc_id), "delta": delta}, timeout=10).raise_for_status()


def test_routing_uses_the_stock_snapshot_and_holds_the_units_where_the_order_ships(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    with db.session(shop) as session:  # storeops tracks stock (and writes to no channel)
        inventory_flow.set_mode(session, shop, "shadow")
    inventory_flow.poll_shipbob(shop, force=True)
    first = checkout(sandboxes)
    record = decided(db, shop, first)
    [nearest] = record.outputs["routing"]["assignments"]
    assert record.outputs["stock"]["source"] == "snapshot" and "stock_snapshot@1" in record.rules
    assert held_units(db, shop, first) == [(SKU, nearest, 1)]

    # A count at ShipBob finds the nearest FC empty; another FC has the SKU.
    levels = shipbob_levels(sandboxes)
    shipbob_adjust(sandboxes, nearest, -levels[nearest])
    other = max((fc for fc in levels if fc != nearest), key=lambda fc: levels[fc])
    if levels[other] < 3:
        shipbob_adjust(sandboxes, other, 3)
    inventory_flow.poll_shipbob(shop, force=True)

    second = checkout(sandboxes)
    record = decided(db, shop, second)
    [chosen] = record.outputs["routing"]["assignments"]
    assert chosen != nearest
    assert record.outputs["stock"]["available"][nearest][SKU] == 0
    assert record.outputs["stock"]["reserved"] == [{"sku": SKU, "fc": chosen, "units": 1}]
    # Intake reserved the unit wherever most were free; routing moved it to the shipping FC.
    assert held_units(db, shop, second) == [(SKU, chosen, 1)]
    assert wait_for(lambda: shipbob_location(db, second), "the ShipBob order") == int(chosen)


def test_an_order_the_snapshot_cannot_cover_still_goes_to_shipbob_and_holds_nothing(
        db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    with db.session(shop) as session:
        inventory_flow.set_mode(session, shop, "shadow")
    for fc, units in shipbob_levels(sandboxes).items():
        if units:
            shipbob_adjust(sandboxes, fc, -units)
    inventory_flow.poll_shipbob(shop, force=True)
    oid = checkout(sandboxes)
    record = decided(db, shop, oid)
    assert record.outputs["routing"]["ok"] and record.outputs["stock"]["source"] == "snapshot_short"
    assert "stock_assumed_at_shipbob@1" in record.rules and "reserved" not in record.outputs["stock"]
    assert held_units(db, shop, oid) == []  # no unit promised that the snapshot does not hold
    assert wait_for(lambda: shipbob_location(db, oid), "the ShipBob order")


def api(settings: Settings, db: Database) -> TestClient:
    from storeops.web.app import create_app

    return TestClient(create_app(settings, db).api, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def test_a_merchant_rule_forces_the_fc_and_the_decision_names_it(
        settings: Settings, db: Database, sandboxes: dict[str, dict[str, Any]], shop: str, worker: Worker) -> None:
    first = checkout(sandboxes)
    [nearest] = decided(db, shop, first).outputs["routing"]["assignments"]
    assert "stock" in decided(db, shop, first).outputs  # untracked: stock assumed everywhere, no rule fired
    assert decided(db, shop, first).outputs["stock"]["source"] == "untracked"
    far = next(fc for fc in shipbob_levels(sandboxes) if fc != nearest)

    client = api(settings, db)
    assert client.get("/api/v1/order-rules/routing").json() == {"version": 0, "rules": []}
    bad = client.put("/api/v1/order-rules/routing", json={"rules": [{"name": "x", "action": "force"}]})
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "fc_ids"
    # An FC ShipBob does not have (a typo) is refused, naming the shop's FCs; nothing is stored.
    typo = client.put("/api/v1/order-rules/routing",
                      json={"rules": [{"name": "typo", "action": "force", "fc_ids": ["99999"]}]})
    assert typo.status_code == 422 and typo.json()["detail"]["field"] == "fc_ids"
    said = typo.json()["detail"]["error"]
    assert "no fulfillment center 99999" in said and f"{far} (" in said
    assert client.get("/api/v1/order-rules/routing").json() == {"version": 0, "rules": []}
    rule = {"name": "california-from-far", "action": "force", "fc_ids": [far], "states": ["ca"]}
    saved = client.put("/api/v1/order-rules/routing?by=ana", json={"rules": [rule]})
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1 and saved.json()["rules"][0]["states"] == ["CA"]
    assert client.get("/api/v1/order-rules/routing").json() == saved.json()
    # What the API shows can be saved back unchanged (a new version).
    assert client.put("/api/v1/order-rules/routing", json=saved.json()).json()["version"] == 2

    second = checkout(sandboxes)
    record = decided(db, shop, second)
    assert list(record.outputs["routing"]["assignments"]) == [far]
    assert "california-from-far@2" in record.rules
    assert wait_for(lambda: shipbob_location(db, second), "the ShipBob order") == int(far)


def test_units_are_not_held_where_the_snapshot_has_not_got_them() -> None:
    """A person forcing an FC the snapshot shows empty: the order goes there, nothing is promised."""
    from storeops.domain.orders import Line
    from storeops.flows import routing_inputs

    view = routing_inputs.RoutingStock({("1", "A"): 0, ("2", "A"): 3}, {"A"}, routing_inputs.SNAPSHOT)
    session: Any = None  # never reached: the check comes before any write
    assert routing_inputs.hold_units(session, "shop", "o1", view, {"1": [Line("A", 1)]}) is None
    untracked = routing_inputs.RoutingStock({("1", "A"): 1}, set(), routing_inputs.UNTRACKED)
    assert routing_inputs.hold_units(session, "shop", "o1", untracked, {"1": [Line("A", 1)]}) is None
