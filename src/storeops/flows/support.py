"""Support automation ("support_replies"): triage, customer 360, routing, escalation, grounded replies.

    Gorgias ticket-created | ticket-message-created (HTTP integration -> inbox)
        -> SupportTicket row, outbox "support.handle_message" (the handler makes no HTTP call:
           it runs inside the inbox transaction)
    support.handle_message (a durable outbox workflow)
        -> the ticket as Gorgias holds it (GET /api/tickets/{id}: the customer and the
           messages come from Gorgias, never from the webhook body)
        -> CustomerRecord from our tables (customers, orders, order exceptions, returns if
           any) + ShipBob tracking for a routed order we have no tracking for
        -> triage (ai/triage) -> plan_ticket (domain/support, pure) -> DecisionRecord
        -> an order of this customer waiting for consent to a substitute: the message is read
           as the answer (order_exceptions.answer_consent) and a bare answer is acknowledged
        -> live:   gorgias.update_ticket (tags, priority, team, assignee), gorgias.reply
                   (routine intents only) or an internal note with the escalation reasons
           shadow: internal notes only (the 360 summary, the draft reply and the reasons);
                   tags, priority, assignee and the reply stay intended actions
           off:    nothing
    every new ticket also gets the 360 summary as an internal note (live and shadow)
    SLA sweep (scheduled): unanswered tickets past sla_due_at -> priority critical + tag

Injection safety is structural: the reply's recipient is the ticket's customer id from the
Gorgias API, reply text comes from templates filled from that customer's record, and the
only actions a reply may promise are the policy-checked ones in planner.CAPABILITIES.
"""

from __future__ import annotations

import importlib
import inspect
import re
import threading
from contextlib import closing
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storeops.ai.replies import PolishError, ReplyPolisher
from storeops.ai.triage import CustomerHistory, Triage, load_default_model
from storeops.connectors.gorgias.client import GorgiasClient
from storeops.connectors.gorgias.models import Ticket as GorgiasTicket
from storeops.connectors.shipbob.client import ShipbobClient
from storeops.core.clock import as_utc, utcnow
from storeops.core.errors import InvalidInput, VendorError
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.customers.models import Customer
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import LIVE, OFF, SHADOW
from storeops.domain.orders.consent import NO as CONSENT_NO
from storeops.domain.orders.consent import YES as CONSENT_YES
from storeops.domain.orders.consent import read_consent
from storeops.domain.orders.exceptions import OrderException
from storeops.domain.orders.models import Order
from storeops.domain.shops import services as shops
from storeops.domain.support import replies
from storeops.domain.support import services as support
from storeops.domain.support.grounding import fact_check
from storeops.domain.support.models import (
    DRAFT_KIND,
    DRAFTED,
    ESCALATED,
    REPLIED,
    REPLY_KIND,
    SENT,
    SupportTicket,
    TicketReply,
)
from storeops.domain.support.planner import CAPABILITIES, ESCALATE, MISSING_CAPABILITY, REPLY, SupportPlan, plan_ticket
from storeops.domain.support.policy import route
from storeops.domain.support.records import CustomerRecord, OrderFact, ReturnFact, TriageView
from storeops.engine.inbox import EventContext, InvalidPayload
from storeops.engine.outbox import action, emit, emit_actions, registered_actions
from storeops.engine.workflows import QueueSpec, define_queue, schedule, step
from storeops.flows import context as flow_context
from storeops.flows import order_exceptions
from storeops.flows.context import deps
from storeops.flows.demo import WEBHOOK_SECRET, connector_for, load_credentials
from storeops.flows.orders import Run as OrderRun

log = structlog.get_logger(__name__)

AUTOMATION = "support_replies"
# Gorgias allows 40 requests per 20 s per API key; the client's shared limiter paces the
# calls themselves, the queue keeps workflows from piling up behind it.
# Known to decisions.set_mode, the Automations page and the API (as the returns flow does).
GORGIAS_QUEUE = define_queue(QueueSpec(name="gorgias", limit=40, period=20.0))
RECENT = timedelta(days=7)
MAX_ORDERS = 20
TRACKED_STATUSES = ("routed", "shadowed", "held", "new")
# Order-flow actions that would carry out what a reply promises, if another flow registers them.
# The order flow's action for each promise a reply may make (orders.cancel_order checks the
# order has not shipped, and cancels in Shopify; ShipBob follows from orders/cancelled).
PROMISE_ACTIONS = {"cancel_order": ("orders.cancel_order",)}


class _Context:
    triage: Triage | None = None


_context = _Context()
_directory: dict[tuple[str, str], dict[str, int]] = {}
_directory_lock = threading.Lock()


def load_model(triage: Triage | None = None) -> None:
    """Load the triage model now (the Worker does, so the first ticket does not wait for it)."""
    _context.triage = triage or load_default_model()


flow_context.on_configure(lambda *_: _directory.clear())


def _triage_model() -> Triage:
    if _context.triage is None:
        _context.triage = load_default_model()
    return _context.triage


def set_mode(session: Session, shop_id: str, mode: str) -> None:
    """The shop's mode for this automation (off / shadow / live)."""
    decisions.set_mode(session, shop_id, AUTOMATION, mode)


