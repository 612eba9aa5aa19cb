"""Order life cycle (issue #4): cancellations, unpaid orders, refunds, and the sweep that
finds what the webhooks missed. Part of the "order_routing" automation (its mode applies).

    Shopify orders/cancelled (via flows.orders.on_shopify_order)
        -> DecisionRecord; live: outbox shipbob.cancel_order when routing sent the order to
           ShipBob. ShipBob refusing (a label exists: it shipped) -> a cancel_failed exception.
    An order whose payment is pending / voided / expired
        -> DecisionRecord + a durable workflow per order (id payment-retry:<shop>:<order>):
           sleep, re-read the order, Klaviyo "Payment Failed" reminder (unique per attempt),
           ... then, still unpaid: Shopify orderCancel (restock) or a "payment" exception,
           per the shop's PaymentPolicy. orders/paid meanwhile routes the order as usual and
           the next wake-up stops the sequence.
    Shopify refunds/create -> the order's financial status (newer wins).
    Every 10 minutes per shop, and `storeops orders reconcile`: Shopify orders updated since
        the shop's watermark (sync cursor "shopify.orders") that we lack or hold older, as
        inbox events "reconcile:<id>:<updated_at>", so dedupe, newer-wins and the handlers
        apply exactly once.

Every step of the workflow re-reads our database (webhooks keep it current) and is
idempotent on its own decision record, so a step re-run after a crash records and emits
nothing twice; outbound calls go through the outbox (idempotency key from cause + action).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeops.connectors.klaviyo.client import KlaviyoClient
from storeops.connectors.klaviyo.models import ProfileInput
from storeops.connectors.shipbob.client import ShipbobClient
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.clock import parse_time, utcnow
from storeops.core.errors import InvalidInput, StoreopsError, VendorError
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import LIVE, OFF, DecisionRecord
from storeops.domain.orders import exceptions
from storeops.domain.orders import models as states
from storeops.domain.orders import services as orders
from storeops.domain.orders.models import Order
from storeops.domain.shops import services as shops
from storeops.engine.cursors import advance_cursor, read_cursor
from storeops.engine.inbox import EventContext, InvalidPayload, NewEvent, insert_events
from storeops.engine.models import OutboxMessage
from storeops.engine.outbox import action, emit_actions
from storeops.engine.retry import GaveUp
from storeops.engine.workflows import EngineUnavailable, schedule, sleep, start_workflow, step, workflow
from storeops.flows import orders as order_flow
from storeops.flows.context import deps
from storeops.flows.demo import connector_for

log = structlog.get_logger(__name__)

AUTOMATION = "order_routing"  # the lifecycle is part of the order automation (one mode)
PAYMENT_DUE = frozenset({"pending", "voided", "expired"})  # REST financial_status; "expired": authorization lapsed
SETTLED = frozenset({"paid", "authorized", "partially_paid", "partially_refunded", "refunded"})
CANCEL_RULE = "cancel_at_3pl@1"
PAYMENT_START_RULE = "payment_retry_start@1"
PAYMENT_REMINDER_RULE = "payment_reminder@1"
PAYMENT_STOP_RULE = "payment_retry_stop@1"
PAYMENT_FINAL_RULE = "payment_final@1"
CURSOR = "shopify.orders"
RECONCILE_CRON = "0 */10 * * * *"  # every 10 minutes (six fields, seconds first)
CANCEL_FINAL, EXCEPTION_FINAL = "cancel", "exception"
# ShipBob statuses of a cancel answer that mean "done" (every shipment stopped).
_CANCELLED = "Cancelled"


# --- per-shop payment policy ------------------------------------------------------------


@dataclass(frozen=True)
class PaymentPolicy:
    """What happens to an unpaid order: a reminder after each interval, then, `grace_s`
    after the last one, cancel it in Shopify (restocking) or leave it to a person."""

    intervals_s: tuple[float, ...] = (3600.0, 86400.0, 259200.0)  # 1 h, 24 h, 72 h
    grace_s: float = 86400.0
    final: str = CANCEL_FINAL  # "cancel" | "exception"
    restock: bool = True

    def __post_init__(self) -> None:
        if not self.intervals_s or any(s <= 0 for s in self.intervals_s) or self.grace_s < 0:
            raise InvalidInput("intervals must be positive seconds (at least one) and grace_s >= 0",
                               field="intervals_s")
        if self.final not in (CANCEL_FINAL, EXCEPTION_FINAL):
            raise InvalidInput("final must be 'cancel' or 'exception'", field="final")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "intervals_s": list(self.intervals_s)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaymentPolicy:
        return cls(intervals_s=tuple(float(s) for s in data["intervals_s"]), grace_s=float(data["grace_s"]),
                   final=str(data["final"]), restock=bool(data["restock"]))

    @classmethod
    def parse(cls, data: object) -> PaymentPolicy:
        """A merchant's JSON (fields left out keep their defaults); InvalidInput names the field."""
        if not isinstance(data, dict):
            raise InvalidInput("the payment policy is an object", field="policy")
        unknown = set(data) - {"intervals_s", "grace_s", "final", "restock"}
        if unknown:
            raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
        default = cls()
        intervals = data.get("intervals_s", list(default.intervals_s))
        if not isinstance(intervals, list) or not all(_seconds(v) for v in intervals):
            raise InvalidInput("intervals_s must be a list of seconds", field="intervals_s")
        grace = data.get("grace_s", default.grace_s)
        if not _seconds(grace) or grace < 0:  # type: ignore[operator]
            raise InvalidInput("grace_s must be seconds (0 or more)", field="grace_s")
        restock = data.get("restock", default.restock)
        if not isinstance(restock, bool):
            raise InvalidInput("restock must be true or false", field="restock")
        return cls(intervals_s=tuple(float(v) for v in intervals), grace_s=float(grace),
                   final=str(data.get("final", default.final)), restock=restock)


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def set_payment_policy(session: Session, shop_id: str, policy: PaymentPolicy, by: str = "admin", *,
                       expected_version: int | None = None) -> int:
    """Store the shop's policy (a new version) for sequences started from now on; a running
    sequence keeps the policy it started with (it is part of the workflow's recorded input).
    Every worker reads it from the database, so it holds across restarts and processes."""
    return orders.save_rule_set(session, shop_id, orders.PAYMENT, policy.as_dict(), by,
                                lambda _body, version: version, expected_version=expected_version)


