"""REST API v1 for support automation, and the Gorgias sidebar endpoint.

    GET /api/v1/support/tickets?shop=&status=&escalated=&limit=   triage view, newest first
    GET /api/v1/support/tickets/{gorgias id}?shop=                 one ticket: replies, decisions
    GET /api/v1/support/kpis?shop=                                 automation rate, first response, escalations
    GET /api/v1/support/evaluation                                 the shipped triage model's held-out metrics
    GET /api/v1/support/settings?shop=                             routing rules + policy
    PUT /api/v1/support/settings?shop=   {"rules": [...]?, "policy": {...}?}   (422: nothing changed)
    PUT /api/v1/support/mode?shop=       {"mode": "off" | "shadow" | "live"}

    GET /integrations/gorgias/customer?shop=&email=   the customer 360 for Gorgias's sidebar.
        Gorgias HTTP integrations authenticate with a header the merchant configures: here
        x-storeops-widget-token, the shop's own token (storeops.flows.support.widget_token).
"""

from __future__ import annotations

import hmac
import json
from functools import lru_cache
from typing import Any, Literal

from fastapi import APIRouter, Body, Header, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from storeops.ai.triage import DEFAULT_MODEL_DIR
from storeops.core.errors import InvalidInput, NotFound
from storeops.domain.decisions import services as decisions
from storeops.domain.shops import services as shops
from storeops.domain.support import services as support
from storeops.domain.support.models import SupportTicket, TicketReply
from storeops.flows import support as support_flow
from storeops.web.deps import Admin, BoxDep, DbDep, shop_id_for
from storeops.web.orders_api import decision_view

router = APIRouter(prefix="/api/v1/support", dependencies=[Admin], tags=["support"])
widget_router = APIRouter(tags=["support"])


class ModeIn(BaseModel):
    mode: Literal["off", "shadow", "live"]


def ticket_view(t: SupportTicket) -> dict[str, Any]:
    triage = t.triage or {}
    return {
        "id": t.gorgias_ticket_id, "customer": t.customer_email, "channel": t.channel, "subject": t.subject,
        "status": t.status, "intent": t.intent, "confidence": triage.get("confidence"), "urgency": t.urgency,
        "frustration": t.frustration, "language": triage.get("language"), "injection": triage.get("injection") or [],
        "escalated": t.escalated, "escalation_reason": t.escalation_reason, "automated": t.automated,
        "sla_due_at": t.sla_due_at.isoformat() if t.sla_due_at else None,
        "sla_breached_at": t.sla_breached_at.isoformat() if t.sla_breached_at else None,
        "first_response_at": t.first_response_at.isoformat() if t.first_response_at else None,
        "opened_at": t.opened_at.isoformat(), "messages_handled": t.messages_handled,
    }


def reply_view(r: TicketReply) -> dict[str, Any]:
    return {"kind": r.kind, "status": r.status, "template": r.template, "body": r.body, "facts": r.facts,
            "grounding": r.grounding, "recipient": r.recipient, "message_id": r.message_id,
            "sent_at": r.sent_at.isoformat() if r.sent_at else None}


@lru_cache(maxsize=1)
def evaluation() -> dict[str, Any]:
    """The metrics the shipped model was measured with (models/metrics.json): never retrained here."""
    metrics = json.loads((DEFAULT_MODEL_DIR / "metrics.json").read_text(encoding="utf-8"))
    intent = metrics.get("intent") or {}
    oos = metrics.get("out_of_scope") or {}
    frustration = metrics.get("frustration") or {}
    return {
        "model_dir": DEFAULT_MODEL_DIR.name,
        "intent": {"test_set": intent.get("test_set"), "accuracy": intent.get("accuracy"),
                   "macro_f1": intent.get("macro_f1"), "per_intent_f1": intent.get("per_intent_f1") or {}},
        "out_of_scope": {"test_set": oos.get("test_set"), "recall": oos.get("recall"),
                         "in_scope_accuracy": oos.get("in_scope_accuracy_at_floor")},
        "frustration": {"test_set": frustration.get("test_set"), "auc": frustration.get("auc_message_score")},
    }


