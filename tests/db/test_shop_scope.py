"""Every read and write of shop data is scoped to its shop."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update

from storeops.core.secrets import SecretBox
from storeops.db.session import Database, ShopScopeViolation
from storeops.domain.customers.models import Customer
from storeops.domain.shops.services import add_shop


@pytest.fixture
def two_shops(db: Database, box: SecretBox) -> tuple[str, str]:
    with db.system_session() as session:
        a = add_shop(session, box, domain="a.myshopify.com").id
        b = add_shop(session, box, domain="b.myshopify.com").id
    with db.system_session() as session:
        session.add_all([Customer(shop_id=a, external_id="1", email="a1@example.com"),
                         Customer(shop_id=a, external_id="2", email="a2@example.com"),
                         Customer(shop_id=b, external_id="1", email="b1@example.com")])
    return a, b


def test_reads_see_only_their_shop(db: Database, two_shops: tuple[str, str]) -> None:
    a, b = two_shops
    with db.session(a) as session:
        assert sorted(session.scalars(select(Customer.email))) == ["a1@example.com", "a2@example.com"]
        # Even a query that tries to name the other shop finds nothing.
        assert session.scalars(select(Customer).where(Customer.shop_id == b)).all() == []
        assert session.scalar(select(func.count()).select_from(Customer)) == 2
    with db.session(b) as session:
        assert session.scalars(select(Customer.email)).all() == ["b1@example.com"]


def test_bulk_update_and_delete_stay_in_their_shop(db: Database, two_shops: tuple[str, str]) -> None:
    a, b = two_shops
    with db.session(a) as session:
        session.execute(update(Customer).values(tags="touched").execution_options(synchronize_session=False))
        session.execute(delete(Customer).where(Customer.external_id == "1").execution_options(
            synchronize_session=False))
    with db.system_session() as session:
        rows = session.execute(select(Customer.shop_id, Customer.external_id, Customer.tags)
                               .order_by(Customer.shop_id, Customer.external_id)).all()
    assert sorted(rows) == sorted([(a, "2", "touched"), (b, "1", "")])


def test_writing_another_shops_row_is_refused(db: Database, two_shops: tuple[str, str]) -> None:
    a, b = two_shops
    with pytest.raises(ShopScopeViolation), db.session(a) as session:
        session.add(Customer(shop_id=b, external_id="99"))
    with db.system_session() as session:
        assert session.scalar(select(func.count()).select_from(Customer).where(Customer.external_id == "99")) == 0


def test_unscoped_read_of_shop_data_is_refused(db: Database, two_shops: tuple[str, str]) -> None:
    with pytest.raises(ShopScopeViolation), db._factory() as session:  # noqa: SLF001 - a session with no scope
        session.scalars(select(Customer)).all()


def test_a_shop_session_needs_a_shop(db: Database) -> None:
    with pytest.raises(ShopScopeViolation), db.session(""):
        pass


def test_read_sessions_are_scoped_and_refuse_writes(db: Database) -> None:
    with db.system_session() as session:
        session.add(Customer(shop_id="shop-a", external_id="1", email="a@example.com"))
        session.add(Customer(shop_id="shop-b", external_id="2", email="b@example.com"))
    with db.read_session("shop-a") as session:
        assert [c.external_id for c in session.scalars(select(Customer))] == ["1"]
    with db.read_session() as session:
        assert sorted(c.external_id for c in session.scalars(select(Customer))) == ["1", "2"]
    with pytest.raises(RuntimeError, match="read session cannot write"), db.read_session("shop-a") as session:
        session.add(Customer(shop_id="shop-a", external_id="3"))
        session.flush()
    with db.read_session("shop-a") as session:
        assert len(session.scalars(select(Customer)).all()) == 1


def test_a_read_session_does_not_wait_for_the_writer(db: Database) -> None:
    """On SQLite a writer holds the one write lock; reads go on from their snapshot."""
    with db.system_session() as writer:
        writer.add(Customer(shop_id="shop-a", external_id="1", email="a@example.com"))
        writer.flush()  # the write lock is held until this block commits
        # A locking read would wait here for the writer, which waits for it: "database is locked".
        with db.read_session("shop-a") as reader:
            assert reader.scalars(select(Customer)).all() == []  # not committed yet
