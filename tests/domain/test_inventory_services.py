"""Inventory services on a real database (SQLite or PostgreSQL): truth, reservations, targets,
and orders racing stock decreases for the last units."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storeops.core.errors import InvalidInput
from storeops.db.session import Database
from storeops.domain.inventory import StockChange, available_by_location, release, reserve
from storeops.domain.inventory import services as stock
from storeops.domain.inventory.models import OPEN, SHORT, ChannelListing, InventoryAlert, Reservation, StockLevel

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def seed(db: Database, shop_id: str, levels: dict[tuple[str, str], int]) -> None:
    with db.session(shop_id) as session:
        stock.apply_stock(session, shop_id, [StockChange(sku, loc, n, at(0)) for (sku, loc), n in levels.items()])


def test_newer_wins_and_late_changes_are_ignored(db: Database, shop_id: str) -> None:
    seed(db, shop_id, {("A", "1"): 5})
    with db.session(shop_id) as session:
        applied = stock.apply_stock(session, shop_id, [StockChange("A", "1", 9, at(10))])
        assert applied.changed == ["A"]
        late = stock.apply_stock(session, shop_id, [StockChange("A", "1", 1, at(5))])
        assert late.changed == []
        same = stock.apply_stock(session, shop_id, [StockChange("A", "1", 9, at(11))])
        assert same.changed == []  # nothing moved: nothing to push
    with db.session(shop_id) as session:
        assert session.scalar(select(StockLevel.on_hand).where(StockLevel.sku == "A")) == 9


def test_reserve_all_or_nothing_and_prefers_one_location(db: Database, shop_id: str) -> None:
    seed(db, shop_id, {("A", "1"): 2, ("A", "2"): 5, ("B", "1"): 1})
    with db.session(shop_id) as session:
        ok = reserve(session, shop_id, "o1", [("A", 3), ("B", 1)])
        assert ok.ok and sorted(ok.reserved) == [("A", "2", 3), ("B", "1", 1)]
        again = reserve(session, shop_id, "o1", [("A", 3), ("B", 1)])
        assert again.ok and again.already  # a re-sent webhook reserves nothing twice
        short = reserve(session, shop_id, "o2", [("A", 2), ("B", 1)])
        assert not short.ok and [(s.sku, s.wanted, s.available) for s in short.short] == [("B", 1, 0)]
        assert session.scalar(select(func.count()).select_from(Reservation)
                              .where(Reservation.order_id == "o2")) == 0  # nothing half-reserved
        split = reserve(session, shop_id, "o3", [("A", 4)])  # 2 left at 1, 2 at 2: split
        assert split.ok and sorted(split.reserved) == [("A", "1", 2), ("A", "2", 2)]
        assert available_by_location(session, ["A", "B"]) == {("1", "A"): 0, ("2", "A"): 0, ("1", "B"): 0}
        assert release(session, "o3") == ["A"]
        assert available_by_location(session, ["A"]) == {("1", "A"): 2, ("2", "A"): 2}
        at_two = reserve(session, shop_id, "o4", [("A", 3)], location="1")
        assert not at_two.ok and at_two.short[0].available == 2


def test_bad_lines_are_refused_and_change_nothing(db: Database, shop_id: str) -> None:
    seed(db, shop_id, {("A", "1"): 5})
    with db.session(shop_id) as session:
        with pytest.raises(InvalidInput):
            reserve(session, shop_id, "o1", [("A", 1), ("", 1)])
        with pytest.raises(InvalidInput):
            reserve(session, shop_id, "o1", [("A", 0)])
        assert session.scalar(select(func.count()).select_from(Reservation)) == 0


def test_targets_follow_policies_and_low_stock_alerts_open_and_close(db: Database, shop_id: str) -> None:
    seed(db, shop_id, {("A", "1"): 10, ("A", "2"): 3})
    with db.session(shop_id) as session:
        stock.link_listings(session, shop_id, [
            {"channel": "shopify", "sku": "A", "location": "1", "external_item": "i", "external_location": "l1"},
            {"channel": "shopify", "sku": "A", "location": "2", "external_item": "i", "external_location": "l2"},
            {"channel": "amazon", "sku": "A", "location": ""}])
        stock.set_policy(session, shop_id, "amazon", safety_buffer=2, floor=0, share_pct=100)
        stock.set_policy(session, shop_id, "shopify", safety_buffer=0, floor=4, share_pct=100)
        stock.set_threshold(session, shop_id, "A", 11)
        reserve(session, shop_id, "o1", [("A", 2)], location="1")
        assert stock.refresh_targets(session, shop_id, ["A"]) == 3
        targets = {(r.channel, r.location): r.target for r in session.scalars(select(ChannelListing))}
        assert targets == {("shopify", "1"): 8, ("shopify", "2"): 0, ("amazon", ""): 6 + 1}
        [alert] = session.scalars(select(InventoryAlert).where(InventoryAlert.kind == "low_stock")).all()
        assert alert.detail == {"available": 11, "threshold": 11} and alert.resolved_at is None
        with pytest.raises(InvalidInput):
            stock.set_policy(session, shop_id, "ebay")
        with pytest.raises(InvalidInput):
            stock.set_policy(session, shop_id, "amazon", share_pct=150)
    with db.session(shop_id) as session:
        stock.apply_stock(session, shop_id, [StockChange("A", "1", 40, at(20))])
        stock.refresh_targets(session, shop_id, ["A"])
        assert session.scalar(select(InventoryAlert.resolved_at).where(InventoryAlert.kind == "low_stock"))


def test_routing_stock_counts_the_orders_own_units_back_and_reassign_moves_them(
        db: Database, shop_id: str) -> None:
    seed(db, shop_id, {("A", "1"): 3, ("A", "2"): 1, ("B", "1"): 2})
    with db.session(shop_id) as session:
        assert reserve(session, shop_id, "o1", [("A", 2)]).reserved == [("A", "1", 2)]
        assert reserve(session, shop_id, "o2", [("A", 1)], location="1").ok
        available, tracked = stock.routing_stock(session, "o1", ["A", "C"])
        # o1's own 2 units at FC 1 are its to route; o2's unit is not.
        assert available == {("1", "A"): 2, ("2", "A"): 1} and tracked == {"A"}
        # Routing sends o1 from FC 2 (1 unit) and FC 1 (1 unit): the holds follow.
        assert stock.reassign(session, shop_id, "o1", [("A", "2", 1), ("A", "1", 1)])
        held = session.scalars(select(Reservation).where(Reservation.order_id == "o1", Reservation.status == OPEN))
        assert sorted((r.location, r.quantity) for r in held) == [("1", 1), ("2", 1)]
        assert not stock.reassign(session, shop_id, "o1", [("A", "1", 1), ("A", "2", 1)])  # nothing to change
        assert available_by_location(session, ["A"]) == {("1", "A"): 1, ("2", "A"): 0}
        with pytest.raises(InvalidInput):
            stock.reassign(session, shop_id, "o1", [("A", "1", 0)])
    with db.session(shop_id) as session:  # a released order routed again holds its units again
        release(session, "o2")
        assert stock.reassign(session, shop_id, "o2", [("A", "1", 1)])
        assert session.scalar(select(Reservation.status).where(Reservation.order_id == "o2")) == OPEN


def test_a_stock_decrease_below_reservations_bumps_the_newest_orders(db: Database, shop_id: str) -> None:
    seed(db, shop_id, {("A", "1"): 3})
    with db.session(shop_id) as session:
        for order in ("o1", "o2", "o3"):
            assert reserve(session, shop_id, order, [("A", 1)]).ok
    with db.session(shop_id) as session:
        applied = stock.apply_stock(session, shop_id, [StockChange("A", "1", 1, at(30))])
        assert sorted(b["order_id"] for b in applied.bumped) == ["o2", "o3"]
        assert session.scalar(select(Reservation.status).where(Reservation.order_id == "o1")) == OPEN


def test_orders_racing_stock_decreases_for_the_last_units_never_oversell(db: Database, shop_id: str) -> None:
    seed(db, shop_id, {("LAST", "1"): 6, ("LAST", "2"): 2})
    errors: list[BaseException] = []
    start = threading.Barrier(14)

    def order(n: int) -> None:
        try:
            start.wait(timeout=30)
            with db.session(shop_id) as session:
                reserve(session, shop_id, f"race-{n}", [("LAST", 1)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def recount(n: int, location: str, on_hand: int) -> None:
        try:
            start.wait(timeout=30)
            with db.session(shop_id) as session:
                stock.apply_stock(session, shop_id, [StockChange("LAST", location, on_hand, at(100 + n))])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=order, args=(n,)) for n in range(10)]
    threads += [threading.Thread(target=recount, args=(n, loc, q))
                for n, (loc, q) in enumerate([("1", 4), ("1", 3), ("2", 1), ("2", 0)])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with db.session(shop_id) as session:
        on_hand = {loc: n for loc, n in session.execute(select(StockLevel.location, StockLevel.on_hand))}
        reserved = {loc: int(n) for loc, n in session.execute(
            select(Reservation.location, func.sum(Reservation.quantity)).where(Reservation.status == OPEN)
            .group_by(Reservation.location))}
        statuses = list(session.scalars(select(Reservation.status)))
    # The last recount per location wins (newest stamp); nothing is promised beyond it.
    assert on_hand == {"1": 3, "2": 0}
    for loc, units in reserved.items():
        assert units <= on_hand[loc], (loc, units, on_hand)
    assert sum(reserved.values()) <= 3
    assert statuses.count(OPEN) + statuses.count(SHORT) == len(statuses) <= 8
