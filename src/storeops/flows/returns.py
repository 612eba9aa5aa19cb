"""Return automation ("returns"): from a customer's request to a refund, exactly once.

    request (Shopify returns/request webhook | POST /api/v1/returns | request_return() from support)
        -> ReturnRequest + lines, the policy's verdict (storeops.domain.returns.policy)
        -> DecisionRecord (inputs, policy, verdict, refund quote, intended actions)
        -> approved, live: outbox, same transaction:
             shipbob.create_return   (RMA = ShipBob reference_id, printed on the box)
             shopify.create_return   (only when the request did not come from Shopify)
           rejected / needs_review: recorded; a person approves or rejects (API, dashboard)
           shadow: intended actions on the record only; off: the request waits for a person
    ShipBob return.completed (the parcel was received and processed)
        -> received -> outbox shopify.refund (refundCreate: the quoted amount, restock RETURN)
    shopify.refund done -> refunded -> outbox klaviyo.returned_product ("Returned Product",
        unique per return, so post-purchase and review flows can skip the customer) -> closed

Exactly one refund per approved return: the refund is emitted from one state change
(label_issued/approved -> received, under a row lock) with a cause derived from the return id,
so a second return.completed finds the request already received and a second emit would hit
the same idempotency key; the action passes that key to refundCreate's @idempotent directive,
so a retry after a 5xx or a crash mid-call returns Shopify's first refund instead of a new one.

For the support flow (Gorgias tickets): call `request_return(session, shop_id, order_id, lines,
reason, source="gorgias", source_ref=<ticket id>, ...)` inside your transaction. It raises
InvalidInput (nothing stored) on bad input, returns the existing request when the same
(source, source_ref) was asked before, and otherwise the new request with its status and
`eligibility["reasons"]` to tell the customer.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeops.connectors.klaviyo.client import KlaviyoClient
from storeops.connectors.klaviyo.models import ProfileInput
from storeops.connectors.shipbob.client import ShipbobClient
from storeops.connectors.shipbob.models import ReturnItem
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.clock import as_utc, utcnow
from storeops.core.errors import InvalidInput, NotFound
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import LIVE, OFF, SHADOW, DecisionRecord
from storeops.domain.orders import services as orders
from storeops.domain.orders.models import CANCELLED, DELIVERED, Order
from storeops.domain.returns import services as returns
from storeops.domain.returns.error_codes import ReturnReasonCode
from storeops.domain.returns.models import (
    APPROVED,
    CLOSED,
    LABEL_ISSUED,
    NEEDS_REVIEW,
    RECEIVED,
    REFUNDED,
    REJECTED,
    SOURCES,
    ReturnRequest,
)
from storeops.domain.returns.policy import (
    OrderLineFacts,
    OrderSnapshot,
    RequestedLine,
    check_eligibility,
    quote_refund,
)
from storeops.engine.inbox import EventContext, InvalidPayload
from storeops.engine.outbox import action, emit, emit_actions
from storeops.flows.context import deps
from storeops.flows.demo import connector_for
from storeops.flows.orders import KLAVIYO_QUEUE, SHIPBOB_QUEUE, SHOPIFY_QUEUE

AUTOMATION = "returns"
# The automation exists for modes (API, dashboard) with `live` as its default, like order routing.




# --- the order as the policy sees it ---------------------------------------------------------


def _shipped_at(session: Session, order: Order) -> datetime | None:
    """When the order shipped: the order flow records ShipBob's order.shipped as a decision
    (rule mirror_fulfillment); a shipped order without one counts from its last change."""
    if order.status not in ("shipped", DELIVERED) and not order.tracking_number:
        return None
    found = session.execute(select(DecisionRecord.created_at, DecisionRecord.rules)
                            .where(DecisionRecord.subject == f"order:{order.external_id}")
                            .order_by(DecisionRecord.id)).all()
    for created_at, rules in found:
        if any(str(rule).startswith("mirror_fulfillment@") for rule in rules or []):
            return as_utc(created_at)
    return as_utc(order.updated_at)


def snapshot_of(session: Session, order: Order) -> OrderSnapshot:
    already = returns.returned_quantities(session, order.external_id)
    lines = tuple(OrderLineFacts(line_id=str(li["line_id"]), sku=str(li.get("sku") or ""),
                                 quantity=int(li["quantity"]), unit_price=Decimal(str(li.get("price") or "0")),
                                 returned=already.get(str(li["line_id"]), 0)) for li in order.lines)
    goods = sum((li.unit_price * li.quantity for li in lines), Decimal("0"))
    return OrderSnapshot(
        order_id=order.external_id, lines=lines, ordered_at=as_utc(order.created_at),
        shipped_at=_shipped_at(session, order), currency=order.currency,
        tags=tuple(t.strip() for t in order.tags.split(",") if t.strip()),
        # What was paid beyond the goods: the shipping charge (and tax where one was charged).
        extra_charges=max(Decimal(order.total) - goods, Decimal("0")),
        cancelled=order.status == CANCELLED or order.cancelled_at is not None)


def _requested_lines(order: Order, lines: list[dict[str, Any]]) -> list[RequestedLine]:
    """Lines name an order line by Shopify line id or by SKU (what a support agent sees)."""
    if not isinstance(lines, list) or not lines:
        raise InvalidInput("a return needs at least one line", field="lines")
    by_sku: dict[str, list[str]] = {}
    for li in order.lines:
        by_sku.setdefault(str(li.get("sku") or ""), []).append(str(li["line_id"]))
    out = []
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if not isinstance(line, dict):
            raise InvalidInput(f"{where} must be an object with line_id or sku, and quantity", field=where)
        line_id = line.get("line_id")
        if line_id in (None, "") and line.get("sku"):
            matches = by_sku.get(str(line["sku"]), [])
            if len(matches) != 1:
                raise InvalidInput(f"{where}: order {order.external_id} has {len(matches)} lines with SKU "
                                   f"{line['sku']!r}; name the line_id", field=where)
            line_id = matches[0]
        if line_id in (None, ""):
            raise InvalidInput(f"{where} needs line_id or sku", field=where)
        quantity = line.get("quantity", 1)
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            raise InvalidInput(f"{where}: quantity must be a whole number", field=where)
        out.append(RequestedLine(str(line_id), quantity))
    return out


# --- requests --------------------------------------------------------------------------------


def request_return(session: Session, shop_id: str, order_external_id: str, lines: list[dict[str, Any]],
                   reason: str, *, condition: str = "unopened", source: str = "gorgias",
                   source_ref: str | None = None, note: str | None = None, shopify_return_id: str | None = None,
                   cause: str | None = None, now: datetime | None = None) -> ReturnRequest:
    """Record a return request and decide it by the shop's policy (see the module docstring)."""
    if source not in SOURCES:
        raise InvalidInput(f"source must be one of {', '.join(SOURCES)}", field="source")
    if source_ref is not None:
        existing = returns.find_by_source(session, source, str(source_ref))
        if existing is not None:
            return existing
    order = orders.find(session, str(order_external_id))
    if order is None:
        raise InvalidInput(f"no order {order_external_id!r} in this shop", field="order_id")
    asked = _requested_lines(order, lines)
    snapshot = snapshot_of(session, order)
    policy = returns.get_policy(session, shop_id)
    moment = now or utcnow()
    history = returns.history(session, customer_external_id=order.customer_external_id, email=order.email)
    verdict = check_eligibility(policy, snapshot, asked, reason, condition, history, moment)  # InvalidInput first
    quote = quote_refund(policy, snapshot, asked, reason)
    by_line = {li["line_id"]: li for li in order.lines}
    request = returns.create(
        session, shop_id, order_external_id=order.external_id, order_name=order.name,
        customer_external_id=order.customer_external_id, email=order.email, source=source,
        source_ref=None if source_ref is None else str(source_ref), reason=reason, condition=condition,
        note=note, currency=order.currency,
        lines=[{"line_id": a.line_id, "sku": by_line[a.line_id].get("sku"), "name": by_line[a.line_id].get("name"),
                "quantity": a.quantity, "unit_price": by_line[a.line_id].get("price")} for a in asked])
    request.shopify_return_id = shopify_return_id
    returns.apply_quote(session, request, quote)
    mode = decisions.mode_for(session, shop_id, AUTOMATION)
    request.eligibility = verdict.as_json()
    if mode == OFF:
        # The automation does nothing: the request waits for a person, who sees the verdict.
        returns.move(request, NEEDS_REVIEW)
        return request
    request.decided_by = "policy"
    returns.move(request, verdict.outcome)
    intended = _approval_actions(session, order, request) if request.status == APPROVED else []
    record = decisions.record(
        session, shop_id, subject=f"return:{request.id}", automation=AUTOMATION, mode=mode,
        inputs={"order": {"id": order.external_id, "status": order.status, "total": order.total,
                          "tags": list(snapshot.tags),
                          "shipped_at": snapshot.shipped_at.isoformat() if snapshot.shipped_at else None},
                "request": {"source": source, "source_ref": request.source_ref, "reason": reason,
                            "condition": condition, "lines": [{"line_id": a.line_id, "quantity": a.quantity}
                                                               for a in asked]},
                "history": {"requests": len(history.requested_at)}, "policy": policy.as_json()},
        rules=list(verdict.rules), outputs={**verdict.as_json(), "refund": quote.as_json(), "status": request.status},
        intended_actions=intended, actions_taken=[],
        cause=cause or f"{source}:{request.source_ref or request.id}")
    if mode == LIVE and intended:
        record.actions_taken = emit_actions(session, shop_id, record.id, intended)
    return request


