"""Order automation ("order_routing"): from a paid Shopify order to a ShipBob order, and back.

    Shopify orders/create|updated|paid|cancelled
        -> Order row (newer-wins on the payload's updated_at)
        -> first time it is paid or authorized: address check, priority/risk, routing
        -> DecisionRecord (inputs, rules, outputs, mode, intended actions)
        -> live: outbox actions in the same transaction
             shipbob.create_order, shopify.tag_order, klaviyo.placed_order
           shadow: the intended actions on the record only; off: nothing
    ShipBob order.shipped -> tracking on the Order -> shopify.create_fulfillment, klaviyo.fulfilled_order
    ShipBob order.shipment.delivered -> the Order is delivered

Stock for routing: the handler runs inside the inbox transaction, so it cannot afford a
ShipBob inventory read per event (ShipBob allows 150 requests/min). The FC list is read
from ShipBob once per shop and cached in the process (it changes rarely); stock is treated
as available everywhere. ShipBob still decides for good: an FC short of stock puts the
shipment in Exception and we get order.shipment.exception. A per-shop stock snapshot
refreshed by a sweep is the next step (issue #4, follow-up).
"""

from __future__ import annotations

import threading
import time
from contextlib import closing
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeops.connectors.klaviyo.client import KlaviyoClient
from storeops.connectors.klaviyo.models import ProfileInput
from storeops.connectors.shipbob.client import DEFAULT_BASE_URL as SHIPBOB_URL
from storeops.connectors.shipbob.client import ShipbobClient
from storeops.connectors.shipbob.models import Address as ShipbobAddress
from storeops.connectors.shipbob.models import OrderLine, Recipient
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.clock import utcnow
from storeops.core.errors import ConfigError
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.customers.models import Customer
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import LIVE, OFF
from storeops.domain.orders import (
    CustomerHistory,
    FulfillmentCenter,
    OrderFacts,
    route_order,
    score_order,
    validate_address,
    zip_location,
)
from storeops.domain.orders import models as states
from storeops.domain.orders import services as orders
from storeops.domain.orders.models import Order
from storeops.domain.shops import services as shops
from storeops.engine.inbox import EventContext
from storeops.engine.outbox import action, emit
from storeops.engine.workflows import QueueSpec, define_queue
from storeops.flows.demo import BASE_URL, connector_for

AUTOMATION = "order_routing"
RELEASE_STATES = frozenset({"paid", "authorized", "partially_refunded"})

# One queue per vendor; limits below each vendor's published API limit so every worker
# together stays inside it (ShipBob: 150 requests/min; Shopify and Klaviyo are more generous).
SHIPBOB_QUEUE = define_queue(QueueSpec(name="shipbob", limit=100, period=60.0))
SHOPIFY_QUEUE = define_queue(QueueSpec(name="shopify", limit=20, period=1.0))
KLAVIYO_QUEUE = define_queue(QueueSpec(name="klaviyo", limit=50, period=1.0))

# ShipBob ship options for our service levels (the merchant maps these in ShipBob).
SHIP_OPTIONS = {"standard": "Standard", "express": "Expedited", "overnight": "Overnight"}


class _Context:
    db: Database | None = None
    box: SecretBox | None = None


_context = _Context()
_fc_cache: dict[str, tuple[float, list[FulfillmentCenter]]] = {}
_fc_lock = threading.Lock()
FC_CACHE_S = 300.0


def configure(db: Database, box: SecretBox) -> None:
    """Give the flow its database and secret box (Worker.start does this)."""
    _context.db, _context.box = db, box
    _fc_cache.clear()


def _deps() -> tuple[Database, SecretBox]:
    if _context.db is None or _context.box is None:
        raise RuntimeError("storeops.flows.orders has not been configured in this process")
    return _context.db, _context.box


def fulfillment_centers(session: Session, shop_id: str) -> list[FulfillmentCenter]:
    """The shop's ShipBob FCs, cached in the process. Credentials are read in the caller's
    session: the inbox transaction holds SQLite's write lock, so a second transaction
    (connector_for opens one) would wait for it until "database is locked"."""
    with _fc_lock:
        cached = _fc_cache.get(shop_id)
        if cached is not None and time.monotonic() - cached[0] < FC_CACHE_S:
            return cached[1]
    _, box = _deps()
    creds = {name: shops.get_credential(session, box, shop_id=shop_id, vendor="shipbob", name=name)
             for name in ("token", BASE_URL)}
    token, base = creds["token"], creds[BASE_URL]
    if token is None:
        raise ConfigError("shipbob: the shop has no token credential")
    with closing(ShipbobClient(token.reveal(), base.reveal() if base else SHIPBOB_URL)) as client:
        listed = client.list_fulfillment_centers()
    fcs = []
    for fc in listed:
        where = zip_location(str(fc.get("zip_code") or ""))
        lat, lon = where if where is not None else (0.0, 0.0)
        fcs.append(FulfillmentCenter(id=str(fc["id"]), name=str(fc.get("name") or ""), lat=lat, lon=lon))
    with _fc_lock:
        _fc_cache[shop_id] = (time.monotonic(), fcs)
    return fcs


