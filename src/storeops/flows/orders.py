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

Exceptions (storeops.domain.orders.exceptions; live mode only, shadow records the intent):
    a hold (address / risk / no route) opens an exception with the checks, the decision id and
        the suggested actions; a later release resolves it (auto_resolved, or as the person chose)
    address: klaviyo.address_correction asks the customer (one event per attempt); an
        orders/updated with a valid address resumes the order (recheck_address -> decide)
    stock shortages, the SLA sweep and a person's approve / fix / override: flows/order_exceptions.py

Stock for routing: the handler runs inside the inbox transaction, so it cannot afford a
ShipBob inventory read per event (ShipBob allows 150 requests/min). The FC list is read
from ShipBob once per shop and cached in the process (it changes rarely). Stock comes from
storeops' own snapshot when inventory is tracked (flows/routing_inputs.py: ShipBob's levels
polled by the inventory flow, minus other orders' reservations), and the routed order's
units are held at the FCs that ship them; untracked SKUs are assumed available everywhere.
ShipBob still decides for good: an FC short of stock puts the shipment in Exception and we
get order.shipment.exception. The merchant's routing rules (force / exclude / prefer) are
read per decision (OrderRuleSet "routing", PUT /api/v1/order-rules/routing).
"""

from __future__ import annotations

import threading
import time
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import httpx
import structlog
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
from storeops.core.errors import ConfigError, InvalidInput, VendorError
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.customers.models import Customer
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import LIVE, OFF, DecisionRecord
from storeops.domain.orders import (
    AddressCheck,
    CustomerHistory,
    FulfillmentCenter,
    OrderFacts,
    RoutingDecision,
    exceptions,
    route_order,
    score_order,
    validate_address,
    zip_location,
)
from storeops.domain.orders import models as states
from storeops.domain.orders import services as orders
from storeops.domain.orders.exceptions import (
    ADDRESS,
    AUTO_RESOLVED,
    NO_STOCK,
    RISK,
    STOCK_SHORTAGE,
)
from storeops.domain.orders.models import Order
from storeops.domain.shops import services as shops
from storeops.engine.inbox import EventContext
from storeops.engine.outbox import action, emit_actions
from storeops.engine.workflows import QueueSpec, define_queue
from storeops.flows import context as flow_context
from storeops.flows import routing_inputs
from storeops.flows.context import deps
from storeops.flows.demo import BASE_URL, connector_for

log = structlog.get_logger(__name__)

AUTOMATION = "order_routing"
RELEASE_STATES = frozenset({"paid", "authorized", "partially_refunded"})

# One queue per vendor; limits below each vendor's published API limit so every worker
# together stays inside it (ShipBob: 150 requests/min; Shopify and Klaviyo are more generous).
SHIPBOB_QUEUE = define_queue(QueueSpec(name="shipbob", limit=100, period=60.0))
SHOPIFY_QUEUE = define_queue(QueueSpec(name="shopify", limit=20, period=1.0))
KLAVIYO_QUEUE = define_queue(QueueSpec(name="klaviyo", limit=50, period=1.0))

# ShipBob ship options for our service levels (the merchant maps these in ShipBob).
SHIP_OPTIONS = {"standard": "Standard", "express": "Expedited", "overnight": "Overnight"}


_fc_cache: dict[str, tuple[float, list[FulfillmentCenter]]] = {}
_fc_lock = threading.Lock()
FC_CACHE_S = 300.0


def configure(db: Database, box: SecretBox) -> None:
    """Give the flows their database and secret box (Worker.start does this)."""
    flow_context.configure(db, box)


flow_context.on_configure(lambda *_: _fc_cache.clear())


def fulfillment_centers(session: Session, shop_id: str) -> list[FulfillmentCenter]:
    """The shop's ShipBob FCs, cached in the process. Credentials are read in the caller's
    session: the inbox transaction holds SQLite's write lock, so a second transaction
    (connector_for opens one) would wait for it until "database is locked"."""
    with _fc_lock:
        cached = _fc_cache.get(shop_id)
        if cached is not None and time.monotonic() - cached[0] < FC_CACHE_S:
            return cached[1]
    _, box = deps()
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


def known_fc_ids(session: Session, shop_id: str) -> dict[str, str] | None:
    """id -> name of the shop's ShipBob FCs, to check routing rules against; None when
    ShipBob cannot be asked (not connected, or not answering): the rules are then saved
    unchecked rather than refused for a vendor's outage."""
    try:
        return {fc.id: fc.name for fc in fulfillment_centers(session, shop_id)}
    except (ConfigError, VendorError, httpx.HTTPError) as exc:
        log.warning("routing rules saved without checking FC ids", shop=shop_id, error=str(exc))
        return None


