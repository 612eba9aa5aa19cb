"""Order exceptions: what the order automation cannot decide alone, and a person's actions.

    ShipBob order.shipment.exception (OutOfStock) -> stock_shortage exception + the action
        shipbob.plan_shortage: ShipBob stock (read there, not in the inbox transaction) + the
        shop's substitution rules (domain/orders/substitution.py) -> consent (waits, Klaviyo asks)
        | substitute / in_stock / partial (shipbob.replace_order: cancel + re-create as <id>-r<n>)
        | backorder (waits at ShipBob; resolved when that shipment ships); Klaviyo notices
    sla_sweep (scheduled every 5 min) -> sweep_sla: escalation level 1, 2, 3 past the SLA, a
        decision record each and the Shopify order tagged storeops:escalated-<level>
    act_on_exception: a person's approve / fix / override (route, hold, backorder, cancel);
        web/orders_api.py and the Exceptions page call it
    answer_consent: the customer's own yes / no (domain/orders/consent.py) from a Gorgias reply
        (flows/support.py): yes = a person's approve, no = override back-order, else a note

Holds (address, risk, no route) are opened and released by the routing decision itself
(flows/orders.py `decide`); this module works on what happens after.
"""

from __future__ import annotations

import time
from contextlib import closing
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storeops.connectors.klaviyo.client import KlaviyoClient
from storeops.connectors.klaviyo.models import ProfileInput
from storeops.connectors.shipbob.client import ShipbobClient
from storeops.core.clock import utcnow
from storeops.core.errors import InvalidInput, NotFound
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import LIVE, OFF, SHADOW, DecisionRecord
from storeops.domain.orders import (
    exceptions,
    validate_address,
)
from storeops.domain.orders import models as states
from storeops.domain.orders import services as orders
from storeops.domain.orders.consent import NO, UNCLEAR, YES, ConsentReading
from storeops.domain.orders.exceptions import (
    ADDRESS,
    APPROVED,
    AUTO_RESOLVED,
    FIXED,
    NO_STOCK,
    OVERRIDDEN,
    RISK,
    SHIPBOB_EXCEPTION,
    STOCK_SHORTAGE,
    OrderException,
)
from storeops.domain.orders.models import Order
from storeops.domain.orders.substitution import (
    BACKORDER,
    CONSENT,
    PARTIAL,
    PlannedLine,
    ShortagePlan,
    plan_shortage,
)
from storeops.domain.shops import services as shops
from storeops.engine.inbox import EventContext
from storeops.engine.outbox import action, emit_actions
from storeops.engine.workflows import schedule, step
from storeops.flows import context as flow_context
from storeops.flows.context import deps
from storeops.flows.demo import connector_for
from storeops.flows.orders import (
    AUTOMATION,
    KLAVIYO_QUEUE,
    SHIP_OPTIONS,
    SHIPBOB_QUEUE,
    Run,
    create_shipbob_order,
    decide,
    fulfillment_centers,
    note_result,
    recipient_of,
    shopify_order_id,
)

# --- stock shortage: ShipBob order.shipment.exception ------------------------------------------

SHORTAGE_METRICS = {CONSENT: "Substitution Consent Requested", "substitute": "Order Item Substituted",
                    PARTIAL: "Order Partially Backordered", BACKORDER: "Order Backordered"}


def _shipment_lines(data: dict[str, Any], order: Order) -> list[tuple[str, int]]:
    """(sku, quantity) of the shipment ShipBob could not fill; the order's lines as a fallback."""
    lines: list[tuple[str, int]] = []
    for product in data.get("products") or []:
        if not isinstance(product, dict):
            continue
        sku = str(product.get("sku") or product.get("reference_id") or "")
        quantity = sum(int(item.get("quantity") or 0) for item in product.get("inventory_items") or []
                       if isinstance(item, dict))
        if sku and quantity > 0:
            lines.append((sku, quantity))
    return lines or [(str(line["sku"]), int(line["quantity"])) for line in order.lines]


