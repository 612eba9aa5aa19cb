"""Keep customer snapshots current, export them on request, erase them on redact.

Shopify's privacy duties (shopify.dev/docs/apps/build/compliance/privacy-law-compliance):
customers/data_request -> give the merchant what we hold about the customer;
customers/redact -> erase that customer's personal data; shop/redact -> erase the
shop's customer data (48 h after uninstall).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Integer, String, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storeops.core.clock import utcnow
from storeops.db.base import JSONText, UTCDateTime
from storeops.domain.customers.models import Customer, DataRequest

PERSONAL_FIELDS = ("email", "first_name", "last_name", "phone", "addresses")


def _minor_units(amount: Any) -> int:
    try:
        return int((Decimal(str(amount)) * 100).to_integral_value())
    except (InvalidOperation, ValueError, TypeError):
        return 0


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


_OPTIONAL_TEXT = ("email", "first_name", "last_name", "phone", "currency")


@lru_cache(maxsize=2)
def _upsert_statement(dialect_name: str) -> Any:
    """The customer upsert, built once per dialect with bind parameters (building it per
    event cost more than running it: SQLAlchemy compiles and caches it only once then).

    A NULL parameter means "the payload did not say": inserts fall back to defaults and
    updates keep the stored value. The WHERE keeps older snapshots from overwriting newer
    ones and erased customers erased (a late event must not bring the data back)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    table = Customer.__table__.c
    params = {name: bindparam(name, type_=String()) for name in _OPTIONAL_TEXT}
    addresses = bindparam("addresses", type_=JSONText())
    source_updated_at = bindparam("source_updated_at", type_=UTCDateTime())
    tags = bindparam("tags", type_=String())
    orders_count = bindparam("orders_count", type_=Integer())
    total_spent = bindparam("total_spent_minor", type_=Integer())
    statement = dialect.insert(Customer).values(
        shop_id=bindparam("shop_id"), external_id=bindparam("external_id"), updated_at=bindparam("now"),
        addresses=addresses, source_updated_at=source_updated_at,
        tags=func.coalesce(tags, ""), orders_count=func.coalesce(orders_count, 0),
        total_spent_minor=func.coalesce(total_spent, 0), **params,
    )
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["shop_id", "external_id"],
        set_={
            **{name: func.coalesce(getattr(new, name), getattr(table, name)) for name in _OPTIONAL_TEXT},
            "addresses": func.coalesce(new.addresses, table.addresses),
            "source_updated_at": func.coalesce(new.source_updated_at, table.source_updated_at),
            "tags": func.coalesce(tags, table.tags),
            "orders_count": func.coalesce(orders_count, table.orders_count),
            "total_spent_minor": func.coalesce(total_spent, table.total_spent_minor),
            "updated_at": new.updated_at,
        },
        where=and_(
            table.redacted_at.is_(None),
            or_(table.source_updated_at.is_(None), new.source_updated_at.is_(None),
                new.source_updated_at > table.source_updated_at),
        ),
    )


def upsert_from_shopify(session: Session, shop_id: str, data: dict[str, Any]) -> str | None:
    """Apply a Shopify customer resource (REST shape); returns its external id.

    One INSERT .. ON CONFLICT DO UPDATE: its row lock serializes two workers that see the
    same customer at once. Fields the payload leaves out keep their stored values.
    """
    external_id = data.get("id")
    if external_id is None:
        return None
    external_id = str(external_id)
    addresses = data.get("addresses") or ([data["default_address"]] if data.get("default_address") else None)
    params: dict[str, Any] = {name: (data.get(name) or None) for name in _OPTIONAL_TEXT}
    params.update(
        shop_id=shop_id,
        external_id=external_id,
        now=utcnow(),
        addresses=addresses or None,
        source_updated_at=_parse_time(data.get("updated_at")),
        tags=data["tags"][:1000] if isinstance(data.get("tags"), str) else None,
        orders_count=int(data["orders_count"]) if data.get("orders_count") is not None else None,
        total_spent_minor=_minor_units(data["total_spent"]) if data.get("total_spent") is not None else None,
    )
    session.execute(_upsert_statement(session.get_bind().dialect.name), params)
    return external_id


def export_customer(session: Session, *, external_id: str | None, email: str | None) -> list[dict[str, Any]]:
    query = select(Customer)
    if external_id:
        query = query.where(Customer.external_id == external_id)
    elif email:
        query = query.where(Customer.email == email)
    else:
        return []
    return [
        {
            "external_id": c.external_id,
            "email": c.email,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "phone": c.phone,
            "addresses": c.addresses,
            "tags": c.tags,
            "orders_count": c.orders_count,
            "total_spent_minor": c.total_spent_minor,
            "currency": c.currency,
        }
        for c in session.scalars(query)
    ]


def record_data_request(session: Session, shop_id: str, request_id: str, *, external_id: str | None,
                        email: str | None) -> DataRequest:
    found = session.scalar(select(DataRequest).where(DataRequest.request_id == request_id))
    if found is not None:
        return found
    request = DataRequest(
        shop_id=shop_id,
        request_id=request_id,
        customer_external_id=external_id,
        email=email,
        export={"customers": export_customer(session, external_id=external_id, email=email)},
    )
    session.add(request)
    return request


def redact_customer(session: Session, *, external_id: str | None, email: str | None) -> list[str]:
    """Erase the customer's personal data; returns the external ids that were erased."""
    query = select(Customer)
    if external_id:
        query = query.where(Customer.external_id == external_id)
    elif email:
        query = query.where(Customer.email == email)
    else:
        return []
    erased: list[str] = []
    for customer in session.scalars(query):
        for field in PERSONAL_FIELDS:
            setattr(customer, field, None)
        customer.tags = ""
        customer.redacted_at = utcnow()
        erased.append(customer.external_id)
    # Exports we prepared earlier hold the same data.
    conditions: list[ColumnElement[bool]] = [DataRequest.customer_external_id.in_(erased)] if erased else []
    if email:
        conditions.append(DataRequest.email == email)
    for condition in conditions:
        session.execute(
            update(DataRequest)
            .where(condition)
            .values(export={"redacted": True}, email=None)
            .execution_options(synchronize_session=False)
        )
    return erased


def redact_shop(session: Session, shop_id: str) -> int:
    """Erase every customer record of the shop; returns how many."""
    session.execute(
        delete(DataRequest).where(DataRequest.shop_id == shop_id).execution_options(synchronize_session=False)
    )
    result = session.execute(
        delete(Customer).where(Customer.shop_id == shop_id).execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount
