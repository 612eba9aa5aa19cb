"""The exceptions queue's services: open is idempotent per order and kind, resolve, list, escalate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from storeops.core.errors import InvalidInput, NotFound
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.orders import exceptions
from storeops.domain.orders import services as orders
from storeops.domain.orders.exceptions import OrderException
from storeops.domain.shops.services import add_shop

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_open_is_idempotent_per_order_and_kind_while_unresolved(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        first = exceptions.open_exception(session, shop_id, "1001", "payment", "card declined", {"a": 1}, now=T0)
        again = exceptions.open_exception(session, shop_id, "1001", "payment", "declined twice", {"b": 2})
        other = exceptions.open_exception(session, shop_id, "1001", "address", "bad ZIP", now=T0)
        assert again.id == first.id and other.id != first.id
        assert again.reason == "declined twice" and again.context == {"a": 1, "b": 2}
        assert first.sla_due_at == T0 + exceptions.DEFAULT_SLA["payment"]
        assert exceptions.count_unresolved(session) == 2
        exceptions.resolve_exception(session, first, "fixed", "ana", "paid by phone")
        fresh = exceptions.open_exception(session, shop_id, "1001", "payment", "declined again")
        assert fresh.id != first.id  # resolved ones do not count: a new one opens
        assert (first.status, first.resolution, first.resolved_by, first.open_key) == (
            "resolved", "fixed", "ana", None)


def test_the_database_refuses_a_second_open_row_for_the_same_order_and_kind(db: Database, shop_id: str) -> None:
    with pytest.raises(IntegrityError), db.session(shop_id) as session:
        for _ in range(2):
            session.add(OrderException(shop_id=shop_id, order_external_id="7", kind="risk", open_key="7:risk",
                                       sla_due_at=T0, opened_at=T0))
            session.flush()


def test_open_takes_an_order_row_and_a_custom_sla(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        applied = orders.apply_shopify_order(session, shop_id, {"id": 55, "name": "#1055",
                                                                "updated_at": "2026-11-02T09:00:00Z"})
        assert applied is not None
        row = exceptions.open_exception(session, shop_id, applied.order, "other", "look at it",
                                        sla=timedelta(minutes=15), now=T0)
        assert (row.order_external_id, row.order_name) == ("55", "#1055")
        assert row.sla_due_at == T0 + timedelta(minutes=15)


def test_bad_input_is_refused(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        with pytest.raises(InvalidInput, match="kind must be one of"):
            exceptions.open_exception(session, shop_id, "1", "weather", "rain")
        with pytest.raises(InvalidInput, match="open or waiting"):
            exceptions.open_exception(session, shop_id, "1", "risk", "x", status="resolved")
        row = exceptions.open_exception(session, shop_id, "1", "risk", "x")
        with pytest.raises(InvalidInput, match="resolution must be one of"):
            exceptions.resolve_exception(session, row, "ignored", "ana")
        exceptions.resolve_exception(session, row, "approved", "ana")
        with pytest.raises(InvalidInput, match="already resolved"):
            exceptions.resolve_exception(session, row, "approved", "ana")
        with pytest.raises(NotFound):
            exceptions.get_exception(session, 999)
        with pytest.raises(InvalidInput, match="status must be one of"):
            exceptions.list_exceptions(session, status="closed")


def test_list_filters_and_shop_scope(db: Database, box: SecretBox, shop_id: str) -> None:
    with db.system_session() as session:
        other = add_shop(session, box, domain="other.myshopify.com").id
    with db.session(shop_id) as session:
        a = exceptions.open_exception(session, shop_id, "1", "address", "a")
        b = exceptions.open_exception(session, shop_id, "2", "risk", "b", status="open")
        c = exceptions.open_exception(session, shop_id, "3", "stock_shortage", "c", status="waiting")
        exceptions.resolve_exception(session, b, "approved", "ana")
        ids = (a.id, b.id, c.id)
    with db.session(other) as session:
        exceptions.open_exception(session, other, "1", "address", "someone else's")
    with db.session(shop_id) as session:
        assert [x.id for x in exceptions.list_exceptions(session)] == [ids[2], ids[1], ids[0]]
        assert [x.id for x in exceptions.list_exceptions(session, status="unresolved")] == [ids[2], ids[0]]
        assert [x.id for x in exceptions.list_exceptions(session, status="waiting")] == [ids[2]]
        assert [x.id for x in exceptions.list_exceptions(session, kind="risk")] == [ids[1]]
        assert [x.id for x in exceptions.list_exceptions(session, order="1")] == [ids[0]]
        assert exceptions.find_open(session, "1").id == ids[0]  # type: ignore[union-attr]
        assert exceptions.count_unresolved(session) == 2


def test_escalation_levels_follow_the_sla_periods(db: Database, shop_id: str) -> None:
    with db.session(shop_id) as session:
        row = exceptions.open_exception(session, shop_id, "9", "risk", "x", now=T0)  # SLA 4 h
        assert exceptions.escalation_level(row, T0 + timedelta(hours=4)) == 0
        assert exceptions.escalation_level(row, T0 + timedelta(hours=4, seconds=1)) == 1
        assert exceptions.escalation_level(row, T0 + timedelta(hours=8, seconds=1)) == 2
        assert exceptions.escalation_level(row, T0 + timedelta(days=30)) == exceptions.MAX_LEVEL
        assert exceptions.due_for_escalation(session, T0 + timedelta(hours=3)) == []
        [(due, level)] = exceptions.due_for_escalation(session, T0 + timedelta(hours=5))
        assert due.id == row.id and level == 1
        exceptions.escalate(row, 1, T0 + timedelta(hours=5))
        assert exceptions.due_for_escalation(session, T0 + timedelta(hours=6)) == []
        assert row.overdue(T0 + timedelta(hours=6))
        exceptions.resolve_exception(session, row, "overridden", "ana")
        assert exceptions.due_for_escalation(session, T0 + timedelta(days=2)) == []
        assert exceptions.escalation_level(row, T0 + timedelta(days=2)) == 0