def decide_by_person(session: Session, shop_id: str, return_id: int, *, approve: bool, actor: str = "admin",
                     note: str | None = None) -> ReturnRequest:
    """A person approves or rejects a request the policy sent to review (or the automation
    left alone while off). Only `needs_review` requests can be decided this way."""
    request = returns.find(session, return_id, lock=True)
    if request is None:
        raise NotFound("return", return_id)
    if request.status != NEEDS_REVIEW:
        raise InvalidInput(f"return {return_id} is {request.status}; only a return in needs_review can be "
                           f"{'approved' if approve else 'rejected'} by a person", field="status")
    order = orders.find(session, request.order_external_id)
    if order is None:
        raise InvalidInput(f"the order {request.order_external_id} of return {return_id} is gone", field="order_id")
    mode = decisions.mode_for(session, shop_id, AUTOMATION)
    returns.move(request, APPROVED if approve else REJECTED)
    request.decided_by = actor[:64]
    if note:
        request.note = ((request.note + "\n") if request.note else "") + f"{actor}: {note}"[:500]
    intended = _approval_actions(session, order, request) if approve else []
    record = decisions.record(
        session, shop_id, subject=f"return:{request.id}", automation=AUTOMATION, mode=mode,
        inputs={"previous": NEEDS_REVIEW, "eligibility": request.eligibility, "note": note},
        rules=["person_review@1"],
        outputs={"status": request.status, "decided_by": actor, "code": str(ReturnReasonCode.DECIDED_BY_PERSON)},
        intended_actions=intended, actions_taken=[], cause=f"person:{actor}:return:{request.id}")
    # A person's approval acts unless the automation is in shadow: shadow never calls anyone.
    if intended and mode != SHADOW:
        record.actions_taken = emit_actions(session, shop_id, record.id, intended)
    return request


