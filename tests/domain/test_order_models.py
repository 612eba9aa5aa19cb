"""Order rows from Shopify snapshots (newer wins), their decision facts, and automation modes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from storeops.core.errors import InvalidInput
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.orders import services as orders


def payload(updated_at: str | None, **extra: Any) -> dict[str, Any]:
    return {"id": 77, "name": "#1077", "email": "a@example.com", "financial_status": "paid", "currency": "USD",
            "total_price": "19.90", "updated_at": updated_at, "tags": "vip, gift",
            "customer": {"id": 5}, "shipping_lines": [{"title": "UPS Next Day Air"}],
            "shipping_address": {"address1": "1 Main St", "city": "Austin", "province_code": "TX", "zip": "78701",
                                 "country_code": "US", "first_name": "Ada"},
            "line_items": [{"id": 1, "sku": "A", "quantity": 2, "grams": 300, "price": "9.95"},
                           {"id": 2, "sku": "CARD", "quantity": 1, "price": "5", "requires_shipping": False}],
            **extra}


def test_newer_snapshot_wins_and_older_or_equal_ones_change_nothing(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        first = orders.apply_shopify_order(session, shop_id, payload("2026-01-01T10:00:00Z"))
        assert first is not None and first.created and first.changed
        same = orders.apply_shopify_order(session, shop_id, payload("2026-01-01T10:00:00Z", tags="x"))
        older = orders.apply_shopify_order(session, shop_id, payload("2026-01-01T09:00:00-00:00", tags="y"))
        unstamped = orders.apply_shopify_order(session, shop_id, payload(None, tags="z"))
        assert same is not None and older is not None and unstamped is not None
        assert not (same.changed or older.changed or unstamped.changed)
        newer = orders.apply_shopify_order(session, shop_id, payload("2026-01-01T11:00:00+01:00", tags="new"))
        assert newer is not None and newer.changed is False  # 11:00+01:00 is 10:00 UTC: not newer
        newest = orders.apply_shopify_order(
            session, shop_id, payload("2026-01-01T12:00:00Z", tags="new", cancelled_at="2026-01-01T11:30:00Z"))
        assert newest is not None and newest.changed and not newest.created
        order = orders.find(session, "77")
        assert order is not None and order.tags == "new" and order.status == "cancelled"
        assert orders.apply_shopify_order(session, shop_id, {"name": "no id"}) is None


def test_facts_of_a_stored_order(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        applied = orders.apply_shopify_order(session, shop_id, payload("2026-01-01T10:00:00Z"))
        assert applied is not None
        facts = orders.facts_of(applied.order)
    assert facts.order_id == "77" and facts.service_level == "overnight" and facts.payment_state == "paid"
    assert [(line.sku, line.quantity, line.grams, line.unit_price) for line in facts.lines] == [
        ("A", 2, 300, Decimal("9.95"))]  # the gift card does not ship
    assert facts.tags == ("vip", "gift") and facts.total == Decimal("19.90") and facts.customer_id == "5"
    assert facts.shipping_address.zip == "78701" and facts.shipping_address.province_code == "TX"


def test_within_one_second_the_snapshot_further_along_wins(db: Database, shop_id: str) -> None:
    """Shopify stamps whole seconds: orders/create (pending) and orders/paid share one often,
    and may arrive in either order."""
    stamp = "2026-01-01T10:00:00Z"
    with db.session(shop_id) as session:
        assert orders.apply_shopify_order(session, shop_id, payload(stamp, financial_status="pending"))
        paid = orders.apply_shopify_order(session, shop_id, payload(stamp, financial_status="paid"))
        assert paid is not None and paid.changed
        late_pending = orders.apply_shopify_order(session, shop_id, payload(stamp, financial_status="pending"))
        assert late_pending is not None and not late_pending.changed
        cancelled = orders.apply_shopify_order(
            session, shop_id, payload(stamp, financial_status="paid", cancelled_at="2026-01-01T10:00:00Z"))
        assert cancelled is not None and cancelled.changed
        order = orders.find(session, "77")
        assert order is not None and order.financial_status == "paid" and order.status == "cancelled"


def test_automation_modes_default_live_and_are_per_shop(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        assert decisions.mode_for(session, shop_id, "order_routing") == "live"
        decisions.set_mode(session, shop_id, "order_routing", "shadow")
        decisions.set_mode(session, shop_id, "order_routing", "off")
        assert decisions.modes(session, shop_id)["order_routing"] == "off"
        with pytest.raises(InvalidInput):
            decisions.set_mode(session, shop_id, "order_routing", "loud")
        with pytest.raises(InvalidInput):
            decisions.set_mode(session, shop_id, "unknown", "live")
    with db.session("another-shop") as session:
        assert decisions.mode_for(session, "another-shop", "order_routing") == "live"