# --- inbound -------------------------------------------------------------------------------


def on_shopify_order(ctx: EventContext, data: dict[str, Any]) -> None:
    applied = orders.apply_shopify_order(ctx.session, ctx.shop_id, data)
    if applied is None or not applied.changed:
        return  # a duplicate, or older than what we hold: change nothing
    order = applied.order
    if order.status == states.CANCELLED:
        return  # TODO(#4): cancel the ShipBob order when one exists
    if order.decided_at is None and (order.financial_status or "") in RELEASE_STATES:
        decide(ctx, order)


def _history(ctx: EventContext, order: Order) -> CustomerHistory:
    if order.customer_external_id is None:
        return CustomerHistory()
    row = ctx.session.scalar(select(Customer).where(Customer.external_id == order.customer_external_id))
    if row is None:
        return CustomerHistory(customer_id=order.customer_external_id)
    return CustomerHistory(
        customer_id=row.external_id, orders_count=max(0, row.orders_count - 1),
        lifetime_value=Decimal(row.total_spent_minor) / 100,
        tags=tuple(t.strip() for t in row.tags.split(",") if t.strip()))


def decide(ctx: EventContext, order: Order) -> None:
    """Checks, routing, the decision record and (live) the outbound actions, in one transaction."""
    mode = decisions.mode_for(ctx.session, ctx.shop_id, AUTOMATION)
    if mode == OFF:
        return
    facts = orders.facts_of(order)
    history = _history(ctx, order)
    address = validate_address(facts.shipping_address)
    risk = score_order(facts, history)
    rules = list(risk.evaluated) + ["address_check@1"]
    fired = {flag.rule for flag in risk.flags}
    outputs: dict[str, Any] = {
        "address": {"ok": address.ok, "issues": [{"code": str(i.code), "message": str(i.message),
                                                  "severity": str(i.severity)} for i in address.issues]},
        "priority": risk.priority, "score": risk.score, "risk_score": risk.risk_score, "hold": risk.hold,
        "flags": [{"rule": f"{f.rule}@{f.version}", "kind": f.kind, "reason": f.reason} for f in risk.flags],
        "vip": "vip_customer" in fired, "expedited": "expedited_shipping" in fired,
    }
    order.priority = risk.priority
    order.checks = {"address": outputs["address"], "flags": outputs["flags"]}
    order.decided_at = utcnow()
    intended: list[dict[str, Any]] = []
    if not address.ok or risk.hold:
        order.status = states.HELD
        outputs["held"] = "address" if not address.ok else "risk"
        # TODO(#4): ask the customer to confirm the address (Klaviyo / Gorgias).
    else:
        fcs = fulfillment_centers(ctx.session, ctx.shop_id)
        plenty = {(fc.id, line.sku): line.quantity for fc in fcs for line in facts.lines}
        routing = route_order(facts, fcs, plenty)
        rules += routing.rules_fired
        outputs["routing"] = {"ok": routing.ok, "reason": routing.reason, "cost": str(routing.cost),
                              "split": routing.split, "solver": routing.solver, "rate_card": routing.rate_card,
                              "assignments": {fc: [line.sku for line in lines]
                                              for fc, lines in routing.assignments.items()}}
        if not routing.ok:
            order.status = states.HELD
            outputs["held"] = "routing"
        else:
            order.assigned_fc = ",".join(routing.assignments)
            order.status = states.ROUTED if mode == LIVE else states.SHADOWED
            intended = _routing_actions(order, facts, routing.assignments, outputs)
    record = decisions.record(
        ctx.session, ctx.shop_id, subject=f"order:{order.external_id}", automation=AUTOMATION, mode=mode,
        inputs={"order": facts_summary(facts), "customer": {"id": history.customer_id,
                                                            "orders_count": history.orders_count,
                                                            "lifetime_value": str(history.lifetime_value),
                                                            "tags": list(history.tags)}},
        rules=rules, outputs=outputs, intended_actions=intended, actions_taken=[],
        cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")
    if mode == LIVE and intended:
        record.actions_taken = _emit_all(ctx, record.id, intended)


def facts_summary(facts: OrderFacts) -> dict[str, Any]:
    a = facts.shipping_address
    return {"id": facts.order_id, "total": str(facts.total), "currency": facts.currency,
            "shipping_method": facts.shipping_method, "service_level": facts.service_level,
            "payment_state": facts.payment_state, "tags": list(facts.tags),
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in facts.lines],
            "ship_to": {"city": a.city, "province_code": a.province_code, "zip": a.zip,
                        "country_code": a.country_code}}