def _approval_actions(session: Session, order: Order, request: ReturnRequest) -> list[dict[str, Any]]:
    lines = [{"line_id": li.line_id, "sku": li.sku, "quantity": li.quantity}
             for li in returns.lines_of(session, request.id)]
    rma = rma_for(request)
    # Known before ShipBob answers: a return.completed that overtakes our own bookkeeping still
    # finds its request by the reference_id ShipBob echoes.
    request.rma = rma
    cause = f"return_approved:{request.id}"
    actions = [{"target": "shipbob.create_return", "cause": cause, "payload": {
        "return_id": request.id, "rma": rma, "order_id": order.external_id,
        "shipbob_order_id": order.shipbob_order_id, "lines": lines}}]
    if request.source != "shopify" and order.gid:
        actions.append({"target": "shopify.create_return", "cause": cause, "payload": {
            "return_id": request.id, "rma": rma, "order_id": order.external_id, "gid": order.gid,
            "reason": request.reason, "lines": lines}})
    return actions


def rma_for(request: ReturnRequest) -> str:
    """Our return merchandise authorization: ShipBob's reference_id (at most 50 characters)."""
    return f"RMA-{request.order_external_id}-{request.id}"[:50]


# --- inbound webhooks ------------------------------------------------------------------------


def _object(ctx: EventContext) -> dict[str, Any]:
    if not isinstance(ctx.payload, dict):
        raise InvalidPayload(f"{ctx.event.topic} payload must be a JSON object")
    return ctx.payload