@router.get("/tickets")
def list_tickets(db: DbDep, shop: str | None = None, status: str | None = None, escalated: bool | None = None,
                 limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    shop_id = shop_id_for(db, shop)
    query = select(SupportTicket).order_by(SupportTicket.id.desc()).limit(limit)
    if status:
        query = query.where(SupportTicket.status == status)
    if escalated is not None:
        query = query.where(SupportTicket.escalated.is_(escalated))
    with db.session(shop_id) as session:
        return [ticket_view(t) for t in session.scalars(query)]


@router.get("/tickets/{ticket_id}")
def get_ticket(ticket_id: str, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        ticket = support.find_ticket(session, ticket_id)
        if ticket is None:
            raise HTTPException(404, f"no ticket {ticket_id!r}")
        replies = session.scalars(select(TicketReply).where(TicketReply.gorgias_ticket_id == ticket_id)
                                  .order_by(TicketReply.id))
        return {**ticket_view(ticket), "triage": ticket.triage, "replies": [reply_view(r) for r in replies],
                "decisions": [decision_view(r) for r in decisions.for_subject(session, f"ticket:{ticket_id}")]}


@router.get("/kpis")
def get_kpis(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        return support.kpis(list(session.scalars(select(SupportTicket))))


@router.get("/evaluation")
def get_evaluation() -> dict[str, Any]:
    return evaluation()


def settings_view(found: support.ShopSupportSettings) -> dict[str, Any]:
    return {"rules": found.rules, "policy": found.policy.as_json(), "version": found.version}


@router.get("/settings")
def get_settings(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        return settings_view(support.settings_for(session, shop_id))


@router.put("/settings")
def put_settings(db: DbDep, body: dict[str, Any] = Body(...), shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    unknown = set(body) - {"rules", "policy"}
    if unknown or not body:
        raise HTTPException(422, {"error": "send rules and/or policy", "field": sorted(unknown)[0] if unknown
                                  else "rules"})
    try:
        with db.session(shop_id) as session:
            saved = support.save_settings(session, shop_id, rules=body.get("rules"), policy=body.get("policy"))
            return settings_view(saved)
    except InvalidInput as exc:
        raise HTTPException(422, {"error": str(exc), "field": exc.field}) from exc


@router.put("/mode")
def put_mode(body: ModeIn, db: DbDep, shop: str | None = None) -> dict[str, str]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        support_flow.set_mode(session, shop_id, body.mode)
    with db.session(shop_id) as session:
        return {support_flow.AUTOMATION: decisions.mode_for(session, shop_id, support_flow.AUTOMATION)}


@widget_router.get("/integrations/gorgias/customer")
def sidebar_customer(db: DbDep, box: BoxDep, shop: str = Query(...), email: str = Query(..., max_length=320),
                     token: str | None = Header(default=None, alias=support_flow.TOKEN_HEADER)) -> dict[str, Any]:
    with db.system_session() as session:
        try:
            shop_id = shops.find_shop(session, shop).id
        except NotFound:
            shop_id = None
        expected = support_flow.widget_token(session, box, shop_id) if shop_id else None
    # Same answer for an unknown shop and a wrong token: no probing for shop names.
    if shop_id is None or not expected or not token or not hmac.compare_digest(expected.encode(), token.encode()):
        raise HTTPException(401, "widget token required", headers={"WWW-Authenticate": "Token"})
    email = email.strip().lower()
    if "@" not in email:
        raise HTTPException(422, {"error": "email must be an email address", "field": "email"})
    with db.session(shop_id) as session:
        record = support_flow.customer_record(session, email)
        tickets = list(session.scalars(select(SupportTicket).where(SupportTicket.customer_email == email)
                                       .order_by(SupportTicket.id.desc()).limit(10)))
        return support_flow.summary_360(record, tickets)