def on_shipbob_exception(ctx: EventContext, data: dict[str, Any]) -> None:
    """ShipBob parked a shipment in Exception. Out of stock: open a stock_shortage exception and
    plan what to do in an action (it reads ShipBob's stock: never inside the inbox transaction).
    Anything else (an unknown SKU, ...) goes to a person as a shipbob_exception."""
    reference = str(data.get("reference_id") or "")
    external_id = shopify_order_id(reference or None)
    order = orders.find(ctx.session, external_id) if external_id else None
    if order is None:
        return
    ctx.event.subject = f"order:{order.external_id}"
    details = [d for d in data.get("status_details") or [] if isinstance(d, dict)]
    detail = details[0] if details else {}
    shipment_id = str(data.get("id") or "")
    kind = STOCK_SHORTAGE if detail.get("name") == "OutOfStock" else SHIPBOB_EXCEPTION
    open_row = exceptions.find_open(ctx.session, order.external_id, kind)
    if open_row is not None and (open_row.context or {}).get("shipment_id") == shipment_id:
        return  # ShipBob told us again about the shipment we already handle
    order.shipbob_status = "Exception"
    lines = _shipment_lines(data, order)
    context = {"shipment_id": shipment_id, "reference_id": reference, "shipbob_order_id": data.get("order_id"),
               "detail": {"name": detail.get("name"), "description": detail.get("description"),
                          "inventory_id": detail.get("inventory_id"),
                          "fulfillment_center_id": detail.get("exception_fulfillment_center_id")},
               "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]}
    mode = decisions.mode_for(ctx.session, ctx.shop_id, AUTOMATION)
    if mode == OFF:
        return
    intended: list[dict[str, Any]] = []
    if kind == STOCK_SHORTAGE:
        intended = [{"target": "shipbob.plan_shortage", "cause": f"stock_shortage:{reference}:{shipment_id}",
                     "payload": {"order_id": order.external_id, **context}}]
        context["suggested_actions"] = ["wait: storeops checks stock and the substitution rules",
                                        "override: force a fulfillment center that has the stock"]
    else:
        context["suggested_actions"] = ["fix the product in ShipBob, then approve",
                                        "override: force a fulfillment center"]
    record = decisions.record(
        ctx.session, ctx.shop_id, subject=f"order:{order.external_id}", automation=AUTOMATION, mode=mode,
        inputs={"shipment": context}, rules=[f"{kind}@1"],
        outputs={"held": kind, "detail": context["detail"]}, intended_actions=intended, actions_taken=[],
        cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")
    if mode != LIVE:
        return
    order.status = states.HELD
    reason = f"ShipBob: {detail.get('description') or detail.get('name') or 'shipment exception'}"
    row = exceptions.open_exception(ctx.session, ctx.shop_id, order, kind, reason,
                                    {**context, "decision_id": record.id})
    record.outputs = {**record.outputs, "exception_id": row.id}
    record.actions_taken = emit_actions(ctx.session, ctx.shop_id, record.id, [
        {**item, "payload": {**item["payload"], "exception_id": row.id}} for item in intended])


def _fulfillable(levels: list[Any]) -> dict[str, int]:
    stock: dict[str, int] = {}
    for level in levels:
        if level.sku:
            stock[level.sku] = stock.get(level.sku, 0) + max(0, int(level.fulfillable))
    return stock


@action("shipbob.plan_shortage", queue=SHIPBOB_QUEUE.name)
def shipbob_plan_shortage(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Read ShipBob's stock, apply the merchant's substitution rules, record the decision and
    emit what follows (replace the ShipBob order, tell the customer), in one transaction."""
    db, box = deps()
    with closing(connector_for(db, box, shop_id, "shipbob")) as client:
        stock = _fulfillable(cast(ShipbobClient, client).list_inventory())
    lines = [(str(line["sku"]), int(line["quantity"])) for line in payload["lines"]]
    with db.session(shop_id) as session:
        rules = orders.substitution_rules(session)
        plan = plan_shortage(lines, stock, rules)
        order = orders.find(session, str(payload["order_id"]))
        row = session.get(OrderException, int(payload["exception_id"])) if payload.get("exception_id") else None
        if order is not None and row is not None and row.unresolved:
            run = Run(session, shop_id, f"stock_plan:{payload['reference_id']}:{payload['shipment_id']}")
            apply_shortage_plan(run, order, row, plan, stock={sku: stock.get(sku, 0) for sku, _ in lines})
        decisions.note_emitted_result(session, payload, key, {"outcome": plan.outcome})
    return {"outcome": plan.outcome}


def apply_shortage_plan(run: Run, order: Order, row: OrderException, plan: ShortagePlan, *,
                        stock: dict[str, int] | None = None, consent_given: bool = False,
                        resolve_as: str = AUTO_RESOLVED, location_id: int | None = None) -> DecisionRecord:
    """Carry out a stock-shortage plan: the decision record, the exception's new state, and (live)
    the ShipBob order replaced by one with what can ship now plus a Klaviyo event."""
    mode = decisions.mode_for(run.session, run.shop_id, AUTOMATION)
    mode = LIVE if mode == OFF else mode
    outcome = plan.outcome if not (plan.outcome == CONSENT and consent_given) else (
        PARTIAL if plan.short else "substitute")
    context = dict(row.context or {})
    intended: list[dict[str, Any]] = []
    ships = plan.shippable
    if outcome in ("substitute", PARTIAL, "in_stock") and ships:
        n = int(context.get("replacements") or 0) + 1
        reference = f"{order.external_id}-r{n}"
        names = {line["sku"]: line["name"] for line in order.lines}
        prices = {line["sku"]: line["price"] for line in order.lines}
        context.update(replacements=n, replaced_by=reference)
        intended.append({"target": "shipbob.replace_order", "cause": f"{run.cause}:replace:{reference}", "payload": {
            "order_id": order.external_id, "cancel_shipbob_order_id": context.get("shipbob_order_id"),
            "reference_id": reference, "order_number": order.name,
            "shipping_method": SHIP_OPTIONS.get(orders.facts_of(order).service_level, "Standard"),
            "location_id": location_id, "recipient": recipient_of(order),
            "lines": [{"sku": line.ship_sku, "quantity": line.quantity,
                       "name": names.get(line.sku) or line.sku if line.ship_sku == line.sku
                       else f"{line.ship_sku} (for {line.sku})",
                       "price": str(prices.get(line.sku) or "0")} for line in ships]}})
    metric = SHORTAGE_METRICS.get(outcome)
    if metric and order.email and (outcome != "substitute" or any(p.action == "substitute" for p in ships)):
        intended.append({"target": "klaviyo.shortage_notice", "cause": f"{run.cause}:notice:{outcome}", "payload": {
            "order_id": order.external_id, "email": order.email, "name": order.name, "metric": metric,
            "lines": [line.as_dict() for line in plan.lines]}})
    record = decisions.record(
        run.session, run.shop_id, subject=f"order:{order.external_id}", automation=AUTOMATION, mode=mode,
        inputs={"lines": context.get("lines"), "stock": stock or {}, "exception_id": row.id, "by": run.actor,
                "consent_given": consent_given},
        rules=[plan.rule], outputs={"outcome": outcome, "plan": plan.as_dict()}, intended_actions=intended,
        actions_taken=[], cause=run.cause)
    if mode != LIVE:
        return record
    context.update(plan=plan.as_dict(), outcome=outcome, decision_id=record.id)
    if outcome == CONSENT:
        row.status, row.reason = exceptions.WAITING, "waiting for the customer's consent to a substitution"
        context["suggested_actions"] = ["approve: the customer agreed, ship the substitutes",
                                        "override: back-order instead", "override: force a fulfillment center"]
    elif outcome == BACKORDER:
        row.status, row.reason = exceptions.WAITING, "back-ordered: waiting for stock at ShipBob"
        context["waiting_reference"] = context.get("reference_id")
        order.status = states.BACKORDERED
    elif outcome == PARTIAL:
        row.status = exceptions.WAITING
        row.reason = "partly shipped; back-ordered: " + ", ".join(f"{p.quantity} x {p.sku}" for p in plan.short)
        order.status = states.ROUTED
    else:
        order.status = states.ROUTED
    row.context = context
    if outcome in ("substitute", "in_stock"):
        exceptions.resolve_exception(run.session, row, resolve_as, run.actor, f"{outcome} (decision {record.id})")
    record.actions_taken = emit_actions(run.session, run.shop_id, record.id, intended)
    return record


@action("shipbob.replace_order", queue=SHIPBOB_QUEUE.name)
def shipbob_replace_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Cancel the ShipBob order stuck in Exception (idempotent at ShipBob) and create its
    replacement under a new reference (create_order returns an existing one on a retry)."""
    db, box = deps()
    cancelled = None
    with closing(connector_for(db, box, shop_id, "shipbob")) as client:
        shipbob = cast(ShipbobClient, client)
        if payload.get("cancel_shipbob_order_id") is not None:
            cancelled = shipbob.cancel_order(int(payload["cancel_shipbob_order_id"])).get("status")
        created = create_shipbob_order(shipbob, payload)
    result = {"shipbob_order_id": str(created["id"]), "status": created.get("status"), "cancelled": cancelled,
              "reference_id": payload["reference_id"], "created_at": utcnow().isoformat()}
    note_result(shop_id, payload, key, result, shipbob_order_id=result["shipbob_order_id"],
                shipbob_status=result["status"])
    return result


@action("klaviyo.shortage_notice", queue=KLAVIYO_QUEUE.name)
def klaviyo_shortage_notice(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = deps()
    metric = str(payload["metric"])
    with closing(connector_for(db, box, shop_id, "klaviyo")) as client:
        cast(KlaviyoClient, client).track_event(
            metric, ProfileInput(email=payload["email"]),
            {"OrderId": payload["order_id"], "OrderName": payload.get("name"), "Lines": payload["lines"]},
            unique_id=f"{metric.lower().replace(' ', '-')}:{payload['order_id']}")
    result = {"metric": metric}
    note_result(shop_id, payload, key, result)
    return result


# --- SLA escalation: a scheduled sweep ---------------------------------------------------------


def sweep_sla(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """Escalate every unresolved exception past its SLA (level 1, 2, ... one per further SLA
    period): a decision record per escalation and (live) the Shopify order tagged
    storeops:escalated-<level>, so the merchant's Shopify admin shows what is waiting too."""
    now = now or utcnow()
    with db.system_session() as session:
        shop_ids = [str(shop.id) for shop in shops.list_shops(session)]
    escalated: list[dict[str, Any]] = []
    for shop_id in shop_ids:
        with db.session(shop_id) as session:
            mode = decisions.mode_for(session, shop_id, AUTOMATION)
            for row, level in exceptions.due_for_escalation(session, now):
                order = orders.find(session, row.order_external_id)
                intended = []
                if order is not None and order.gid:
                    intended = [{"target": "shopify.tag_order", "cause": f"exception_sla:{row.id}:{level}",
                                 "payload": {"order_id": order.external_id, "gid": order.gid,
                                             "tags": ["storeops:exception", f"storeops:escalated-{level}",
                                                      f"storeops:exception-{row.kind}"]}}]
                age_h = round(row.age(now).total_seconds() / 3600, 2)
                record = decisions.record(
                    session, shop_id, subject=f"order:{row.order_external_id}", automation=AUTOMATION, mode=mode,
                    inputs={"exception_id": row.id, "kind": row.kind, "opened_at": row.opened_at.isoformat(),
                            "sla_due_at": row.sla_due_at.isoformat(), "age_hours": age_h},
                    rules=["exception_sla@1"], outputs={"escalation_level": level, "previous": row.escalation_level},
                    intended_actions=intended, actions_taken=[], cause=f"exception_sla:{row.id}:{level}")
                if mode == OFF:
                    continue
                exceptions.escalate(row, level, now)
                row.context = {**(row.context or {}), "escalations": [
                    *(row.context or {}).get("escalations", []),
                    {"level": level, "at": now.isoformat(), "decision_id": record.id}]}
                if mode == LIVE:
                    record.actions_taken = emit_actions(session, shop_id, record.id, intended)
                escalated.append({"shop_id": shop_id, "exception_id": row.id, "level": level,
                                  "decision_id": record.id})
    return escalated


@step(name="order_exceptions.sweep_sla")
def _sweep_step() -> int:
    db, _ = deps()
    return len(sweep_sla(db))


@schedule("order_exceptions_sla", "0 */5 * * * *")
def sla_sweep(scheduled_at: datetime, context: Any) -> None:
    """Every five minutes: escalate the exceptions past their SLA."""
    if flow_context.configured():
        _sweep_step()


# --- a person's actions on an exception (the API and the dashboard call these) -----------------

VERBS = ("approve", "fix", "override")
OVERRIDES = ("route", "hold", "backorder", "cancel")
# Shopify's OrderCancelReason when a person cancels an order from its exception.
CANCEL_REASONS = {RISK: "FRAUD", NO_STOCK: "INVENTORY", STOCK_SHORTAGE: "INVENTORY"}


def act_on_exception(db: Database, shop_id: str, exception_id: int, verb: str, *, by: str,
                     note: str | None = None, address: dict[str, Any] | None = None,
                     override: str | None = None, fc: str | None = None) -> OrderException:
    """approve / fix / override one exception, in one transaction with the decision record and
    the outbox actions; InvalidInput / NotFound change nothing (the transaction rolls back)."""
    if verb not in VERBS:
        raise InvalidInput(f"action must be one of {', '.join(VERBS)}", field="action")
    by = (by or "").strip()
    if not by:
        raise InvalidInput("say who acts (by)", field="by")
    with db.session(shop_id) as session:
        row = exceptions.get_exception(session, exception_id)
        if not row.unresolved:
            raise InvalidInput(f"exception {row.id} is already resolved ({row.resolution})", field="id")
        order = orders.find(session, row.order_external_id)
        if order is None:
            raise NotFound("order", row.order_external_id)
        run = Run(session, shop_id, f"exception:{row.id}:{verb}:{int(time.time() * 1000)}", actor=by)
        if verb == "approve":
            _approve(run, order, row, note)
        elif verb == "fix":
            _fix(run, order, row, address, note)
        else:
            _override(run, order, row, override, fc, note)
        session.flush()
        session.expunge(row)
        return row


def _approve(run: Run, order: Order, row: OrderException, note: str | None) -> None:
    if row.kind in (ADDRESS, RISK, NO_STOCK):
        record = decide(run, order, allow=frozenset({row.kind}), resolve_as=APPROVED, note=note)
        if record is not None and exceptions.find_open(run.session, order.external_id, row.kind) is not None:
            raise InvalidInput("approved, but the order is still held", field="id")
        return
    if row.kind == STOCK_SHORTAGE and (row.context or {}).get("outcome") == CONSENT:
        plan = _stored_plan(row)
        # A partial plan leaves the exception waiting for the back-ordered rest.
        apply_shortage_plan(run, order, row, plan, consent_given=True, resolve_as=APPROVED)
        return
    _record_person(run, order, row, "approve", note)
    exceptions.resolve_exception(run.session, row, APPROVED, run.actor, note)


def _stored_plan(row: OrderException) -> ShortagePlan:
    raw = (row.context or {}).get("plan") or {}
    lines = tuple(PlannedLine(p["sku"], int(p["quantity"]), p["action"], p.get("ship_sku"),
                              bool(p.get("needs_consent")), p.get("source")) for p in raw.get("lines") or [])
    if not lines:
        raise InvalidInput("this exception has no substitution plan to approve", field="id")
    return ShortagePlan(str(raw.get("outcome")), lines, str(raw.get("rule")), tuple(raw.get("reasons") or ()))


ADDRESS_FIELDS = ("first_name", "last_name", "name", "company", "address1", "address2", "city", "province_code",
                  "zip", "country_code", "phone")


def _fix(run: Run, order: Order, row: OrderException, address: dict[str, Any] | None, note: str | None) -> None:
    if row.kind != ADDRESS:
        raise InvalidInput(f"fix corrects an address; a {row.kind} exception is approved or overridden",
                           field="action")
    if not address:
        raise InvalidInput("fix needs the corrected address", field="address")
    unknown = set(address) - set(ADDRESS_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown address field(s): {', '.join(sorted(unknown))}", field="address")
    merged = {**(order.shipping_address or {}), **{k: str(v).strip() for k, v in address.items()}}
    check = validate_address(orders.as_address(merged))
    if not check.ok:
        issues = "; ".join(str(i.message) for i in check.issues if str(i.severity) == "error")
        raise InvalidInput(f"the corrected address is still invalid: {issues}", field="address")
    order.shipping_address = merged
    decide(run, order, resolve_as=FIXED, note=note or "address corrected by a person")


def _override(run: Run, order: Order, row: OrderException, override: str | None, fc: str | None,
              note: str | None) -> DecisionRecord | None:
    """A person's override; returns its decision record where one is made here (not for a
    re-decided hold or a cancel, which record their own)."""
    if override not in OVERRIDES:
        raise InvalidInput(f"override must be one of {', '.join(OVERRIDES)}", field="override")
    if override == "route":
        if not fc:
            raise InvalidInput("route needs a fulfillment center (fc)", field="fc")
        if order.shipbob_order_id is None or row.kind in (ADDRESS, RISK, NO_STOCK):
            decide(run, order, allow=frozenset({ADDRESS, RISK}), force_fc=fc, resolve_as=OVERRIDDEN, note=note)
            exceptions.resolve_open(run.session, order.external_id, row.kind, OVERRIDDEN, run.actor, note)
            return None
        fcs = {f.id for f in fulfillment_centers(run.session, run.shop_id)}
        if fc not in fcs:
            raise InvalidInput(f"no fulfillment center {fc!r} (known: {', '.join(sorted(fcs))})", field="fc")
        plan = ShortagePlan("in_stock", tuple(
            PlannedLine(str(line["sku"]), int(line["quantity"]), "ship", str(line["sku"]))
            for line in (row.context or {}).get("lines") or order.lines), "override_route@1")
        return apply_shortage_plan(run, order, row, plan, resolve_as=OVERRIDDEN, location_id=int(fc))
    if override == "cancel":
        _cancel_by_person(run, order, row, note)
        return None
    if override == "backorder" and row.kind not in (STOCK_SHORTAGE, SHIPBOB_EXCEPTION):
        raise InvalidInput("backorder applies to an order waiting at ShipBob (stock_shortage, shipbob_exception)",
                           field="override")
    record = _record_person(run, order, row, f"override:{override}", note)
    if override == "hold":
        order.status = states.HELD
    else:
        order.status = states.BACKORDERED
    exceptions.resolve_exception(run.session, row, OVERRIDDEN, run.actor, note or override)
    return record


def _cancel_by_person(run: Run, order: Order, row: OrderException, note: str | None) -> None:
    """Cancel the order in Shopify (refund, restock) through the same action a customer's
    cancellation takes: it refuses an order that has shipped (a cancel_failed exception), and
    Shopify's orders/cancelled webhook then cancels the ShipBob order."""
    if order.status == states.CANCELLED or order.cancelled_at is not None:
        raise InvalidInput(f"order {order.external_id} is already cancelled", field="override")
    if order.status in (states.SHIPPED, states.DELIVERED) or order.tracking_number:
        raise InvalidInput(f"order {order.external_id} has shipped: start a return instead", field="override")
    record = _record_person(run, order, row, "override:cancel", note)
    intended = [{"target": "orders.cancel_order", "cause": f"exception_cancel:{row.id}",
                 "payload": {"order_id": order.external_id, "source": f"exception {row.id} by {run.actor}",
                             "reason": CANCEL_REASONS.get(row.kind, "OTHER")}}]
    record.intended_actions = intended
    if record.mode == LIVE:
        record.actions_taken = emit_actions(run.session, run.shop_id, record.id, intended)
    exceptions.resolve_exception(run.session, row, OVERRIDDEN, run.actor, note or "cancelled by a person")


def _record_person(run: Run, order: Order, row: OrderException, what: str, note: str | None) -> DecisionRecord:
    mode = decisions.mode_for(run.session, run.shop_id, AUTOMATION)
    return decisions.record(
        run.session, run.shop_id, subject=f"order:{order.external_id}", automation=AUTOMATION,
        mode=LIVE if mode == OFF else mode,
        inputs={"exception_id": row.id, "kind": row.kind, "by": run.actor, "note": note},
        rules=["person@1"], outputs={"action": what, "status": order.status}, intended_actions=[],
        actions_taken=[], cause=run.cause)


# --- the customer's own answer to the consent question (read from a Gorgias reply) -------------


def waiting_for_consent(session: Session, email: str) -> list[OrderException]:
    """This shop's stock-shortage exceptions that wait for the consent of the customer with this
    email (the session is the shop's: another shop's orders are never seen)."""
    email = (email or "").strip().lower()
    if not email:
        return []
    # From the (few) waiting shortages to their orders, not from every order of the shop.
    rows = session.scalars(
        select(OrderException)
        .join(Order, Order.external_id == OrderException.order_external_id)
        .where(OrderException.kind == STOCK_SHORTAGE, OrderException.status == exceptions.WAITING,
               func.lower(Order.email) == email)
        .order_by(OrderException.id))
    return [row for row in rows if (row.context or {}).get("outcome") == CONSENT]


def answer_consent(run: Run, row: OrderException, reading: ConsentReading, *, ticket_id: str, message_id: str,
                   live: bool, alone: bool = True) -> dict[str, Any]:
    """Carry out the customer's answer for this one waiting exception: yes approves the stored
    substitution plan exactly as a person's approve does, no back-orders exactly as a person's
    "override: back-order" does; unclear (or `alone` False: more than one order waits for this
    customer) decides nothing and notes on the exception that a person should read the ticket.
    `live` False (shadow): a decision record of what would happen, nothing changed. The order
    row lock and the status read under it make a repeated message (a webhook duplicate) a no-op."""
    live = live and decisions.mode_for(run.session, run.shop_id, AUTOMATION) == LIVE
    order = orders.find(run.session, row.order_external_id, lock=True)
    run.session.refresh(row)
    if order is None or row.status != exceptions.WAITING or (row.context or {}).get("outcome") != CONSENT:
        return {"exception_id": row.id, "skipped": "no longer waiting for consent"}
    answer = reading.answer if alone else UNCLEAR
    said = ", ".join(f'"{w}"' for w in reading.words) or "nothing we could read"
    source = {"ticket": ticket_id, "message": message_id, "reading": reading.as_dict(), "alone": alone}

    def remember(record: DecisionRecord, **extra: str) -> None:
        """The reply, on the exception's context (the Exceptions page shows the last one)."""
        row.context = {**(row.context or {}), "customer_replies": [
            *(row.context or {}).get("customer_replies", []),
            {"ticket": ticket_id, "message": message_id, "answer": answer, "words": list(reading.words),
             "at": utcnow().isoformat(), "decision_id": record.id, **extra}]}

    if not live or answer == UNCLEAR:
        why = "; ".join(reading.reasons) if alone else "more than one order waits for this customer's consent"
        record = decisions.record(
            run.session, run.shop_id, subject=f"order:{order.external_id}", automation=AUTOMATION,
            mode=LIVE if live else SHADOW, inputs={"exception_id": row.id, "by": run.actor, "consent": source},
            rules=[reading.rule], outputs={"answer": answer, "would": {YES: "approve", NO: "override:backorder"}
                                           .get(answer, "ask a person"), "why": why}, intended_actions=[],
            actions_taken=[], cause=run.cause)
        if live:  # live here means the answer was unclear
            remember(record, note=f"the customer replied on Gorgias ticket {ticket_id} ({why}): "
                                  "a person should read it")
        return {"exception_id": row.id, "answer": answer, "decided": False, "decision_id": record.id}
    if answer == YES:
        record = apply_shortage_plan(run, order, row, _stored_plan(row), consent_given=True, resolve_as=APPROVED)
    else:
        record = cast(DecisionRecord, _override(run, order, row, "backorder", None,
                                                f"customer said no on Gorgias ticket {ticket_id}: {said}"))
    record.inputs = {**record.inputs, "consent": source}
    record.rules = [*record.rules, reading.rule]
    remember(record)
    return {"exception_id": row.id, "answer": answer, "decided": record.mode == LIVE, "decision_id": record.id,
            "order": order.external_id}