def on_shopify_return_request(ctx: EventContext) -> None:
    """returns/request: a customer asked for a return in their Shopify account."""
    data = _object(ctx)
    order = data.get("order") if isinstance(data.get("order"), dict) else {}
    if data.get("id") is None or not order or order.get("id") is None:
        raise InvalidPayload("returns/request needs id and order.id")
    ctx.event.subject = f"order:{order['id']}"
    lines = []
    reasons = []
    for item in data.get("return_line_items") or []:
        if not isinstance(item, dict):
            continue
        fli = item.get("fulfillment_line_item")
        line_item = fli.get("line_item") if isinstance(fli, dict) else None
        line_id = (line_item.get("id") if isinstance(line_item, dict) else None) or item.get("line_item_id")
        if line_id is None:
            continue
        lines.append({"line_id": str(line_id), "quantity": int(item.get("quantity") or 0)})
        reasons.append(str(item.get("return_reason") or "unknown").lower())
    if not lines:
        raise InvalidPayload("returns/request carries no return line items we can map to order lines")
    reason = reasons[0] if len(set(reasons)) == 1 else "other"
    notes = [str(i.get("customer_note")) for i in data.get("return_line_items") or []
             if isinstance(i, dict) and i.get("customer_note")]
    try:
        request_return(ctx.session, ctx.shop_id, str(order["id"]), lines, reason, condition="unopened",
                       source="shopify", source_ref=str(data["id"]), note="; ".join(notes)[:1000] or None,
                       shopify_return_id=str(data.get("admin_graphql_api_id") or f"gid://shopify/Return/{data['id']}"),
                       cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")
    except InvalidInput as exc:
        raise InvalidPayload(f"returns/request: {exc}") from exc


def on_shipbob_return_completed(ctx: EventContext) -> None:
    """return.completed: ShipBob received and processed the parcel -> refund (once)."""
    data = _object(ctx)
    request = returns.find_for_shipbob(ctx.session, shipbob_return_id=str(data.get("id") or "") or None,
                                       rma=str(data.get("reference_id") or "") or None)
    if request is None:
        return  # a return storeops did not create: nothing to refund here
    ctx.event.subject = f"return:{request.id}"
    request.shipbob_status = str(data.get("status") or "") or request.shipbob_status
    if request.shipbob_return_id is None and data.get("id") is not None:
        request.shipbob_return_id = str(data["id"])
    if request.status not in (APPROVED, LABEL_ISSUED):
        return  # received already (a duplicate or late webhook), or never approved: nothing to do
    returns.move(request, RECEIVED)
    request.received_at = utcnow()
    mode = decisions.mode_for(ctx.session, ctx.shop_id, AUTOMATION)
    order = orders.find(ctx.session, request.order_external_id)
    lines = returns.lines_of(ctx.session, request.id)
    intended = [{"target": "shopify.refund", "cause": f"return_received:{request.id}", "payload": {
        "return_id": request.id, "order_id": request.order_external_id,
        "gid": order.gid if order is not None else f"gid://shopify/Order/{request.order_external_id}",
        "amount": request.refund_total, "currency": request.currency,
        "lines": [{"line_id": li.line_id, "quantity": li.quantity} for li in lines],
        "shipping": request.shipping_refund, "note": f"storeops {rma_for(request)}: {request.reason}"}}]
    record = decisions.record(
        ctx.session, ctx.shop_id, subject=f"return:{request.id}", automation=AUTOMATION, mode=mode,
        inputs={"shipbob_return_id": request.shipbob_return_id, "shipbob_status": request.shipbob_status,
                "inventory": data.get("inventory")},
        rules=["refund_on_receipt@1"],
        outputs={"status": request.status, "refund": {"subtotal": request.refund_subtotal,
                                                      "restocking_fee": request.restocking_fee,
                                                      "shipping": request.shipping_refund,
                                                      "total": request.refund_total}},
        intended_actions=intended, actions_taken=[], cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")
    if mode == LIVE:
        record.actions_taken = emit_actions(ctx.session, ctx.shop_id, record.id, intended)


# --- outbound actions --------------------------------------------------------------------------


@action("shipbob.create_return", queue=SHIPBOB_QUEUE.name)
def shipbob_create_return(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """The return order at the FC that shipped the goods (restock on receipt). ShipBob answers
    an existing reference_id with 422, which the client turns into the existing return."""
    db, box = deps()
    wanted = {str(li["sku"]): int(li["quantity"]) for li in payload["lines"]}
    with closing(connector_for(db, box, shop_id, "shipbob")) as client:
        shipbob = cast(ShipbobClient, client)
        order_id = payload.get("shipbob_order_id")
        found = shipbob.get_order(int(order_id)) if order_id else shipbob.find_order(str(payload["order_id"]))
        if found is None:
            raise InvalidInput(f"ShipBob has no order for {payload['order_id']}", field="order_id")
        inventory: dict[str, int] = {}
        shipment_id, fc_id = None, None
        for shipment in found.get("shipments") or []:
            skus = {str(p.get("sku")) for p in shipment.get("products") or []}
            if not skus & set(wanted):
                continue
            fc_id = fc_id or (shipment.get("location") or {}).get("id")
            if shipment.get("status") == "Completed" and shipment_id is None:
                shipment_id = shipment.get("id")
            for product in shipment.get("products") or []:
                for item in product.get("inventory_items") or []:
                    inventory.setdefault(str(product.get("sku")), int(item["id"]))
        missing = sorted(set(wanted) - set(inventory))
        if missing or fc_id is None:
            raise InvalidInput(f"ShipBob order {found.get('id')} has no shipment with {', '.join(missing)}",
                               field="lines")
        created = shipbob.create_return(
            str(payload["rma"]), fulfillment_center_id=int(fc_id),
            items=[ReturnItem(inventory_id=inventory[sku], quantity=qty, action="Restock")
                   for sku, qty in wanted.items()],
            original_shipment_id=int(shipment_id) if shipment_id is not None else None)
    result = {"shipbob_return_id": str(created["id"]), "rma": payload["rma"], "status": created.get("status"),
              "fulfillment_center_id": str(fc_id), "tracking_number": created.get("tracking_number")}
    with db.session(shop_id) as session:
        request = returns.find(session, int(payload["return_id"]), lock=True)
        if request is not None:
            request.shipbob_return_id = result["shipbob_return_id"]
            request.rma = str(payload["rma"])
            request.fulfillment_center_id = result["fulfillment_center_id"]
            request.tracking_number = result["tracking_number"] or request.tracking_number
            request.shipbob_status = result["status"]
            if request.status == APPROVED:
                returns.move(request, LABEL_ISSUED)
        decisions.note_emitted_result(session, payload, key, result)
    return result


@action("shopify.create_return", queue=SHOPIFY_QUEUE.name)
def shopify_create_return(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Open the return in Shopify (requests from Gorgias or the API), so the order shows it.
    returnCreate has no idempotency key: our RMA rides in each line's reason note and an
    existing return carrying it is reused (a retry after a lost answer creates nothing)."""
    db, box = deps()
    rma = str(payload["rma"])
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        shopify = cast(ShopifyClient, client)
        known = shopify.returnables(payload["gid"])
        existing = next((r for r in known["returns"] if any(rma in note for note in r["notes"])), None)
        if existing is None:
            by_line: dict[str, list[dict[str, Any]]] = {}
            for fli in known["lines"]:
                by_line.setdefault(str(fli["line_item_id"]).rsplit("/", 1)[-1], []).append(fli)
            items = []
            for line in payload["lines"]:
                need = int(line["quantity"])
                for fli in by_line.get(str(line["line_id"]), []):
                    take = min(need, int(fli["quantity"]))
                    if take > 0:
                        items.append((str(fli["id"]), take, f"{rma}: {payload['reason']}"))
                        need -= take
                if need > 0:
                    raise InvalidInput(f"Shopify shows fewer shipped units of line {line['line_id']} than returned",
                                       field="lines")
            existing = shopify.create_return(payload["gid"], items)
    result = {"shopify_return_id": str(existing["id"]), "name": existing.get("name")}
    with db.session(shop_id) as session:
        request = returns.find(session, int(payload["return_id"]), lock=True)
        if request is not None:
            request.shopify_return_id = result["shopify_return_id"]
        decisions.note_emitted_result(session, payload, key, result)
    return result


@action("shopify.refund", queue=SHOPIFY_QUEUE.name)
def shopify_refund(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """refundCreate under @idempotent(key: <outbox key>): the same key twice is one refund.
    Units go back to stock (restockType RETURN); money through one refund transaction."""
    db, box = deps()
    amount = Decimal(str(payload["amount"]))
    lines = [(f"gid://shopify/LineItem/{li['line_id']}", int(li["quantity"]), "RETURN") for li in payload["lines"]]
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        created = cast(ShopifyClient, client).create_refund(
            payload["gid"], lines, amount=amount if amount > 0 else None, note=payload.get("note"),
            idempotency_key=key)
    refund = created.get("refund") or {}
    result = {"refund_id": str(refund.get("id")), "amount": str(amount)}
    with db.session(shop_id) as session:
        request = returns.find(session, int(payload["return_id"]), lock=True)
        if request is not None and request.status == RECEIVED:
            request.refund_id = result["refund_id"]
            request.refunded_at = utcnow()
            returns.move(request, REFUNDED)
            mode = decisions.mode_for(session, shop_id, AUTOMATION)
            if request.email and mode == LIVE:
                emit(session, shop_id=shop_id, target="klaviyo.returned_product", cause=f"return_refunded:{request.id}",
                     payload={"return_id": request.id, "order_id": request.order_external_id, "email": request.email,
                              "reason": request.reason, "amount": request.refund_total, "currency": request.currency,
                              "skus": [li.sku for li in returns.lines_of(session, request.id)]})
            else:
                returns.move(request, CLOSED)
                request.closed_at = utcnow()
        decisions.note_emitted_result(session, payload, key, result)
    return result


@action("klaviyo.returned_product", queue=KLAVIYO_QUEUE.name)
def klaviyo_returned_product(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Tell Klaviyo: post-purchase and review flows filter on "Returned Product" for the order."""
    db, box = deps()
    with closing(connector_for(db, box, shop_id, "klaviyo")) as client:
        cast(KlaviyoClient, client).track_event(
            "Returned Product", ProfileInput(email=payload["email"]),
            {"OrderId": payload["order_id"], "ReturnId": payload["return_id"], "Reason": payload.get("reason"),
             "SKUs": payload.get("skus") or []},
            unique_id=f"returned-product:{payload['return_id']}", value=Decimal(str(payload["amount"])),
            value_currency=payload.get("currency"))
    with db.session(shop_id) as session:
        request = returns.find(session, int(payload["return_id"]), lock=True)
        if request is not None and request.status == REFUNDED:
            returns.move(request, CLOSED)
            request.closed_at = utcnow()
    return {"metric": "Returned Product"}