def payment_policy(session: Session) -> tuple[PaymentPolicy, int]:
    """The shop's policy and its version (the default, version 0, until one is saved)."""
    body, version = orders.rule_set(session, orders.PAYMENT)
    return (PaymentPolicy() if body is None else PaymentPolicy.from_dict(body)), version


# --- shared helpers ------------------------------------------------------------------------


def _subject(order_id: str) -> str:
    return f"order:{order_id}"


def _prior(session: Session, order_id: str, rule: str, step_no: object = None) -> DecisionRecord | None:
    """The decision already recorded for this rule (and step): makes re-runs record nothing twice."""
    for record in decisions.for_subject(session, _subject(order_id)):
        if rule in record.rules and (step_no is None or record.outputs.get("step") == step_no):
            return record
    return None


def _note(shop_id: str, payload: dict[str, Any], key: str, status: str, result: dict[str, Any]) -> None:
    db, _ = deps()
    if payload.get("decision_id") is None:
        return
    with db.session(shop_id) as session:
        decisions.note_emitted_result(session, payload, key, result, status)


# --- cancellation ---------------------------------------------------------------------------


def on_order_cancelled(ctx: EventContext, order: Order) -> None:
    """The order was cancelled in Shopify (a newer snapshot than ours said so). Runs once per
    order: a duplicate, reordered or later snapshot of the cancelled order finds the decision."""
    session = ctx.session
    if _prior(session, order.external_id, CANCEL_RULE) is not None:
        return
    # Holds waiting on a person (address, risk, payment, ...) have nothing left to decide.
    for row in exceptions.list_exceptions(session, status="unresolved", order=order.external_id):
        if row.kind != exceptions.CANCEL_FAILED:
            exceptions.resolve_exception(session, row, exceptions.CANCELLED, "system", "order cancelled in Shopify")
    mode = decisions.mode_for(session, ctx.shop_id, AUTOMATION)
    if mode == OFF:
        return
    routed = [r for r in decisions.for_subject(session, _subject(order.external_id))
              if any(a.get("target") == "shipbob.create_order" for a in r.intended_actions)]
    references = [a["payload"]["reference_id"] for r in routed for a in r.intended_actions
                  if a.get("target") == "shipbob.create_order"]
    create_keys = [a["key"] for r in routed for a in r.actions_taken if a.get("target") == "shipbob.create_order"]
    intended: list[dict[str, Any]] = []
    if references:
        intended.append({"target": "shipbob.cancel_order", "cause": f"order_cancel:{order.external_id}",
                         "payload": {"order_id": order.external_id, "order_name": order.name,
                                     "reference_ids": references, "create_keys": create_keys}})
    reached = bool(create_keys)  # routing sent it to ShipBob (live); shadow routing sent nothing
    record = decisions.record(
        session, ctx.shop_id, subject=_subject(order.external_id), automation=AUTOMATION, mode=mode,
        inputs={"cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
                "financial_status": order.financial_status, "shipbob_order_id": order.shipbob_order_id,
                "shipbob_status": order.shipbob_status, "references": references},
        rules=[CANCEL_RULE],
        outputs={"cancel_at_shipbob": bool(references), "reached_shipbob": reached},
        intended_actions=intended, actions_taken=[], cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")
    if mode == LIVE and reached and intended:
        record.actions_taken = emit_actions(session, ctx.shop_id, record.id, intended)


class NotCreatedYet(VendorError):
    """The ShipBob order is still on its way (its create action has not finished): try again."""


def _creates_pending(shop_id: str, keys: Iterable[str]) -> bool:
    keys = list(keys)
    if not keys:
        return False
    db, _ = deps()
    with db.session(shop_id) as session:
        found = session.scalars(select(OutboxMessage.status).where(OutboxMessage.idempotency_key.in_(keys))).all()
    return any(status not in ("done", "failed") for status in found)


@action("shipbob.cancel_order", queue=order_flow.SHIPBOB_QUEUE.name)
def shipbob_cancel_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """Cancel every ShipBob order of the Shopify order (one per fulfillment center).

    Safe to run again: an order ShipBob already shows Cancelled is not cancelled twice.
    ShipBob answers 200 with status Failure / PartialSuccess when a shipment has a label
    (POST /2026-01/order/{id}:cancel, canceled_shipment_results); that, or a 4xx refusal,
    opens a cancel_failed exception: the parcel is leaving and a person must intercept it."""
    db, box = deps()
    outcomes: list[dict[str, Any]] = []
    with closing(connector_for(db, box, shop_id, "shipbob")) as connector:
        client = cast(ShipbobClient, connector)
        for reference in payload["reference_ids"]:
            found = client.find_order(reference)
            if found is None:
                if _creates_pending(shop_id, payload.get("create_keys") or []):
                    # 423 is retried by the engine's policy (errors.HTTP_TABLE "resource locked").
                    raise NotCreatedYet("shipbob", f"order {reference} is still being created", status=423)
                outcomes.append({"reference_id": reference, "outcome": "not_found"})
                continue
            if found.get("status") == _CANCELLED:
                outcomes.append({"reference_id": reference, "shipbob_order_id": str(found["id"]),
                                 "outcome": "already_cancelled"})
                continue
            try:
                answer = client.cancel_order(int(found["id"]))
            except VendorError as exc:
                if exc.status not in (400, 409, 422):
                    raise
                outcomes.append({"reference_id": reference, "shipbob_order_id": str(found["id"]),
                                 "outcome": "refused", "reasons": [exc.message]})
                continue
            failed = [r for r in answer.get("canceled_shipment_results") or [] if not r.get("is_success")]
            outcomes.append({"reference_id": reference, "shipbob_order_id": str(found["id"]),
                             "outcome": "cancelled" if not failed else "refused",
                             "status": answer.get("status"),
                             "reasons": [str(r.get("reason") or "") for r in failed]})
    refused = [o for o in outcomes if o["outcome"] == "refused"]
    result: dict[str, Any] = {"orders": outcomes}
    with db.session(shop_id) as session:
        order = orders.find(session, str(payload["order_id"]))
        if order is not None and any(o["outcome"] in ("cancelled", "already_cancelled") for o in outcomes):
            order.shipbob_status = _CANCELLED if not refused else order.shipbob_status
        if refused:
            reasons = "; ".join(r for o in refused for r in o.get("reasons") or []) or "ShipBob refused"
            row = exceptions.open_exception(
                session, shop_id, order if order is not None else str(payload["order_id"]),
                exceptions.CANCEL_FAILED,
                f"Cancelled in Shopify but ShipBob could not stop it: {reasons}"[:500],
                {"decision_id": payload.get("decision_id"), "shipbob": refused,
                 "suggested": ["intercept the parcel with the carrier", "start a return when it arrives"]})
            result["exception_id"] = row.id
        decisions.note_emitted_result(session, payload, key, result, "refused" if refused else "done")
    return result


# --- unpaid orders: the retry sequence ----------------------------------------------------------


def payment_workflow_id(shop_id: str, order_id: str) -> str:
    return f"payment-retry:{shop_id}:{order_id}"


def on_payment_due(ctx: EventContext, order: Order) -> None:
    """An order we have not released whose payment is pending, voided or expired: decide
    (once) to run the shop's reminder sequence, and start it."""
    if (order.financial_status or "") not in PAYMENT_DUE or order.status == states.CANCELLED:
        return
    session = ctx.session
    started = _prior(session, order.external_id, PAYMENT_START_RULE)
    if started is not None:
        _start_sequence(ctx.shop_id, order.external_id, PaymentPolicy.from_dict(started.outputs["policy"]))
        return
    mode = decisions.mode_for(session, ctx.shop_id, AUTOMATION)
    if mode == OFF:
        return
    policy, version = payment_policy(session)
    workflow_id = payment_workflow_id(ctx.shop_id, order.external_id)
    decisions.record(
        session, ctx.shop_id, subject=_subject(order.external_id), automation=AUTOMATION, mode=mode,
        inputs={"financial_status": order.financial_status, "total": order.total, "currency": order.currency,
                "has_email": bool(order.email)},
        rules=[PAYMENT_START_RULE, f"payment_policy@{version}"],
        outputs={"sequence": workflow_id, "policy": policy.as_dict()},
        intended_actions=[{"target": "workflow:orders.payment_retry", "payload": {"workflow_id": workflow_id}}],
        actions_taken=[], cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")
    _start_sequence(ctx.shop_id, order.external_id, policy)


def _start_sequence(shop_id: str, order_id: str, policy: PaymentPolicy) -> None:
    """Start the order's sequence; its id is derived from the order, so a handler that runs
    again (a retried inbox batch, the sweep) finds the one already started.

    Started from the inbox transaction before it commits: the workflow's first act is a
    durable sleep, and it reads the order only afterwards (an order whose transaction rolled
    back is not found, and the sequence ends). DBOS keeps its state in its own database."""
    try:
        start_workflow(payment_retry, shop_id, order_id, policy.as_dict(),
                       workflow_id=payment_workflow_id(shop_id, order_id))
    except EngineUnavailable as exc:
        # No engine in this process (a tool processing the inbox): the sweep starts it.
        log.warning("payment retry sequence not started", order=order_id, error=str(exc))


STOP, GO = "stop", "go"


@workflow(name="orders.payment_retry")
def payment_retry(shop_id: str, order_id: str, policy_data: dict[str, Any]) -> str:
    policy = PaymentPolicy.from_dict(policy_data)
    attempts = len(policy.intervals_s)
    for attempt, wait in enumerate(policy.intervals_s, start=1):
        sleep(wait)
        if _payment_reminder(shop_id, order_id, attempt, attempts) == STOP:
            return "stopped"
    sleep(policy.grace_s)
    return _payment_final(shop_id, order_id, policy.as_dict()) or "failed"


def _settled(order: Order | None) -> str | None:
    """Why the sequence has nothing left to do, or None."""
    if order is None:
        return "unknown order"
    if order.status == states.CANCELLED or order.cancelled_at is not None:
        return "cancelled"
    if (order.financial_status or "") in SETTLED:
        return f"payment {order.financial_status}"
    if order.decided_at is not None:
        return "released"
    return None


def _record_stop(session: Session, shop_id: str, order: Order | None, order_id: str, reason: str,
                 mode: str) -> None:
    if order is None or _prior(session, order_id, PAYMENT_STOP_RULE) is not None:
        return
    decisions.record(session, shop_id, subject=_subject(order_id), automation=AUTOMATION, mode=mode,
                     inputs={"financial_status": order.financial_status, "status": order.status},
                     rules=[PAYMENT_STOP_RULE], outputs={"stopped": reason}, intended_actions=[],
                     actions_taken=[], cause=f"workflow:{payment_workflow_id(shop_id, order_id)}")


@step(name="orders.payment_reminder")
def _payment_reminder(shop_id: str, order_id: str, attempt: int, attempts: int) -> str:
    db, _ = deps()
    with db.session(shop_id) as session:
        # Locked: a step run twice at once (a recovered workflow beside the run it replaces)
        # must find the other's decision, not record a second one.
        order = orders.find(session, order_id, lock=True)
        if order is None:
            # Not committed (yet): the transaction that started us may be retried. Later
            # steps look again; with no order ever, the sequence ends doing nothing.
            return GO
        mode = decisions.mode_for(session, shop_id, AUTOMATION)
        reason = _settled(order) or ("automation off" if mode == OFF else None)
        if reason is not None:
            _record_stop(session, shop_id, order, order_id, reason, mode)
            return STOP
        if _prior(session, order_id, PAYMENT_REMINDER_RULE, attempt) is not None:
            return GO  # this step ran before a crash and committed: nothing twice
        intended = []
        if order.email:
            intended.append({"target": "klaviyo.payment_reminder", "cause": f"payment_retry:{order_id}:{attempt}",
                             "payload": {"order_id": order_id, "email": order.email, "name": order.name,
                                         "total": order.total, "currency": order.currency, "attempt": attempt,
                                         "attempts": attempts, "financial_status": order.financial_status}})
        record = decisions.record(
            session, shop_id, subject=_subject(order_id), automation=AUTOMATION, mode=mode,
            inputs={"financial_status": order.financial_status, "attempt": attempt, "attempts": attempts},
            rules=[PAYMENT_REMINDER_RULE], outputs={"step": attempt, "reminder": bool(intended)},
            intended_actions=intended, actions_taken=[],
            cause=f"workflow:{payment_workflow_id(shop_id, order_id)}")
        if mode == LIVE and intended:
            record.actions_taken = emit_actions(session, shop_id, record.id, intended)
    return GO


@step(name="orders.payment_final")
def _payment_final(shop_id: str, order_id: str, policy_data: dict[str, Any]) -> str:
    policy = PaymentPolicy.from_dict(policy_data)
    db, _ = deps()
    with db.session(shop_id) as session:
        order = orders.find(session, order_id, lock=True)  # as in _payment_reminder
        mode = decisions.mode_for(session, shop_id, AUTOMATION)
        reason = _settled(order) or ("automation off" if mode == OFF else None)
        if reason is not None:
            _record_stop(session, shop_id, order, order_id, reason, mode)
            return "stopped"
        assert order is not None
        done = _prior(session, order_id, PAYMENT_FINAL_RULE)
        if done is not None:
            return str(done.outputs.get("final"))
        intended: list[dict[str, Any]] = []
        if policy.final == CANCEL_FINAL:
            intended.append({"target": "shopify.cancel_order", "cause": f"payment_retry:{order_id}:final",
                             "payload": {"order_id": order_id, "gid": order.gid, "reason": "DECLINED",
                                         "restock": policy.restock}})
        else:
            intended.append({"target": "exception:payment", "payload": {"order_id": order_id}})
        record = decisions.record(
            session, shop_id, subject=_subject(order_id), automation=AUTOMATION, mode=mode,
            inputs={"financial_status": order.financial_status, "attempts": len(policy.intervals_s),
                    "policy": policy.as_dict()},
            rules=[PAYMENT_FINAL_RULE], outputs={"step": "final", "final": policy.final},
            intended_actions=intended, actions_taken=[],
            cause=f"workflow:{payment_workflow_id(shop_id, order_id)}")
        if mode == LIVE:
            if policy.final == CANCEL_FINAL:
                record.actions_taken = emit_actions(session, shop_id, record.id, intended)
            else:
                row = exceptions.open_exception(
                    session, shop_id, order, exceptions.PAYMENT,
                    f"Unpaid ({order.financial_status}) after {len(policy.intervals_s)} reminders",
                    {"decision_id": record.id, "financial_status": order.financial_status,
                     "suggested": ["cancel the order in Shopify", "wait: the customer promised to pay"]})
                record.actions_taken = [{"target": "exception:payment", "key": f"exception:{row.id}",
                                         "status": "done", "result": {"exception_id": row.id}}]
    return policy.final


@action("klaviyo.payment_reminder", queue=order_flow.KLAVIYO_QUEUE.name)
def klaviyo_payment_reminder(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = deps()
    unique_id = f"payment-failed:{payload['order_id']}:{payload['attempt']}"
    with closing(connector_for(db, box, shop_id, "klaviyo")) as client:
        cast(KlaviyoClient, client).track_event(
            "Payment Failed", ProfileInput(email=payload["email"]),
            {"OrderId": payload["order_id"], "OrderName": payload.get("name"), "Attempt": payload["attempt"],
             "Attempts": payload["attempts"], "FinancialStatus": payload.get("financial_status")},
            unique_id=unique_id, value=Decimal(payload["total"]), value_currency=payload.get("currency"))
    result = {"metric": "Payment Failed", "unique_id": unique_id}
    _note(shop_id, payload, key, "done", result)
    return result


@action("shopify.cancel_order", queue=order_flow.SHOPIFY_QUEUE.name)
def shopify_cancel_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """orderCancel (no refund: nothing was paid), unless Shopify says the order is paid or
    cancelled by now. Already cancelled counts as done; any other refusal (e.g. fulfilled
    items) opens a payment exception for a person."""
    db, box = deps()
    outcome, message = "cancelled", None
    with closing(connector_for(db, box, shop_id, "shopify")) as connector:
        client = cast(ShopifyClient, connector)
        # Shopify's word, not our copy: a payment that arrived since the decision (its
        # webhook still on the way) must not be cancelled without a refund.
        current = client.get_order(payload["gid"])
        if current.cancelled_at is not None:
            outcome = "already_cancelled"
        elif (current.financial_status or "").lower() not in PAYMENT_DUE:
            outcome, message = "settled", f"financial status is {current.financial_status}"
        else:
            try:
                client.cancel_order(payload["gid"], reason=payload["reason"], restock=bool(payload["restock"]),
                                    refund=False)
            except VendorError as exc:
                if exc.status != 422:
                    raise
                outcome = "already_cancelled" if "already been cancelled" in exc.message else "refused"
                message = exc.message
    result: dict[str, Any] = {"outcome": outcome, "message": message}
    if outcome == "refused":
        with db.session(shop_id) as session:
            row = exceptions.open_exception(session, shop_id, str(payload["order_id"]), exceptions.PAYMENT,
                                            f"Unpaid, and Shopify refused to cancel it: {message}"[:500],
                                            {"decision_id": payload.get("decision_id")})
            result["exception_id"] = row.id
    _note(shop_id, payload, key, "refused" if outcome == "refused" else "done", result)
    return result


# Shopify's OrderCancelReason values.
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF")


@action("orders.cancel_order", queue=order_flow.SHOPIFY_QUEUE.name)
def customer_cancel_order(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """A customer asked to cancel (the support flow promised it), or a person cancelled the
    order from its exception (payload `reason`): only before the order left the warehouse.
    Shopify cancels it with a refund to the original payment and a restock;
    its orders/cancelled webhook then cancels the ShipBob order (on_order_cancelled), and a
    ShipBob refusal there (it shipped meanwhile) opens a cancel_failed exception. An order
    we already know shipped is not cancelled: a person gets a cancel_failed exception."""
    db, box = deps()
    order_id = str(payload["order_id"])
    with db.session(shop_id) as session:
        order = orders.find(session, order_id)
        if order is None:
            raise InvalidInput(f"no order {order_id}", field="order_id")
        gid, shipped = order.gid, order.status in (states.SHIPPED, states.DELIVERED) or bool(order.tracking_number)
        if shipped:
            row = exceptions.open_exception(
                session, shop_id, order_id, exceptions.CANCEL_FAILED,
                f"The customer asked to cancel ({payload.get('source') or 'support'}), but the order has shipped",
                {"decision_id": payload.get("decision_id"), "source": payload.get("source")})
            result: dict[str, Any] = {"outcome": "shipped", "exception_id": row.id}
    if shipped:
        _note(shop_id, payload, key, "refused", result)
        return result
    with closing(connector_for(db, box, shop_id, "shopify")) as connector:
        client = cast(ShopifyClient, connector)
        current = client.get_order(gid or f"gid://shopify/Order/{order_id}")
        if current.cancelled_at is not None:
            result = {"outcome": "already_cancelled"}
        else:
            reason = str(payload.get("reason") or "CUSTOMER")
            client.cancel_order(current.id, reason=reason if reason in CANCEL_REASONS else "OTHER", restock=True,
                                refund=True)
            result = {"outcome": "cancelled"}
    _note(shop_id, payload, key, "done", result)
    return result


# --- refunds ---------------------------------------------------------------------------------


def _amount(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal("0")
    except InvalidOperation:
        return Decimal("0")


def on_shopify_refund(ctx: EventContext) -> None:
    """refunds/create: keep the order's refunds (by refund id: a duplicate changes nothing)
    and, when the refund is newer than the snapshot we hold, its financial status. A refund
    at or before our snapshot's updated_at is already in it (Shopify sends orders/updated
    with the refund), so only the refunds after it count against the snapshot's total."""
    data = ctx.payload
    if not isinstance(data, dict) or data.get("order_id") is None or data.get("id") is None:
        raise InvalidPayload("refunds/create payload must be an object with id and order_id")
    order = ctx.session.scalar(select(Order).where(Order.external_id == str(data["order_id"])).with_for_update())
    if order is None:
        return  # an order we never saw: the reconciliation sweep brings it with its refunds
    ledger = dict((order.checks or {}).get("refunds") or {})
    refund_id = str(data["id"])
    if refund_id in ledger:
        return
    stamp = parse_time(data.get("processed_at")) or parse_time(data.get("created_at"))
    amount = sum((_amount(t.get("amount")) for t in data.get("transactions") or []
                  if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") == "success"),
                 Decimal("0"))
    ledger[refund_id] = {"amount": str(amount), "at": stamp.isoformat() if stamp else None}
    order.checks = {**(order.checks or {}), "refunds": ledger}
    held = order.source_updated_at
    if held is not None and held.tzinfo is None:
        held = held.replace(tzinfo=UTC)
    if stamp is None or (held is not None and stamp <= held):
        return
    after = sum((_amount(r["amount"]) for r in ledger.values()
                 if r.get("at") and (held is None or datetime.fromisoformat(r["at"]) > held)), Decimal("0"))
    if after > 0:
        order.financial_status = "refunded" if after >= _amount(order.total) else "partially_refunded"


# --- reconciliation sweep ----------------------------------------------------------------------


def _legacy(gid: object) -> str | None:
    return str(gid).rsplit("/", 1)[-1] if gid else None


def _money(bag: Any) -> Decimal:
    return _amount(((bag or {}).get("shopMoney") or {}).get("amount"))


_FULFILLMENT = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}


def snapshot_of(node: dict[str, Any]) -> dict[str, Any]:
    """A GraphQL Order node (documents.ORDERS) in the shape of the orders/* webhook body,
    the fields domain.orders.services.apply_shopify_order and the customer upsert read."""
    address = node.get("shippingAddress") or None
    customer = node.get("customer") or None
    total, refunded = _money(node.get("totalPriceSet")), _money(node.get("totalRefundedSet"))
    shipping = node.get("shippingLine") or None
    return {
        "id": int(node["legacyResourceId"]), "admin_graphql_api_id": node["id"], "name": node.get("name"),
        "email": node.get("email"), "currency": node.get("currencyCode"),
        "total_price": str(total), "current_total_price": str(max(Decimal("0"), total - refunded)),
        "financial_status": (node.get("displayFinancialStatus") or "").lower() or None,
        "fulfillment_status": _FULFILLMENT.get(str(node.get("displayFulfillmentStatus"))),
        "cancelled_at": node.get("cancelledAt"), "updated_at": node.get("updatedAt"),
        "created_at": node.get("createdAt"), "tags": ", ".join(node.get("tags") or []),
        "shipping_lines": [{"title": shipping.get("title"), "code": shipping.get("code")}] if shipping else [],
        "customer": {"id": int(_legacy(customer["id"]) or 0),
                     "email": (customer.get("defaultEmailAddress") or {}).get("emailAddress"),
                     "first_name": customer.get("firstName"), "last_name": customer.get("lastName")}
        if customer else None,
        "shipping_address": None if address is None else {
            "first_name": address.get("firstName"), "last_name": address.get("lastName"),
            "name": " ".join(p for p in (address.get("firstName"), address.get("lastName")) if p),
            "company": address.get("company"), "address1": address.get("address1"),
            "address2": address.get("address2"), "city": address.get("city"), "province": address.get("province"),
            "province_code": address.get("provinceCode"), "zip": address.get("zip"),
            "country_code": address.get("countryCodeV2"), "phone": address.get("phone")},
        # GraphQL line items carry no weight: grams stay 0 (routing then prices by zone only).
        "line_items": [{"id": int(_legacy(li["id"]) or 0), "sku": li.get("sku"), "name": li.get("name"),
                        "quantity": li.get("quantity"), "current_quantity": li.get("currentQuantity"),
                        "price": str(_money(li.get("originalUnitPriceSet"))), "grams": 0,
                        "requires_shipping": True}
                       for li in (node.get("lineItems") or {}).get("nodes") or []],
    }


@dataclass
class ReconcileResult:
    shop_id: str
    first_run: bool = False
    seen: int = 0  # orders Shopify reported changed since the watermark
    fed: int = 0  # new inbox events (orders we lacked or held older)
    duplicates: int = 0  # events the inbox already had (an earlier sweep fed them)
    watermark: str | None = None
    error: str | None = None
    orders: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reconcile_shop(db: Database, box: Any, shop_id: str) -> ReconcileResult:
    """One sweep of one shop. The first sweep only sets the watermark to now: orders from
    before storeops watched the shop are not ours to route (they may be fulfilled already)."""
    result = ReconcileResult(shop_id)
    with db.session(shop_id) as session:
        mark = read_cursor(session, CURSOR)
        if mark is None:
            result.first_run, result.watermark = True, _stamp(utcnow())
            advance_cursor(session, shop_id, CURSOR, result.watermark)
            return result
    since = parse_time(mark)
    with closing(connector_for(db, box, shop_id, "shopify")) as client:
        nodes = list(cast(ShopifyClient, client).list_order_nodes(since))
    snapshots = [snapshot_of(n) for n in nodes]
    result.seen = len(snapshots)
    with db.session(shop_id) as session:
        ids = [str(s["id"]) for s in snapshots]
        held = dict(session.execute(select(Order.external_id, Order.source_updated_at)
                                    .where(Order.external_id.in_(ids))).tuples().all()) if ids else {}
    feed = []
    for snap in snapshots:
        stamp = parse_time(snap["updated_at"])
        ours = held.get(str(snap["id"]))
        if ours is not None and ours.tzinfo is None:
            ours = ours.replace(tzinfo=UTC)
        if stamp is None or (ours is not None and ours >= stamp):
            continue  # we hold this version or a newer one
        topic = "orders/cancelled" if snap.get("cancelled_at") else "orders/updated"
        feed.append(NewEvent(shop_id, "shopify", f"reconcile:{snap['id']}:{snap['updated_at']}", topic,
                             {"x-storeops-source": "reconcile", "x-shopify-topic": topic},
                             json.dumps(snap, separators=(",", ":")).encode()))
    stored = insert_events(db, feed) if feed else []
    result.fed = sum(stored)
    result.duplicates = len(stored) - result.fed
    result.orders = [e.event_id.split(":")[1] for e, new in zip(feed, stored, strict=True) if new]
    stamps = [t for t in (parse_time(s["updated_at"]) for s in snapshots) if t is not None]
    result.watermark = _stamp(max(stamps)) if stamps else mark
    with db.session(shop_id) as session:
        advance_cursor(session, shop_id, CURSOR, str(result.watermark))
    return result


def shops_to_sweep(db: Database) -> list[str]:
    with db.system_session() as session:
        return [s.id for s in shops.list_shops(session) if "shopify.access_token" in s.credentials]


@step(name="orders.reconcile_shop")
def _reconcile_step(shop_id: str) -> dict[str, Any]:
    db, box = deps()
    try:
        return reconcile_shop(db, box, shop_id).as_dict()
    except (StoreopsError, GaveUp) as exc:  # one shop's failure must not stop the others
        log.warning("order reconciliation failed", shop=shop_id, error=str(exc))
        return ReconcileResult(shop_id, error=str(exc)).as_dict()


@step(name="orders.unstarted_sequences")
def _unstarted_sequences(shop_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Unpaid orders whose sequence was decided: the sweep (re)starts them (same id)."""
    db, _ = deps()
    with db.session(shop_id) as session:
        waiting = session.scalars(select(Order.external_id).where(
            Order.financial_status.in_(sorted(PAYMENT_DUE)), Order.cancelled_at.is_(None),
            Order.decided_at.is_(None))).all()
        found = []
        for order_id in waiting:
            record = _prior(session, order_id, PAYMENT_START_RULE)
            if record is not None:
                found.append((order_id, dict(record.outputs["policy"])))
    return found


@step(name="orders.shops_to_sweep")
def _shops_step() -> list[str]:
    db, _ = deps()
    return shops_to_sweep(db)


@schedule("orders.reconcile", RECONCILE_CRON)
def reconcile_sweep(scheduled_at: datetime, context: Any) -> list[dict[str, Any] | None]:
    results = []
    for shop_id in _shops_step() or []:
        results.append(_reconcile_step(shop_id))
        for order_id, policy in _unstarted_sequences(shop_id) or []:
            _start_sequence(shop_id, order_id, PaymentPolicy.from_dict(policy))
    return results