def _routing_actions(order: Order, facts: OrderFacts, assignments: dict[str, Any],
                     outputs: dict[str, Any]) -> list[dict[str, Any]]:
    address = order.shipping_address or {}
    name = address.get("name") or f"{address.get('first_name', '')} {address.get('last_name', '')}".strip()
    names = {line["sku"]: line["name"] for line in order.lines}
    actions: list[dict[str, Any]] = []
    for n, (fc_id, lines) in enumerate(assignments.items()):
        reference = order.external_id if len(assignments) == 1 else f"{order.external_id}-{n + 1}"
        actions.append({"target": "shipbob.create_order", "cause": f"order_routing:{reference}", "payload": {
            "order_id": order.external_id, "reference_id": reference, "order_number": order.name,
            "location_id": int(fc_id), "shipping_method": SHIP_OPTIONS.get(facts.service_level, "Standard"),
            "recipient": {"name": name or "Customer", "email": order.email, "phone": address.get("phone") or None,
                          "address1": address.get("address1", ""), "address2": address.get("address2") or None,
                          "city": address.get("city", ""), "state": address.get("province_code") or None,
                          "zip": address.get("zip") or None, "country": address.get("country_code") or "US",
                          "company": address.get("company") or None},
            "lines": [{"sku": line.sku, "quantity": line.quantity, "name": names.get(line.sku) or line.sku,
                       "price": str(line.unit_price)} for line in lines]}})
    tags = ["storeops:routed", f"storeops:priority-{outputs['priority']}"]
    tags += ["vip"] if outputs["vip"] else []
    tags += ["expedited"] if outputs["expedited"] else []
    actions.append({"target": "shopify.tag_order", "cause": f"order_routing:{order.external_id}",
                    "payload": {"order_id": order.external_id, "gid": order.gid, "tags": tags}})
    if order.email:
        actions.append({"target": "klaviyo.placed_order", "cause": f"order_routing:{order.external_id}",
                        "payload": {"order_id": order.external_id, "email": order.email, "name": order.name,
                                    "total": order.total, "currency": order.currency,
                                    "skus": [line["sku"] for line in order.lines]}})
    return actions


def _emit_all(ctx: EventContext, decision_id: int, intended: list[dict[str, Any]]) -> list[dict[str, Any]]:
    taken = []
    for item in intended:
        key = emit(ctx.session, shop_id=ctx.shop_id, target=item["target"],
                   payload={**item["payload"], "decision_id": decision_id}, cause=item["cause"])
        taken.append({"target": item["target"], "key": key, "status": "emitted", "result": None})
    return taken


def _shopify_order_id(reference_id: object) -> str | None:
    if reference_id is None:
        return None
    return str(reference_id).split("-", 1)[0]