# --- inbound -------------------------------------------------------------------------------


@dataclass
class Run:
    """Where a decision runs: the transaction, the shop, what caused it and who acted.
    Inbox handlers run as "system"; exception actions from the API / dashboard as the user."""

    session: Session
    shop_id: str
    cause: str
    actor: str = "system"


def run_for(ctx: EventContext) -> Run:
    return Run(ctx.session, ctx.shop_id, f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")


def on_shopify_order(ctx: EventContext, data: dict[str, Any]) -> None:
    applied = orders.apply_shopify_order(ctx.session, ctx.shop_id, data)
    if applied is None or not applied.changed:
        return  # a duplicate, or older than what we hold: change nothing
    order = applied.order
    from storeops.flows import order_lifecycle  # imported here: it imports this module

    if order.status == states.CANCELLED:
        order_lifecycle.on_order_cancelled(ctx, order)  # cancels the ShipBob order when one exists
        return
    if order.decided_at is None and (order.financial_status or "") in RELEASE_STATES:
        decide(run_for(ctx), order)
    elif order.status == states.HELD and exceptions.find_open(ctx.session, order.external_id, ADDRESS):
        recheck_address(run_for(ctx), order)  # the customer may have corrected the address
    elif order.decided_at is None and (order.financial_status or "") in order_lifecycle.PAYMENT_DUE:
        order_lifecycle.on_payment_due(ctx, order)  # reminders, then cancel per policy


def _history(session: Session, order: Order) -> CustomerHistory:
    if order.customer_external_id is None:
        return CustomerHistory()
    row = session.scalar(select(Customer).where(Customer.external_id == order.customer_external_id))
    if row is None:
        return CustomerHistory(customer_id=order.customer_external_id)
    return CustomerHistory(
        customer_id=row.external_id, orders_count=max(0, row.orders_count - 1),
        lifetime_value=Decimal(row.total_spent_minor) / 100,
        tags=tuple(t.strip() for t in row.tags.split(",") if t.strip()))


def _address_outputs(address: AddressCheck) -> dict[str, Any]:
    return {"ok": address.ok, "issues": [{"code": str(i.code), "message": str(i.message),
                                          "severity": str(i.severity)} for i in address.issues]}


# What each hold asks of a person, shown with the exception.
SUGGESTED = {
    ADDRESS: ["wait for the customer's corrected address", "fix: enter the corrected address",
              "approve: ship to the address as it is"],
    RISK: ["approve: release the order as decided", "override: hold it (or force a fulfillment center)"],
    NO_STOCK: ["override: force a fulfillment center", "approve: route again"],
}


def decide(run: Run | EventContext, order: Order, *, allow: frozenset[str] = frozenset(),
           force_fc: str | None = None, resolve_as: str = AUTO_RESOLVED,
           note: str | None = None) -> DecisionRecord | None:
    """Checks, routing, the decision record and (live) the outbound actions, in one transaction.

    A hold opens an exception (live); a release resolves the order's open hold exceptions as
    `resolve_as` by the run's actor. `allow` waives holds a person approved ("address",
    "risk"); `force_fc` routes every line to that fulfillment center (an override)."""
    run = run if isinstance(run, Run) else run_for(run)
    session = run.session
    mode = decisions.mode_for(session, run.shop_id, AUTOMATION)
    if mode == OFF and run.actor == "system":
        return None
    mode = LIVE if mode == OFF else mode  # a person acting while the automation is off
    facts = orders.facts_of(order)
    history = _history(session, order)
    address = validate_address(facts.shipping_address)
    risk = score_order(facts, history)
    rules = list(risk.evaluated) + ["address_check@1"]
    fired = {flag.rule for flag in risk.flags}
    outputs: dict[str, Any] = {
        "address": _address_outputs(address),
        "priority": risk.priority, "score": risk.score, "risk_score": risk.risk_score, "hold": risk.hold,
        "flags": [{"rule": f"{f.rule}@{f.version}", "kind": f.kind, "reason": f.reason} for f in risk.flags],
        "vip": "vip_customer" in fired, "expedited": "expedited_shipping" in fired,
    }
    if allow:
        outputs["waived"] = sorted(allow)
    order.priority = risk.priority
    order.checks = {"address": outputs["address"], "flags": outputs["flags"]}
    order.decided_at = utcnow()
    intended: list[dict[str, Any]] = []
    held: str | None = None
    if not address.ok and ADDRESS not in allow:
        held = ADDRESS
    elif risk.hold and RISK not in allow:
        held = RISK
    else:
        fcs = fulfillment_centers(session, run.shop_id)
        view = routing_inputs.stock_for(session, run.shop_id, order.external_id, facts, fcs)
        if force_fc is not None:
            if force_fc not in {fc.id for fc in fcs}:
                raise InvalidInput(f"no fulfillment center {force_fc!r} (known: "
                                   f"{', '.join(fc.id for fc in fcs)})", field="fc")
            routing = RoutingDecision(ok=True, assignments={force_fc: list(facts.lines)}, cost=Decimal("0"),
                                      split=False, reason=f"fulfillment center {force_fc} forced by {run.actor}",
                                      rules_fired=["override_route@1"], solver="override")
        else:
            merchant_rules = routing_inputs.routing_rules(session)
            routing = route_order(facts, fcs, view.stock, rules=merchant_rules)
            if not routing.ok and view.source == routing_inputs.SNAPSHOT:
                # No FC holds it all in our snapshot (it may lag a receipt): ShipBob decides,
                # and a shortage there opens the stock_shortage exception.
                view = routing_inputs.assumed(view, facts, fcs)
                routing = route_order(facts, fcs, view.stock, rules=merchant_rules)
        if view.source != routing_inputs.UNTRACKED:
            rules.append(routing_inputs.SNAPSHOT_RULE if view.source == routing_inputs.SNAPSHOT
                         else routing_inputs.ASSUMED_RULE)
        outputs["stock"] = view.outputs()
        rules += routing.rules_fired
        outputs["routing"] = {"ok": routing.ok, "reason": routing.reason, "cost": str(routing.cost),
                              "split": routing.split, "solver": routing.solver, "rate_card": routing.rate_card,
                              "assignments": {fc: [line.sku for line in lines]
                                              for fc, lines in routing.assignments.items()},
                              # The carrier service per FC that keeps the delivery promise.
                              "services": {s.fc_id: s.service for s in routing.shipments}}
        if not routing.ok:
            held = NO_STOCK
        else:
            order.assigned_fc = ",".join(routing.assignments)
            order.status = states.ROUTED if mode == LIVE else states.SHADOWED
            if mode == LIVE:
                held_units = routing_inputs.hold_units(session, run.shop_id, order.external_id, view,
                                                       routing.assignments)
                if held_units is not None:
                    outputs["stock"]["reserved"] = [{"sku": sku, "fc": fc, "units": units}
                                                    for sku, fc, units in held_units]
            intended = _routing_actions(order, facts, routing.assignments, outputs,
                                        {s.fc_id: s.service for s in routing.shipments})
    attempt = 0
    if held is not None:
        order.status = states.HELD
        outputs["held"] = {NO_STOCK: "routing"}.get(held, held)
        if held == ADDRESS and order.email:
            attempt = _address_attempts(session, order) + 1
            intended = [_address_request(order, outputs["address"], attempt)]
    record = decisions.record(
        session, run.shop_id, subject=f"order:{order.external_id}", automation=AUTOMATION, mode=mode,
        inputs={"order": facts_summary(facts), "customer": {"id": history.customer_id,
                                                            "orders_count": history.orders_count,
                                                            "lifetime_value": str(history.lifetime_value),
                                                            "tags": list(history.tags)},
                "by": run.actor, **({"note": note} if note else {})},
        rules=rules, outputs=outputs, intended_actions=intended, actions_taken=[], cause=run.cause)
    if mode == LIVE:
        # Exceptions are storeops' own state: opened and resolved in live mode only (in shadow
        # the merchant still works the orders elsewhere).
        for kind in (ADDRESS, RISK, NO_STOCK):
            if kind != held:
                exceptions.resolve_open(session, order.external_id, kind, resolve_as, run.actor,
                                        note or f"released by decision {record.id}")
        if held is not None:
            row = exceptions.open_exception(
                session, run.shop_id, order, held, _hold_reason(held, outputs),
                {"checks": {"address": outputs["address"], "flags": outputs["flags"],
                            "routing": outputs.get("routing")},
                 "decision_id": record.id, "suggested_actions": SUGGESTED[held],
                 **({"address_attempts": attempt, "address": order.shipping_address} if held == ADDRESS else {})},
                status=exceptions.WAITING if held == ADDRESS and attempt else exceptions.OPEN)
            record.outputs = {**outputs, "exception_id": row.id}
        if intended:
            record.actions_taken = emit_actions(run.session, run.shop_id, record.id, intended)
    return record


def _hold_reason(kind: str, outputs: dict[str, Any]) -> str:
    if kind == ADDRESS:
        issues = "; ".join(i["message"] for i in outputs["address"]["issues"] if i["severity"] == "error")
        return f"invalid shipping address: {issues or 'see the checks'}"
    if kind == RISK:
        return "risk hold: " + ("; ".join(f["reason"] for f in outputs["flags"] if f["kind"] == "hold")
                                or f"risk score {outputs['risk_score']}")
    return f"no routing: {outputs.get('routing', {}).get('reason') or 'no fulfillment center can ship it'}"


def _address_attempts(session: Session, order: Order) -> int:
    row = exceptions.find_open(session, order.external_id, ADDRESS)
    return int((row.context or {}).get("address_attempts") or 0) if row is not None else 0


def _address_request(order: Order, address: dict[str, Any], attempt: int) -> dict[str, Any]:
    return {"target": "klaviyo.address_correction", "cause": f"address_correction:{order.external_id}:{attempt}",
            "payload": {"order_id": order.external_id, "email": order.email, "name": order.name,
                        "attempt": attempt, "address": order.shipping_address,
                        "issues": [i["message"] for i in address["issues"] if i["severity"] == "error"]}}


def recheck_address(run: Run, order: Order) -> None:
    """A held order's snapshot changed: a valid address resumes it (routing, ShipBob, ...) and
    the address exception resolves itself; a still invalid, different address asks again."""
    row = exceptions.find_open(run.session, order.external_id, ADDRESS)
    if row is None:
        return
    check = validate_address(orders.facts_of(order).shipping_address)
    if check.ok:
        decide(run, order, note="the customer corrected the address")
        return
    if (row.context or {}).get("address") == order.shipping_address:
        return  # another change to the order; the address is still the one we asked about
    mode = decisions.mode_for(run.session, run.shop_id, AUTOMATION)
    if mode == OFF:
        return
    attempt = int((row.context or {}).get("address_attempts") or 0) + 1
    outputs: dict[str, Any] = {"address": _address_outputs(check), "held": ADDRESS, "exception_id": row.id}
    intended = [_address_request(order, outputs["address"], attempt)] if order.email else []
    order.checks = {**(order.checks or {}), "address": outputs["address"]}
    record = decisions.record(
        run.session, run.shop_id, subject=f"order:{order.external_id}", automation=AUTOMATION, mode=mode,
        inputs={"address": order.shipping_address, "attempt": attempt}, rules=["address_check@1"],
        outputs=outputs, intended_actions=intended, actions_taken=[], cause=run.cause)
    if mode == LIVE:
        exceptions.open_exception(run.session, run.shop_id, order, ADDRESS, _hold_reason(ADDRESS, outputs),
                                  {"address_attempts": attempt, "address": order.shipping_address,
                                   "decision_id": record.id, "checks": {"address": outputs["address"]}},
                                  status=exceptions.WAITING)
        record.actions_taken = emit_actions(run.session, run.shop_id, record.id, intended)


def facts_summary(facts: OrderFacts) -> dict[str, Any]:
    a = facts.shipping_address
    return {"id": facts.order_id, "total": str(facts.total), "currency": facts.currency,
            "shipping_method": facts.shipping_method, "service_level": facts.service_level,
            "payment_state": facts.payment_state, "tags": list(facts.tags),
            "lines": [{"sku": line.sku, "quantity": line.quantity} for line in facts.lines],
            "ship_to": {"city": a.city, "province_code": a.province_code, "zip": a.zip,
                        "country_code": a.country_code}}


def recipient_of(order: Order) -> dict[str, Any]:
    address = order.shipping_address or {}
    name = address.get("name") or f"{address.get('first_name', '')} {address.get('last_name', '')}".strip()
    return {"name": name or "Customer", "email": order.email, "phone": address.get("phone") or None,
            "address1": address.get("address1", ""), "address2": address.get("address2") or None,
            "city": address.get("city", ""), "state": address.get("province_code") or None,
            "zip": address.get("zip") or None, "country": address.get("country_code") or "US",
            "company": address.get("company") or None}


def _routing_actions(order: Order, facts: OrderFacts, assignments: dict[str, Any],
                     outputs: dict[str, Any], services: dict[str, str]) -> list[dict[str, Any]]:
    names = {line["sku"]: line["name"] for line in order.lines}
    actions: list[dict[str, Any]] = []
    for n, (fc_id, lines) in enumerate(assignments.items()):
        reference = order.external_id if len(assignments) == 1 else f"{order.external_id}-{n + 1}"
        actions.append({"target": "shipbob.create_order", "cause": f"order_routing:{reference}", "payload": {
            "order_id": order.external_id, "reference_id": reference, "order_number": order.name,
            "location_id": int(fc_id),
            "shipping_method": SHIP_OPTIONS.get(services.get(fc_id, facts.service_level), "Standard"),
            "recipient": recipient_of(order),
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


def shopify_order_id(reference_id: object) -> str | None:
    if reference_id is None:
        return None
    return str(reference_id).split("-", 1)[0]


def on_shipbob_shipped(ctx: EventContext, data: dict[str, Any]) -> None:
    external_id = shopify_order_id(data.get("reference_id"))
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
    waiting = exceptions.find_open(ctx.session, order.external_id, STOCK_SHORTAGE)
    if waiting is not None and (waiting.context or {}).get("waiting_reference") == str(data.get("reference_id")):
        exceptions.resolve_exception(ctx.session, waiting, AUTO_RESOLVED, "system",
                                     "the back-ordered shipment left the warehouse")
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
        record.actions_taken = emit_actions(ctx.session, ctx.shop_id, record.id, intended)


def on_shipbob_delivered(ctx: EventContext, data: dict[str, Any]) -> None:
    external_id = shopify_order_id(data.get("reference_id"))
    order = orders.find(ctx.session, external_id) if external_id else None
    if order is None:
        return
    ctx.event.subject = f"order:{order.external_id}"
    order.status = states.DELIVERED
    order.shipbob_status = str(data.get("status") or "") or order.shipbob_status


# --- outbound actions (run by the outbox relay as durable, exactly-once workflows) --------------


def note_result(shop_id: str, payload: dict[str, Any], key: str, result: dict[str, Any],
          **order_values: Any) -> None:
    db, _ = deps()
    with db.session(shop_id) as session:
        if order_values:
            order = orders.find(session, str(payload["order_id"]))
            if order is not None:
                for name, value in order_values.items():
                    setattr(order, name, value)
        decisions.note_emitted_result(session, payload, key, result)


def create_shipbob_order(shipbob: ShipbobClient, payload: dict[str, Any]) -> dict[str, Any]:
    """The ShipBob order a routing action's payload describes (idempotent on reference_id)."""
    r = payload["recipient"]
    recipient = Recipient(
        name=r["name"], email=r.get("email"), phone_number=r.get("phone"),
        address=ShipbobAddress(address1=r["address1"], city=r["city"], country=r["country"],
                               address2=r.get("address2"), state=r.get("state"), zip_code=r.get("zip"),
                               company_name=r.get("company")))
    lines = [OrderLine(sku=line["sku"], quantity=int(line["quantity"]), name=line["name"],
                       unit_price=Decimal(line["price"])) for line in payload["lines"]]
    return shipbob.create_order(payload["reference_id"], recipient=recipient, lines=lines,
                                shipping_method=payload["shipping_method"], order_number=payload.get("order_number"),
                                location_id=payload.get("location_id"))


@action("shipbob.create_order", queue=SHIPBOB_QUEUE.name)
def shipbob_create_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = deps()
    with closing(connector_for(db, box, shop_id, "shipbob")) as client:
        created = create_shipbob_order(cast(ShipbobClient, client), payload)
    # created_at: when the order reached the 3PL (the dashboard's order-to-3PL KPI reads it).
    result = {"shipbob_order_id": str(created["id"]), "status": created.get("status"),
              "created_at": utcnow().isoformat()}
    note_result(shop_id, payload, key, result, shipbob_order_id=result["shipbob_order_id"],
                shipbob_status=result["status"])
    return result


@action("shopify.tag_order", queue=SHOPIFY_QUEUE.name)
def shopify_tag_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = deps()
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        cast(ShopifyClient, client).add_tags(payload["gid"], payload["tags"])
    result = {"tags": payload["tags"]}
    note_result(shop_id, payload, key, result)
    return result


@action("shopify.create_fulfillment", queue=SHOPIFY_QUEUE.name)
def shopify_create_fulfillment(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = deps()
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        created = cast(ShopifyClient, client).create_fulfillment(
            payload["gid"], tracking_company=payload.get("tracking_company"),
            tracking_number=payload.get("tracking_number"), tracking_url=payload.get("tracking_url"))
    result = {"fulfillments": [str(f.get("id")) for f in created]}
    note_result(shop_id, payload, key, result)
    return result


def track_klaviyo(shop_id: str, metric: str, payload: dict[str, Any], key: str, properties: dict[str, Any],
                  value: Decimal | None = None) -> dict[str, Any]:
    db, box = deps()
    with closing(connector_for(db, box, shop_id, "klaviyo")) as client:
        cast(KlaviyoClient, client).track_event(
            metric, ProfileInput(email=payload["email"]), properties,
            unique_id=f"{metric.lower().replace(' ', '-')}:{payload['order_id']}", value=value,
            value_currency=payload.get("currency") if value is not None else None)
    result = {"metric": metric}
    note_result(shop_id, payload, key, result)
    return result


@action("klaviyo.placed_order", queue=KLAVIYO_QUEUE.name)
def klaviyo_placed_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    return track_klaviyo(shop_id, "Placed Order", payload, key,
                         {"OrderId": payload["order_id"], "OrderName": payload.get("name"), "SKUs": payload["skus"]},
                         value=Decimal(payload["total"]))


@action("klaviyo.fulfilled_order", queue=KLAVIYO_QUEUE.name)
def klaviyo_fulfilled_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    return track_klaviyo(shop_id, "Fulfilled Order", payload, key,
                         {"OrderId": payload["order_id"], "OrderName": payload.get("name"),
                          "TrackingNumber": payload.get("tracking_number"), "Carrier": payload.get("tracking_company"),
                          "TrackingUrl": payload.get("tracking_url")})


@action("klaviyo.address_correction", queue=KLAVIYO_QUEUE.name)
def klaviyo_address_correction(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Ask the customer to correct the address (a Klaviyo flow on this metric sends the email).
    One event per attempt: the unique id carries the attempt number."""
    db, box = deps()
    metric = "Address Needs Correction"
    with closing(connector_for(db, box, shop_id, "klaviyo")) as client:
        cast(KlaviyoClient, client).track_event(
            metric, ProfileInput(email=payload["email"]),
            {"OrderId": payload["order_id"], "OrderName": payload.get("name"), "Attempt": payload["attempt"],
             "Issues": payload.get("issues") or [], "Address": payload.get("address") or {}},
            unique_id=f"address-needs-correction:{payload['attempt']}:{payload['order_id']}")
    result = {"metric": metric, "attempt": payload["attempt"]}
    note_result(shop_id, payload, key, result)
    return result