# --- inbound ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def on_gorgias_ticket_event(ctx: EventContext) -> None:
    """ticket-created / ticket-message-created: note the ticket, queue its handling."""
    data = ctx.payload
    if not isinstance(data, dict) or not isinstance(data.get("ticket"), dict):
        raise InvalidPayload(f"{ctx.event.topic} payload must be an object with a ticket")
    ticket = data["ticket"]
    ticket_id = _text(ticket.get("id"))
    if not ticket_id.isdigit():
        raise InvalidPayload(f"{ctx.event.topic}: ticket.id must be a Gorgias ticket id, got {ticket_id!r}")
    raw_message = data.get("message")
    message: dict[str, Any] = raw_message if isinstance(raw_message, dict) else {}
    if _text(message.get("from_agent")).lower() == "true" or _text(message.get("public")).lower() == "false":
        return  # our own reply or an internal note: nothing to answer
    ctx.event.subject = f"ticket:{ticket_id}"
    if decisions.mode_for(ctx.session, ctx.shop_id, AUTOMATION) == OFF:
        return
    row = support.find_ticket(ctx.session, ticket_id)
    if row is None:
        raw_customer = ticket.get("customer")
        customer: dict[str, Any] = raw_customer if isinstance(raw_customer, dict) else {}
        ctx.session.add(SupportTicket(
            shop_id=ctx.shop_id, gorgias_ticket_id=ticket_id, customer_email=_text(customer.get("email")) or None,
            channel=_text(ticket.get("channel"))[:32] or None, subject=_text(ticket.get("subject"))[:500] or None))
    message_id = _text(message.get("id"))
    emit(ctx.session, shop_id=ctx.shop_id, target="support.handle_message",
         payload={"ticket_id": ticket_id, "message_id": message_id if message_id.isdigit() else None},
         cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")


# --- the customer 360 ----------------------------------------------------------------------


def _return_facts(session: Session, order_ids: list[str]) -> tuple[ReturnFact, ...]:
    """Returns, if the returns domain has a table yet (it is being built): read defensively."""
    try:
        module = importlib.import_module("storeops.domain.returns.models")
    except ImportError:
        return ()
    model = next((getattr(module, n) for n in ("ReturnAuthorization", "ReturnRequest", "Return")
                  if hasattr(module, n)), None)
    column = getattr(model, "order_external_id", None) if model is not None else None
    if model is None or column is None or not order_ids:
        return ()
    found = []
    for row in session.scalars(select(model).where(column.in_(order_ids)).limit(20)):
        reference = getattr(row, "rma", None) or getattr(row, "reference", None) or getattr(row, "id", "")
        found.append(ReturnFact(reference=str(reference), order_number=getattr(row, "order_name", None),
                                status=str(getattr(row, "status", "")), created_at=getattr(row, "created_at", None)))
    return tuple(found)


def customer_record(session: Session, email: str) -> CustomerRecord:
    """Everything storeops holds about the customer with this email, in this shop."""
    email = email.strip().lower()
    customer = session.scalar(select(Customer).where(Customer.email == email))
    matches = [Order.email == email]
    if customer is not None:
        matches.append(Order.customer_external_id == customer.external_id)
    rows = list(session.scalars(select(Order).where(or_(*matches)).order_by(Order.created_at.desc(), Order.id.desc())
                                .limit(MAX_ORDERS)))
    orders = tuple(OrderFact(
        number=o.name or f"#{o.external_id}", external_id=o.external_id, placed_at=o.created_at,
        total=Decimal(o.total), currency=o.currency, status=o.status, financial_status=o.financial_status,
        tracking_number=o.tracking_number, tracking_company=o.tracking_company, tracking_url=o.tracking_url,
        items=tuple(str(line.get("name") or line.get("sku") or "") for line in o.lines)) for o in rows)
    spent = sum((o.total for o in orders if not o.cancelled), Decimal("0"))
    if customer is not None:
        spent = max(spent, Decimal(customer.total_spent_minor) / 100)
    ids = [o.external_id for o in orders]
    open_exceptions = len(list(session.scalars(select(OrderException.id).where(
        OrderException.order_external_id.in_(ids), OrderException.status == "open")))) if ids else 0
    since = utcnow() - RECENT
    tickets = list(session.scalars(select(SupportTicket).where(SupportTicket.customer_email == email,
                                                               SupportTicket.updated_at >= since)))
    return CustomerRecord(
        email=email, first_name=customer.first_name if customer is not None else None,
        external_id=customer.external_id if customer is not None else None, orders=orders,
        returns=_return_facts(session, ids), lifetime_value=spent.quantize(Decimal("0.01")),
        currency=(customer.currency if customer is not None and customer.currency else
                  (orders[0].currency if orders else "USD")),
        tags=tuple(t.strip() for t in (customer.tags if customer is not None else "").split(",") if t.strip()),
        open_exceptions=open_exceptions, previous_tickets=len(tickets),
        contacts_last_7_days=sum(t.messages_handled for t in tickets))


def summary_360(record: CustomerRecord, tickets: list[SupportTicket] | None = None) -> dict[str, Any]:
    """The sidebar / internal-note view of a customer (JSON-safe: money as text)."""
    return {
        "email": record.email, "name": record.first_name, "customer_id": record.external_id,
        "lifetime_value": f"{record.lifetime_value:.2f}", "currency": record.currency,
        "orders_count": len(record.orders), "tags": list(record.tags), "open_exceptions": record.open_exceptions,
        "orders": [{"number": o.number, "placed_at": o.placed_at.date().isoformat(), "total": f"{o.total:.2f}",
                    "currency": o.currency, "status": o.status, "tracking_number": o.tracking_number,
                    "carrier": o.tracking_company, "tracking_url": o.tracking_url} for o in record.orders[:10]],
        "returns": [{"reference": r.reference, "order": r.order_number, "status": r.status} for r in record.returns],
        "previous_tickets": [{"id": t.gorgias_ticket_id, "subject": t.subject, "status": t.status,
                              "intent": t.intent, "escalated": t.escalated} for t in (tickets or [])[:10]],
    }


def _note_360(record: CustomerRecord) -> str:
    lines = [f"storeops customer 360: {record.email}",
             f"Lifetime value {record.lifetime_value:.2f} {record.currency}, {len(record.orders)} orders, "
             f"{record.open_exceptions} open exceptions, {record.previous_tickets} tickets in 7 days"
             + (f", tags: {', '.join(record.tags)}" if record.tags else "")]
    for o in record.orders[:5]:
        tracking = f", tracking {o.tracking_number} ({o.tracking_company or 'carrier?'})" if o.tracking_number else ""
        lines.append(f"- {o.number} {o.placed_at.date().isoformat()} {o.total:.2f} {o.currency} {o.status}{tracking}")
    for r in record.returns[:5]:
        lines.append(f"- return {r.reference} ({r.order_number or '?'}): {r.status}")
    return "\n".join(lines)


def _shipbob_id_to_track(session: Session, record: CustomerRecord) -> str | None:
    """The ShipBob order of the newest order we routed but hold no tracking for (the
    order.shipped webhook may be late or lost)."""
    newest = record.latest_order
    if newest is None or newest.tracking_number or newest.status not in TRACKED_STATUSES:
        return None
    order = session.scalar(select(Order).where(Order.external_id == newest.external_id))
    if order is None or not order.shipbob_order_id or not order.shipbob_order_id.isdigit():
        return None
    return order.shipbob_order_id


def _refresh_tracking(shop_id: str, shipbob_order_id: str | None, record: CustomerRecord) -> CustomerRecord:
    """Ask ShipBob for the newest order's tracking. Called with no session open: connector_for
    opens its own, and SQLite's single writer would wait for ours. Best effort: the record
    stays as it was on error."""
    newest = record.latest_order
    if shipbob_order_id is None or newest is None:
        return record
    db, box = deps()
    try:
        with closing(connector_for(db, box, shop_id, "shipbob")) as client:
            found = cast(ShipbobClient, client).get_order(int(shipbob_order_id))
    except (VendorError, OSError) as exc:
        log.warning("shipbob tracking lookup failed", shop=shop_id, order=newest.external_id, error=str(exc))
        return record
    for shipment in found.get("shipments") or []:
        tracking = shipment.get("tracking") if isinstance(shipment, dict) else None
        if isinstance(tracking, dict) and tracking.get("tracking_number"):
            fresh = replace(newest, tracking_number=str(tracking["tracking_number"]),
                            tracking_company=_text(tracking.get("carrier")) or None,
                            tracking_url=_text(tracking.get("tracking_url")) or None)
            return replace(record, orders=(fresh, *record.orders[1:]))
    return record


# --- deciding ----------------------------------------------------------------------------------


def capabilities() -> frozenset[str]:
    """The promised actions storeops can carry out in this process."""
    found = set()
    actions = registered_actions()
    for name, targets in PROMISE_ACTIONS.items():
        if any(t in actions for t in targets):
            found.add(name)
    if _request_return() is not None:
        found.add("start_return")
    return frozenset(found) & frozenset(CAPABILITIES)


def _request_return() -> Any:
    """storeops.flows.returns.request_return, if that flow exists in this build."""
    try:
        module = importlib.import_module("storeops.flows.returns")
    except ImportError:
        return None
    fn = getattr(module, "request_return", None)
    if fn is None or not {"lines", "reason", "source", "source_ref"} <= set(inspect.signature(fn).parameters):
        return None  # a signature we do not know how to call: escalate instead of guessing
    return fn


_RETURN_REASONS = (
    ("size_too_small", re.compile(r"too (small|tight|short)|smaller|runs small", re.I)),
    ("size_too_large", re.compile(r"too (big|large|loose|long)|bigger|runs (big|large)", re.I)),
    ("defective", re.compile(r"broken|defect|damaged|faulty|torn|ripped|stopped working", re.I)),
    ("not_as_described", re.compile(r"not as described|different from|not what (i|was)", re.I)),
    ("color", re.compile(r"colou?r", re.I)),
    ("style", re.compile(r"\bstyle\b|don'?t like (the|how)", re.I)),
)


def return_reason(text: str) -> str:
    """The returns policy's reason code for a message (it only picks among the policy's codes)."""
    return next((code for code, pattern in _RETURN_REASONS if pattern.search(text)), "other")


def _start_return(session: Session, shop_id: str, plan: SupportPlan, ticket: GorgiasTicket, text: str,
                  cause: str) -> str | None:
    """Ask the returns flow for a return of the ticket's order. None: approved (the reply's
    promise holds); otherwise why a person must answer instead."""
    fn = _request_return()
    if fn is None or plan.order is None:
        return MISSING_CAPABILITY["start_return"]
    order = session.scalar(select(Order).where(Order.external_id == plan.order.external_id))
    lines = order.lines if order is not None else []
    if len(lines) != 1:
        return (f"starting a return needs a person: order {plan.order.number} has {len(lines)} items and "
                "storeops does not guess which ones")
    line = lines[0]
    try:
        request = fn(session, shop_id, plan.order.external_id,
                     [{"line_id": line.get("line_id"), "quantity": int(line.get("quantity") or 1)}],
                     return_reason(text), source="gorgias", source_ref=str(ticket.id), cause=cause)
    except InvalidInput as exc:
        return f"the return request was refused: {exc}"
    if request.status in ("approved", "label_issued"):
        return None
    why = "; ".join(str(r) for r in ((request.eligibility or {}).get("reasons") or []))
    return f"return request {request.id} is {request.status}" + (f": {why}"[:400] if why else "")


def triage_view(result: Any, version: str) -> TriageView:
    return TriageView(intent=result.intent, confidence=float(result.confidence), urgency=result.urgency,
                      frustration=float(result.frustration), out_of_scope=bool(result.out_of_scope),
                      language=result.language, threats=tuple(result.threats), model_version=version)


def decide_message(text: str, record: CustomerRecord, rules: list[dict[str, Any]], policy: Any,
                   caps: frozenset[str] | None = None) -> tuple[TriageView, SupportPlan]:
    """Triage + plan for one message: the whole decision without I/O (tests run it directly)."""
    model = _triage_model()
    history = CustomerHistory(contacts_last_7_days=record.contacts_last_7_days,
                              open_exceptions=record.open_exceptions,
                              days_shipment_late=record.days_late(utcnow(), policy.delivery_days))
    view = triage_view(model.classify(text, history), model.version)
    return view, plan_ticket(view, text, record, policy, rules, capabilities() if caps is None else caps)


def _answer_consent(session: Session, shop_id: str, ticket: GorgiasTicket, message_id: str, text: str,
                    record: CustomerRecord, mode: str, view: TriageView, plan: SupportPlan,
                    settings: Any) -> tuple[SupportPlan, dict[str, Any] | None]:
    """If this customer has an order waiting for their consent to a substitution, read the
    message as the answer (domain/orders/consent.py) and let the order flow carry it out for
    that order only. A message that is only the answer gets the acknowledgement reply; anything
    else keeps the normal triage plan (a refund asked in the same breath still goes to a person)."""
    waiting = order_exceptions.waiting_for_consent(session, record.email)
    if not waiting:
        return plan, None
    reading = read_consent(text)
    actor = f"customer:{record.email} (gorgias ticket {ticket.id})"[:128]
    run = OrderRun(session, shop_id, f"consent:gorgias:{ticket.id}:{message_id}", actor=actor)
    results = [order_exceptions.answer_consent(run, row, reading, ticket_id=str(ticket.id), message_id=message_id,
                                               live=mode == LIVE, alone=len(waiting) == 1) for row in waiting]
    consent = {"reading": reading.as_dict(), "results": results}
    [result] = results if len(results) == 1 else [None]
    if result is None or result.get("answer") not in (CONSENT_YES, CONSENT_NO):
        return plan, consent
    approved = result["answer"] == CONSENT_YES
    order = next((o for o in record.orders if o.external_id == waiting[0].order_external_id), None)
    done = "approved the substitution" if approved else "back-ordered it (no substitute)"
    if mode == LIVE and not result.get("decided"):
        reason = (f"the customer answered {result['answer']} to the substitution for order "
                  f"{order.number if order else waiting[0].order_external_id}, but the order automation is not "
                  "live: nothing was changed, a person should act on it")
        return replace(plan, action=ESCALATE, reasons=(*plan.reasons, reason), promised_action=None, reply=None,
                       routing=route(view, record.lifetime_value, settings.rules, vip=plan.vip,
                                     escalated=True)), consent
    if order is None or not reading.only_answer:
        if plan.action != REPLY:
            plan = replace(plan, reasons=(*plan.reasons, f"storeops read the customer's {result['answer']} to the "
                                                         f"substitution question and {done}"))
        return plan, consent
    reply = replies.substitution_consent(record, settings.policy, order, approved)
    if fact_check(reply.body, record, settings.policy):
        return plan, consent
    return SupportPlan(action=REPLY, reasons=(), routing=route(view, record.lifetime_value, settings.rules,
                                                               vip=plan.vip, escalated=False),
                       reply=reply, order=order, vip=plan.vip,
                       rules=("support_policy@1", "fact_check@1", reading.rule)), consent


def _slim_ticket(ticket: GorgiasTicket, message: dict[str, Any]) -> dict[str, Any]:
    """What the reply action needs to address the reply (saves it a GET)."""
    raw = ticket.raw
    return {"id": ticket.id, "status": ticket.status, "subject": ticket.subject, "channel": ticket.channel,
            "customer": {"id": ticket.customer_id, "email": ticket.customer_email},
            "messages": [{"from_agent": False, "source": message.get("source")}],
            "integrations": raw.get("integrations") or []}


def _customer_messages(ticket: GorgiasTicket) -> list[dict[str, Any]]:
    return [m for m in ticket.raw.get("messages") or []
            if isinstance(m, dict) and not m.get("from_agent") and m.get("public", True)]


@action("support.handle_message", queue=GORGIAS_QUEUE.name)
def handle_message(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = deps()
    with closing(connector_for(db, box, shop_id, "gorgias")) as client:
        ticket = cast(GorgiasClient, client).get_ticket(int(payload["ticket_id"]))
    incoming = _customer_messages(ticket)
    if not incoming or not ticket.customer_email or ticket.customer_id is None:
        return {"skipped": "no customer message"}
    message = incoming[-1]
    message_id = str(message["id"])
    text = "\n".join(p for p in (_text(message.get("subject")) if len(incoming) == 1 else "",
                                 _text(message.get("body_text"))) if p)
    with db.session(shop_id) as session:
        row = support.find_ticket(session, str(ticket.id))
        if row is not None and row.last_message_id == message_id:
            return {"skipped": "already decided", "message_id": message_id}
        record = customer_record(session, ticket.customer_email)
        to_track = _shipbob_id_to_track(session, record)
        settings = support.settings_for(session, shop_id)
    record = _refresh_tracking(shop_id, to_track, record)
    # Decided with no session open: the optional LLM polish is a network call.
    view, plan = decide_message(text, record, settings.rules, settings.policy)
    plan, polish = polish_reply(shop_id, plan, record, settings.policy, view.language)
    with db.session(shop_id) as session:
        result = _decide(session, shop_id, ticket, message, message_id, text, record, key,
                         decided=(view, plan, polish))
    inline = result.pop("inline_reply", None)
    if inline is not None:
        # The decision and the durable gorgias.reply outbox message are committed; sending
        # now saves a relay hop (~0.5 s). The outbox copy finds the reply sent and stops.
        try:
            send_reply(shop_id, inline["payload"], inline["key"], inline=True)
        except Exception as exc:  # noqa: BLE001 - the outbox action retries it
            log.warning("inline reply failed; the outbox will retry", ticket=ticket.id, error=str(exc))
    return result


LLM_CREDENTIALS = ("llm_base_url", "llm_api_key", "llm_model")


def polish_reply(shop_id: str, plan: SupportPlan, record: CustomerRecord, policy: Any,
                 language: str) -> tuple[SupportPlan, dict[str, Any]]:
    """Polish an automatic reply with the shop's LLM provider, if it has one: encrypted
    credentials gorgias.llm_base_url, gorgias.llm_api_key, gorgias.llm_model (kept with the
    helpdesk's credentials: the shop credential store knows a fixed list of vendors). The
    polished text replaces the template's only if fact_check finds nothing in it the record
    does not hold and it keeps every fact the template stated; otherwise the template stands."""
    if plan.action != REPLY or plan.reply is None:
        return plan, {"used": False}
    db, box = deps()
    creds = load_credentials(db, box, shop_id, "gorgias")
    if not all(creds.get(n) for n in LLM_CREDENTIALS):
        return plan, {"used": False}
    polisher = ReplyPolisher(*(creds[n] for n in LLM_CREDENTIALS))
    try:
        polished = polisher.polish(plan.reply.body, language=language)
    except PolishError as exc:
        return plan, {"used": False, "error": str(exc)[:300]}
    finally:
        polisher.close()
    unsupported = fact_check(polished, record, policy)
    dropped = [v for v in plan.reply.facts.values() if v not in polished]
    if unsupported or dropped:
        return plan, {"used": False, "rejected": unsupported + [f"dropped {v}" for v in dropped]}
    return replace(plan, reply=replace(plan.reply, body=polished)), {"used": True}


def _decide(session: Session, shop_id: str, ticket: GorgiasTicket, message: dict[str, Any], message_id: str,
            text: str, record: CustomerRecord, key: str,
            decided: tuple[TriageView, SupportPlan, dict[str, Any]] | None = None) -> dict[str, Any]:
    row = support.find_ticket(session, str(ticket.id))
    if row is not None and row.last_message_id == message_id:
        return {"skipped": "already decided", "message_id": message_id}
    mode = decisions.mode_for(session, shop_id, AUTOMATION)
    if mode == OFF:
        return {"skipped": "automation off"}
    new_ticket = row is None or row.messages_handled == 0
    if row is None:
        row = SupportTicket(shop_id=shop_id, gorgias_ticket_id=str(ticket.id))
        session.add(row)
    settings = support.settings_for(session, shop_id)
    if decided is None:
        view, plan = decide_message(text, record, settings.rules, settings.policy)
        polish: dict[str, Any] = {"used": False}
    else:
        view, plan, polish = decided
    # The answer is read from what the customer typed, not the ticket's subject ("Re: ...").
    plan, consent = _answer_consent(session, shop_id, ticket, message_id, _text(message.get("body_text")) or text,
                                    record, mode, view, plan, settings)
    if mode == LIVE and plan.action == REPLY and plan.promised_action == "start_return":
        refused = _start_return(session, shop_id, plan, ticket, text, f"support:{ticket.id}:{message_id}")
        if refused is not None:
            plan = replace(plan, action=ESCALATE, reasons=(*plan.reasons, refused), promised_action=None,
                           routing=route(view, record.lifetime_value, settings.rules, vip=plan.vip, escalated=True))
    now = utcnow()
    opened = ticket.created_at or now
    row.customer_email = record.email
    row.gorgias_customer_id = str(ticket.customer_id)
    row.channel = (ticket.channel or "")[:32] or None
    row.subject = (ticket.subject or "")[:500] or None
    row.intent, row.triage = view.intent, {**view.as_dict(), "injection": list(plan.injection)}
    row.frustration, row.urgency = view.frustration, view.urgency
    row.last_message_id = message_id
    row.messages_handled = (row.messages_handled or 0) + 1
    if new_ticket:
        row.opened_at = opened
    if row.sla_due_at is None or row.first_response_at is not None:
        row.sla_due_at = support.sla_due(now if not new_ticket else opened, view.urgency, settings.policy)
    escalate = plan.action != REPLY
    if escalate:
        row.escalated = True
        row.escalation_reason = "; ".join(plan.reasons)[:4000]
        row.automated = False
    row.status = ESCALATED if escalate else (REPLIED if mode == LIVE else DRAFTED)
    cause = f"support:{ticket.id}:{message_id}"
    intended = _intended(ticket, message, message_id, record, plan, mode, new_ticket, cause)
    record_row = decisions.record(
        session, shop_id, subject=f"ticket:{ticket.id}", automation=AUTOMATION, mode=mode,
        inputs={"ticket": ticket.id, "message": message_id, "customer": record.email,
                "triage": view.as_dict(), "customer_360": {"lifetime_value": str(record.lifetime_value),
                                                           "orders": len(record.orders),
                                                           "open_exceptions": record.open_exceptions,
                                                           "contacts_last_7_days": record.contacts_last_7_days,
                                                           "tags": list(record.tags)},
                "rules_version": settings.version},
        rules=[*plan.rules, f"triage:{view.model_version}"],
        outputs={**plan.as_dict(), "polish": polish, **({"consent": consent} if consent else {})},
        intended_actions=intended,
        actions_taken=[], cause=f"outbox:{key}")
    if plan.reply is not None:
        kind = REPLY_KIND if (mode == LIVE and not escalate) else DRAFT_KIND
        session.add(TicketReply(
            shop_id=shop_id, gorgias_ticket_id=str(ticket.id), message_id=message_id, kind=kind,
            template=plan.reply.template, body=plan.reply.body, facts=plan.reply.facts,
            grounding={"ok": not plan.unsupported_facts, "unsupported": list(plan.unsupported_facts),
                       **({"polished": True} if polish.get("used") else {})},
            recipient=record.email if kind == REPLY_KIND else None, decision_id=record_row.id))
    to_emit = [i for i in intended if mode == LIVE or i["target"] == "gorgias.internal_note"]
    record_row.actions_taken = emit_actions(session, shop_id, record_row.id, to_emit)
    result: dict[str, Any] = {"decision_id": record_row.id, "action": plan.action, "mode": mode,
                              "intent": view.intent}
    for item, done in zip(to_emit, record_row.actions_taken, strict=True):
        if item["target"] == "gorgias.reply":
            result["inline_reply"] = {"payload": {**item["payload"], "decision_id": record_row.id},
                                      "key": done["key"]}
    return result


def _intended(ticket: GorgiasTicket, message: dict[str, Any], message_id: str, record: CustomerRecord,
              plan: SupportPlan, mode: str, new_ticket: bool, cause: str) -> list[dict[str, Any]]:
    ticket_id = str(ticket.id)
    items: list[dict[str, Any]] = []
    if new_ticket:
        items.append({"target": "gorgias.internal_note", "cause": f"support360:{ticket_id}",
                      "payload": {"ticket_id": ticket_id, "kind": "customer_360", "body": _note_360(record)}})
    routing = plan.routing
    items.append({"target": "gorgias.update_ticket", "cause": cause,
                  "payload": {"ticket_id": ticket_id, "tags": list(routing.tags), "priority": routing.priority,
                              "team": routing.team, "assignee": routing.assignee}})
    if plan.action == REPLY and plan.reply is not None:
        if mode == LIVE:
            items.append({"target": "gorgias.reply", "cause": cause,
                          "payload": {"ticket_id": ticket_id, "message_id": message_id, "body": plan.reply.body,
                                      "ticket": _slim_ticket(ticket, message)}})
            if plan.promised_action == "cancel_order" and plan.order is not None:
                target = next(t for t in PROMISE_ACTIONS["cancel_order"] if t in registered_actions())
                items.append({"target": target, "cause": cause,
                              "payload": {"order_id": plan.order.external_id, "reason": "customer",
                                          "source": f"gorgias:{ticket_id}"}})
        else:
            items.append({"target": "gorgias.internal_note", "cause": cause,
                          "payload": {"ticket_id": ticket_id, "message_id": message_id, "kind": "draft",
                                      "body": "storeops draft reply (shadow mode: not sent)\n\n" + plan.reply.body}})
    else:
        lines = ["storeops: this ticket needs a person.", "Why: " + "; ".join(plan.reasons)]
        if plan.injection:
            lines.append("The message tries to instruct the automation; nothing it asked was done.")
        if plan.reply is not None and not plan.unsupported_facts and not plan.injection:
            lines += ["", "Suggested reply (checked against the customer's record):", plan.reply.body]
        items.append({"target": "gorgias.internal_note", "cause": cause,
                      "payload": {"ticket_id": ticket_id, "message_id": message_id, "kind": "escalation",
                                  "body": "\n".join(lines)}})
    return items


# --- outbound actions ---------------------------------------------------------------------------


def _note_result(shop_id: str, payload: dict[str, Any], key: str, result: dict[str, Any]) -> None:
    db, _ = deps()
    with db.session(shop_id) as session:
        decisions.note_emitted_result(session, payload, key, result)


def _gorgias(shop_id: str) -> GorgiasClient:
    db, box = deps()
    return cast(GorgiasClient, connector_for(db, box, shop_id, "gorgias"))


SENDING = "sending"
IN_FLIGHT_GRACE = timedelta(seconds=60)


class ReplyInFlight(TimeoutError):
    """Another path is sending this reply right now: try again later (the engine retries)."""


def _reply_external_id(payload: dict[str, Any]) -> str:
    return f"storeops-reply:{payload['ticket_id']}:{payload['message_id']}"


def _find_reply_row(session: Session, payload: dict[str, Any]) -> TicketReply | None:
    return session.scalar(select(TicketReply).where(
        TicketReply.gorgias_ticket_id == str(payload["ticket_id"]),
        TicketReply.message_id == str(payload["message_id"]), TicketReply.kind == REPLY_KIND).with_for_update())


def send_reply(shop_id: str, payload: dict[str, Any], key: str, *, inline: bool = False) -> dict[str, Any]:
    """Send a decided reply exactly once, from either path (inline after the decision, or the
    outbox action). The TicketReply row is the claim: planned -> sending -> sent. A claim
    older than IN_FLIGHT_GRACE means the sender died mid-call: Gorgias is asked whether the
    message (our external_id) exists before sending again."""
    db, _ = deps()
    external_id = _reply_external_id(payload)
    ticket = GorgiasTicket.from_api(payload["ticket"])
    with db.session(shop_id) as session:
        row = _find_reply_row(session, payload)
        if row is not None and row.status == SENT:
            return {"message_id": row.gorgias_message_id, "already_sent": True}
        stale_claim = False
        if row is not None and row.status == SENDING:
            if inline:
                return {"skipped": "being sent"}
            if utcnow() - as_utc(row.created_at) < IN_FLIGHT_GRACE:
                raise ReplyInFlight(f"reply to ticket {ticket.id} is being sent")
            stale_claim = True
        if row is not None:
            row.status = SENDING
    sent_id: str | None = None
    try:
        with closing(_gorgias(shop_id)) as client:
            if stale_claim:
                sent_id = next((str(m.id) for m in client.list_messages(ticket.id)
                                if m.raw.get("external_id") == external_id), None)
            if sent_id is None:
                sent_id = str(client.reply(ticket.id, payload["body"], ticket=ticket, external_id=external_id).id)
    except Exception:
        with db.session(shop_id) as session:
            row = _find_reply_row(session, payload)
            if row is not None and row.status == SENDING:
                row.status = "planned"  # release the claim: the next attempt sends
        raise
    now = utcnow()
    with db.session(shop_id) as session:
        row = _find_reply_row(session, payload)
        if row is not None:
            row.status, row.sent_at, row.gorgias_message_id = SENT, now, sent_id
        found = support.find_ticket(session, str(ticket.id))
        if found is not None:
            found.automated = not found.escalated
            if found.first_response_at is None:
                found.first_response_at = now
        decisions.note_emitted_result(session, payload, key, {"message_id": sent_id, "to": ticket.customer_email})
    return {"message_id": sent_id}


@action("gorgias.reply", queue=GORGIAS_QUEUE.name)
def gorgias_reply(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    return send_reply(shop_id, payload, key)


@action("gorgias.internal_note", queue=GORGIAS_QUEUE.name)
def gorgias_internal_note(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    with closing(_gorgias(shop_id)) as client:
        note = client.add_internal_note(int(payload["ticket_id"]), payload["body"])
    result = {"message_id": note.id, "kind": payload.get("kind")}
    _note_result(shop_id, payload, key, result)
    return result


def _ids_by_name(client: GorgiasClient, shop_id: str) -> dict[str, int]:
    """Team names and agent emails -> Gorgias ids, read once per shop and process."""
    cache_key = (shop_id, client.base_url if hasattr(client, "base_url") else "")
    with _directory_lock:
        if cache_key in _directory:
            return _directory[cache_key]
    found = {f"team:{t['name'].lower()}": int(t["id"]) for t in client.list_teams() if t.get("name")}
    found.update({f"user:{u['email'].lower()}": int(u["id"]) for u in client.list_users() if u.get("email")})
    with _directory_lock:
        _directory[cache_key] = found
    return found


@action("gorgias.update_ticket", queue=GORGIAS_QUEUE.name)
def gorgias_update_ticket(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    ticket_id = int(payload["ticket_id"])
    result: dict[str, Any] = {"tags": payload.get("tags") or []}
    with closing(_gorgias(shop_id)) as client:
        if payload.get("tags"):
            client.add_tags(ticket_id, payload["tags"])
        team, assignee = payload.get("team"), payload.get("assignee")
        directory = _ids_by_name(client, shop_id) if (team or assignee) else {}
        team_id = directory.get(f"team:{team.lower()}") if team else None
        user_id = directory.get(f"user:{assignee.lower()}") if assignee else None
        update: dict[str, Any] = {}
        if payload.get("priority"):
            update["priority"] = payload["priority"]
        if team_id is not None:
            update["assignee_team"] = {"id": team_id}
        if user_id is not None:
            update["assignee_user"] = {"id": user_id}
        if update:
            client.update_ticket(ticket_id, update)
        result.update(priority=payload.get("priority"), team_id=team_id, user_id=user_id,
                      unknown=[n for n, i in ((team, team_id), (assignee, user_id)) if n and i is None])
    _note_result(shop_id, payload, key, result)
    return result


# --- SLA ---------------------------------------------------------------------------------------


def sweep_sla(db: Database, shop_id: str) -> int:
    """Unanswered tickets past their SLA: mark breached, raise priority, tag (live mode)."""
    now = utcnow()
    breached = 0
    with db.session(shop_id) as session:
        mode = decisions.mode_for(session, shop_id, AUTOMATION)
        if mode == OFF:
            return 0
        due = session.scalars(select(SupportTicket).where(
            SupportTicket.first_response_at.is_(None), SupportTicket.sla_breached_at.is_(None),
            SupportTicket.sla_due_at.is_not(None), SupportTicket.sla_due_at < now))
        for row in due:
            row.sla_breached_at = now
            row.escalated = True
            reason = f"SLA passed at {as_utc(row.sla_due_at).isoformat() if row.sla_due_at else '?'} with no reply"
            row.escalation_reason = "; ".join(filter(None, [row.escalation_reason, reason]))[:4000]
            item: dict[str, Any] = {"target": "gorgias.update_ticket", "cause": f"support_sla:{row.gorgias_ticket_id}",
                    "payload": {"ticket_id": row.gorgias_ticket_id, "tags": ["sla-breached"],
                                "priority": "critical", "team": None, "assignee": None}}
            record = decisions.record(session, shop_id, subject=f"ticket:{row.gorgias_ticket_id}",
                                      automation=AUTOMATION, mode=mode, inputs={"sla_due_at": str(row.sla_due_at)},
                                      rules=["support_sla@1"], outputs={"breached": True, "reason": reason},
                                      intended_actions=[item], actions_taken=[], cause=f"sla:{now.isoformat()}")
            if mode == LIVE:
                record.actions_taken = emit_actions(session, shop_id, record.id, [item])
            breached += 1
    return breached


@step(name="support.sla_sweep_all")
def _sweep_all() -> int:
    db, _ = deps()
    with db.system_session() as session:
        shop_ids = [s.id for s in shops.list_shops(session)]
    return sum(sweep_sla(db, shop_id) for shop_id in shop_ids)


@schedule("support_sla_sweep", "0 */5 * * * *")
def scheduled_sla_sweep(scheduled_at: Any, context: Any) -> None:
    _sweep_all()


# --- the Gorgias sidebar -------------------------------------------------------------------------

SIDEBAR_NAME = "storeops: customer 360"
TOKEN_HEADER = "x-storeops-widget-token"
WIDGET_TOKEN = "widget_token"


def widget_token(session: Session, box: SecretBox, shop_id: str) -> str | None:
    """The per-shop token the sidebar integration sends: its own credential, else the shop's
    Gorgias webhook secret (the secret our other HTTP integrations already carry)."""
    for name in (WIDGET_TOKEN, WEBHOOK_SECRET):
        found = shops.get_credential(session, box, shop_id=shop_id, vendor="gorgias", name=name)
        if found is not None:
            return found.reveal()
    return None


def ensure_sidebar(client: GorgiasClient, url: str, token: str) -> dict[str, Any]:
    """The HTTP integration (GET our 360 endpoint with the customer's email) and its widget.
    Idempotent: an integration with our name and the same URL and token is kept."""
    # Gorgias renders {{...}} variables into the URL (URL-encoded): the customer's email
    # travels as a query parameter, the way Gorgias's own HTTP-integration examples do it.
    url = f"{url}{'&' if '?' in url else '?'}email={{{{ticket.customer.email}}}}"
    http = {"url": url, "method": "GET", "request_content_type": "application/json",
            "response_content_type": "application/json", "headers": {TOKEN_HEADER: token},
            "form": {}, "triggers": {"ticket_created": True}}
    existing = [i for i in client.list_integrations() if i.get("name") == SIDEBAR_NAME]
    keep = next((i for i in existing if (i.get("http") or {}).get("url") == url
                 and (i.get("http") or {}).get("headers") == http["headers"] and not i.get("deactivated_datetime")),
                None)
    for stale in existing:
        if stale is not keep:
            client.request("DELETE", f"/api/integrations/{stale['id']}")
    if keep is None:
        keep = client.request("POST", "/api/integrations", json={
            "name": SIDEBAR_NAME, "type": "http", "description": "storeops customer 360", "http": http}).json()
    integration_id = int(keep["id"])
    if not any(w.get("integration_id") == integration_id for w in client.list_widgets()):
        client.create_widget(SIDEBAR_TEMPLATE, integration_id=integration_id)
    return keep


SIDEBAR_TEMPLATE: dict[str, Any] = {
    "type": "wrapper", "title": "storeops", "widgets": [
        {"type": "card", "title": "Customer", "widgets": [
            {"type": "text", "path": "lifetime_value", "title": "Lifetime value"},
            {"type": "text", "path": "orders_count", "title": "Orders"},
            {"type": "text", "path": "open_exceptions", "title": "Open exceptions"}]},
        {"type": "list", "path": "orders", "title": "Orders", "widgets": [
            {"type": "text", "path": "number", "title": "Order"},
            {"type": "text", "path": "status", "title": "Status"},
            {"type": "text", "path": "tracking_number", "title": "Tracking"}]},
    ]}

__all__ = ["AUTOMATION", "LIVE", "SHADOW", "customer_record", "decide_message", "ensure_sidebar",
           "load_model", "on_gorgias_ticket_event", "summary_360", "sweep_sla", "widget_token"]
