"""Keep customer snapshots current, export them on request, erase them on redact.

Shopify's privacy duties (shopify.dev/docs/apps/build/compliance/privacy-law-compliance):
customers/data_request -> give the merchant what we hold about the customer;
customers/redact -> erase that customer's personal data; shop/redact -> erase the
shop's customer data (48 h after uninstall).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storeops.core.clock import utcnow
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


def upsert_from_shopify(session: Session, shop_id: str, data: dict[str, Any]) -> Customer | None:
    """Apply a Shopify customer resource (REST shape). Older snapshots never overwrite newer."""
    external_id = data.get("id")
    if external_id is None:
        return None
    external_id = str(external_id)
    updated = _parse_time(data.get("updated_at"))
    # Two workers may see the same new customer at once (an order and a customer event):
    # insert-if-absent, then read the row locked, so the newer-wins check below holds.
    mine = select(Customer).where(Customer.external_id == external_id).with_for_update()
    customer = session.scalar(mine)
    if customer is None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(Customer)
            .values(shop_id=shop_id, external_id=external_id, tags="", orders_count=0, total_spent_minor=0,
                    updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["shop_id", "external_id"])
        )
        customer = session.scalars(mine.execution_options(populate_existing=True)).one()
    elif customer.redacted_at is not None:
        return customer  # erased on request: a late event must not bring the data back
    elif updated and customer.source_updated_at and updated <= customer.source_updated_at:
        return customer
    customer.email = data.get("email") or customer.email
    customer.first_name = data.get("first_name") or customer.first_name
    customer.last_name = data.get("last_name") or customer.last_name
    customer.phone = data.get("phone") or customer.phone
    addresses = data.get("addresses") or ([data["default_address"]] if data.get("default_address") else None)
    if addresses:
        customer.addresses = addresses
    if isinstance(data.get("tags"), str):
        customer.tags = data["tags"][:1000]
    if data.get("orders_count") is not None:
        customer.orders_count = int(data["orders_count"])
    if data.get("total_spent") is not None:
        customer.total_spent_minor = _minor_units(data["total_spent"])
    customer.currency = data.get("currency") or customer.currency
    customer.source_updated_at = updated or customer.source_updated_at
    return customer


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