def on_shipbob_shipped(ctx: EventContext, data: dict[str, Any]) -> None:
    external_id = _shopify_order_id(data.get("reference_id"))
    order = orders.find(ctx.session, external_id) if external_id else None
    if order is None:
        return  # not an order storeops routed (created in ShipBob directly): nothing to mirror
    ctx.event.subject = f"order:{order.external_id}"
    raw = data.get("tracking")
    tracking: dict[str, Any] = raw if isinstance(raw, dict) else {}
    number = str(tracking.get("tracking_number") or "") or None
    if order.tracking_number == number and order.status in (states.SHIPPED, states.DELIVERED):
        return  # a re-sent event: we already mirrored it
    order.tracking_number = number
    order.tracking_company = str(tracking.get("carrier") or "") or None
    order.tracking_url = str(tracking.get("tracking_url") or "") or None
    order.shipbob_status = str(data.get("status") or "") or None
    if order.status != states.DELIVERED:
        order.status = states.SHIPPED
    mode = decisions.mode_for(ctx.session, ctx.shop_id, AUTOMATION)
    shipment = str(data.get("id") or number)
    intended = [
        {"target": "shopify.create_fulfillment", "cause": f"order_shipped:{order.external_id}:{shipment}",
         "payload": {"order_id": order.external_id, "gid": order.gid, "tracking_number": number,
                     "tracking_company": order.tracking_company, "tracking_url": order.tracking_url}}]
    if order.email:
        intended.append({"target": "klaviyo.fulfilled_order", "cause": f"order_shipped:{order.external_id}:{shipment}",
                         "payload": {"order_id": order.external_id, "email": order.email, "name": order.name,
                                     "tracking_number": number, "tracking_company": order.tracking_company,
                                     "tracking_url": order.tracking_url}})
    record = decisions.record(
        ctx.session, ctx.shop_id, subject=f"order:{order.external_id}", automation=AUTOMATION, mode=mode,
        inputs={"shipment": shipment, "tracking_number": number, "carrier": order.tracking_company},
        rules=["mirror_fulfillment@1"], outputs={"status": order.status}, intended_actions=intended,
        actions_taken=[], cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")
    if mode == LIVE:
        record.actions_taken = _emit_all(ctx, record.id, intended)


def on_shipbob_delivered(ctx: EventContext, data: dict[str, Any]) -> None:
    external_id = _shopify_order_id(data.get("reference_id"))
    order = orders.find(ctx.session, external_id) if external_id else None
    if order is None:
        return
    ctx.event.subject = f"order:{order.external_id}"
    order.status = states.DELIVERED
    order.shipbob_status = str(data.get("status") or "") or order.shipbob_status


# --- outbound actions (run by the outbox relay as durable, exactly-once workflows) --------------


def _note(shop_id: str, payload: dict[str, Any], key: str, result: dict[str, Any],
          **order_values: Any) -> None:
    db, _ = _deps()
    with db.session(shop_id) as session:
        if order_values:
            order = orders.find(session, str(payload["order_id"]))
            if order is not None:
                for name, value in order_values.items():
                    setattr(order, name, value)
        if payload.get("decision_id") is not None:
            decisions.note_action_result(session, int(payload["decision_id"]), key, "done", result)


@action("shipbob.create_order", queue=SHIPBOB_QUEUE.name)
def shipbob_create_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = _deps()
    r = payload["recipient"]
    recipient = Recipient(
        name=r["name"], email=r.get("email"), phone_number=r.get("phone"),
        address=ShipbobAddress(address1=r["address1"], city=r["city"], country=r["country"],
                               address2=r.get("address2"), state=r.get("state"), zip_code=r.get("zip"),
                               company_name=r.get("company")))
    lines = [OrderLine(sku=line["sku"], quantity=int(line["quantity"]), name=line["name"],
                       unit_price=Decimal(line["price"])) for line in payload["lines"]]
    with closing(connector_for(db, box, shop_id, "shipbob")) as client:
        created = cast(ShipbobClient, client).create_order(
            payload["reference_id"], recipient=recipient, lines=lines, shipping_method=payload["shipping_method"],
            order_number=payload.get("order_number"), location_id=payload.get("location_id"))
    # created_at: when the order reached the 3PL (the dashboard's order-to-3PL KPI reads it).
    result = {"shipbob_order_id": str(created["id"]), "status": created.get("status"),
              "created_at": utcnow().isoformat()}
    _note(shop_id, payload, key, result, shipbob_order_id=result["shipbob_order_id"],
          shipbob_status=result["status"])
    return result


@action("shopify.tag_order", queue=SHOPIFY_QUEUE.name)
def shopify_tag_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = _deps()
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        cast(ShopifyClient, client).add_tags(payload["gid"], payload["tags"])
    result = {"tags": payload["tags"]}
    _note(shop_id, payload, key, result)
    return result


@action("shopify.create_fulfillment", queue=SHOPIFY_QUEUE.name)
def shopify_create_fulfillment(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = _deps()
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        created = cast(ShopifyClient, client).create_fulfillment(
            payload["gid"], tracking_company=payload.get("tracking_company"),
            tracking_number=payload.get("tracking_number"), tracking_url=payload.get("tracking_url"))
    result = {"fulfillments": [str(f.get("id")) for f in created]}
    _note(shop_id, payload, key, result)
    return result


def _track(shop_id: str, metric: str, payload: dict[str, Any], key: str, properties: dict[str, Any],
           value: Decimal | None = None) -> dict[str, Any]:
    db, box = _deps()
    with closing(connector_for(db, box, shop_id, "klaviyo")) as client:
        cast(KlaviyoClient, client).track_event(
            metric, ProfileInput(email=payload["email"]), properties,
            unique_id=f"{metric.lower().replace(' ', '-')}:{payload['order_id']}", value=value,
            value_currency=payload.get("currency") if value is not None else None)
    result = {"metric": metric}
    _note(shop_id, payload, key, result)
    return result


@action("klaviyo.placed_order", queue=KLAVIYO_QUEUE.name)
def klaviyo_placed_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    return _track(shop_id, "Placed Order", payload, key,
                  {"OrderId": payload["order_id"], "OrderName": payload.get("name"), "SKUs": payload["skus"]},
                  value=Decimal(payload["total"]))


@action("klaviyo.fulfilled_order", queue=KLAVIYO_QUEUE.name)
def klaviyo_fulfilled_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    return _track(shop_id, "Fulfilled Order", payload, key,
                  {"OrderId": payload["order_id"], "OrderName": payload.get("name"),
                   "TrackingNumber": payload.get("tracking_number"), "Carrier": payload.get("tracking_company"),
                   "TrackingUrl": payload.get("tracking_url")})
