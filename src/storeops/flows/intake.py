"""What each inbound event does to our state: the inbox handlers, by vendor and topic.

Handlers run inside the transaction that marks the inbox event processed
(storeops.engine.inbox), so their writes happen exactly once. Anything that must
leave storeops goes through the outbox (storeops.engine.outbox.emit).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from storeops.domain.customers import services as customers
from storeops.domain.orders import services as order_services
from storeops.domain.returns import services as return_services
from storeops.domain.shops.services import find_shop
from storeops.domain.support import services as support_services
from storeops.engine.inbox import EventContext, Handler, InvalidPayload
from storeops.engine.models import REDACTED_BODY, InboxEvent
from storeops.flows import catalog as catalog_flow
from storeops.flows import inventory as inventory_flow
from storeops.flows import order_exceptions, order_lifecycle, orders, support
from storeops.flows import returns as returns_flow


def _object(ctx: EventContext) -> dict[str, Any]:
    if not isinstance(ctx.payload, dict):
        raise InvalidPayload(f"{ctx.event.topic} payload must be a JSON object")
    return ctx.payload


def _customer_subject(external_id: object) -> str:
    return f"customer:{external_id}"


def on_shopify_customer(ctx: EventContext) -> None:
    data = _object(ctx)
    external_id = customers.upsert_from_shopify(ctx.session, ctx.shop_id, data)
    if external_id is not None:
        ctx.event.subject = _customer_subject(external_id)


def on_shopify_order(ctx: EventContext) -> None:
    """Orders carry the customer's latest snapshot; keep it, then run the order automation.

    The event's subject stays the customer: an order body is that customer's personal data,
    and customers/redact erases inbox bodies by subject."""
    data = _object(ctx)
    customer = data.get("customer")
    if isinstance(customer, dict) and customer.get("id") is not None:
        customers.upsert_from_shopify(ctx.session, ctx.shop_id, customer)
        ctx.event.subject = _customer_subject(customer["id"])
    inventory_flow.on_shopify_order(ctx, data)  # reserve stock first (off unless enabled)
    orders.on_shopify_order(ctx, data)


def on_shipbob_shipped(ctx: EventContext) -> None:
    orders.on_shipbob_shipped(ctx, _object(ctx))


def on_shipbob_delivered(ctx: EventContext) -> None:
    orders.on_shipbob_delivered(ctx, _object(ctx))


def on_shipbob_exception(ctx: EventContext) -> None:
    order_exceptions.on_shipbob_exception(ctx, _object(ctx))


def on_customers_data_request(ctx: EventContext) -> None:
    data = _object(ctx)
    customer = data.get("customer") or {}
    request = data.get("data_request") or {}
    external_id = str(customer["id"]) if customer.get("id") is not None else None
    request_id = str(request.get("id") or ctx.event.event_id)
    customers.record_data_request(
        ctx.session, ctx.shop_id, request_id, external_id=external_id, email=customer.get("email")
    )
    if external_id:
        ctx.event.subject = _customer_subject(external_id)


def on_customers_redact(ctx: EventContext) -> None:
    data = _object(ctx)
    customer = data.get("customer") or {}
    external_id = str(customer["id"]) if customer.get("id") is not None else None
    email = customer.get("email")
    erased = customers.redact_customer(ctx.session, external_id=external_id, email=email)
    # Their orders, returns and tickets hold the same personal data.
    order_services.redact_customer(ctx.session, customer_external_id=external_id, email=email)
    return_services.redact_customer(ctx.session, customer_external_id=external_id, email=email)
    support_services.redact_customer(ctx.session, email=email)
    subjects = {_customer_subject(x) for x in erased}
    if external_id:
        subjects.add(_customer_subject(external_id))
    # The raw webhook bodies we keep hold the same personal data, this one included.
    if subjects:
        ctx.session.execute(
            update(InboxEvent)
            .where(InboxEvent.shop_id == ctx.shop_id, InboxEvent.subject.in_(subjects))
            .values(body=REDACTED_BODY)
            .execution_options(synchronize_session=False)
        )
    ctx.event.body = REDACTED_BODY


def on_shop_redact(ctx: EventContext) -> None:
    _object(ctx)
    customers.redact_shop(ctx.session, ctx.shop_id)
    # Keep the inbox rows (their ids still drop duplicates) but erase every body.
    ctx.session.execute(
        update(InboxEvent)
        .where(InboxEvent.shop_id == ctx.shop_id)
        .values(body=REDACTED_BODY)
        .execution_options(synchronize_session=False)
    )
    ctx.event.body = REDACTED_BODY
    find_shop(ctx.session, ctx.shop_id).redacted_at = ctx.event.received_at


HANDLERS: dict[tuple[str, str], Handler] = {
    ("shopify", "customers/create"): on_shopify_customer,
    ("shopify", "customers/update"): on_shopify_customer,
    ("shopify", "orders/create"): on_shopify_order,
    ("shopify", "orders/updated"): on_shopify_order,
    ("shopify", "orders/paid"): on_shopify_order,
    ("shopify", "orders/cancelled"): on_shopify_order,
    ("shopify", "refunds/create"): order_lifecycle.on_shopify_refund,
    ("shopify", "customers/data_request"): on_customers_data_request,
    ("shopify", "customers/redact"): on_customers_redact,
    ("shopify", "shop/redact"): on_shop_redact,
    ("shipbob", "order.shipped"): on_shipbob_shipped,
    ("shipbob", "order.shipment.delivered"): on_shipbob_delivered,
    ("shipbob", "order.shipment.exception"): on_shipbob_exception,
    ("shopify", "returns/request"): returns_flow.on_shopify_return_request,
    ("shipbob", "return.completed"): returns_flow.on_shipbob_return_completed,
    ("gorgias", "ticket-created"): support.on_gorgias_ticket_event,
    ("gorgias", "ticket-message-created"): support.on_gorgias_ticket_event,
    ("shopify", "products/update"): catalog_flow.on_shopify_product_update,
}


def handler_for(vendor: str, topic: str) -> Handler | None:
    return HANDLERS.get((vendor, topic))
