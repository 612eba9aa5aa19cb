"""REST API v1 for the order automation: orders across systems, their decisions, modes.

    GET /api/v1/orders?shop=&status=&limit=   orders, newest first, status in every system
    GET /api/v1/orders/{id}?shop=             one order (Shopify id) with its decision records
    GET /api/v1/automations?shop=             the shop's mode per automation
    PUT /api/v1/automations/{name}?shop=      {"mode": "off" | "shadow" | "live"}
    GET /api/v1/exceptions?shop=&status=&kind=&order=   the exceptions queue (status: open | waiting |
                                              resolved | unresolved), with age, SLA and context
    GET /api/v1/exceptions/{id}?shop=         one, with its order and the order's decision records
    POST /api/v1/exceptions/{id}/approve|fix|override?shop=   {"by", "note", "address", "override", "fc"}
    GET|PUT /api/v1/order-rules/substitution?shop=   the merchant's stock-shortage rules
    GET|PUT /api/v1/order-rules/routing?shop=        the merchant's routing rules (force / exclude /
                                              prefer FCs by country, state, tag, service level)
    GET|PUT /api/v1/order-rules/payment?shop=        unpaid orders: reminder intervals, grace, then
                                              cancel or hand to a person
    (a PUT whose body carries the `version` GET showed is refused with 409 if someone saved since)

`shop` is a shop id or domain; it may be left out while storeops has exactly one shop.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from storeops.core.clock import utcnow
from storeops.core.errors import InvalidInput, NotFound
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.orders import exceptions
from storeops.domain.orders import services as orders
from storeops.domain.orders.exceptions import OrderException
from storeops.domain.orders.models import Order
from storeops.domain.orders.routing_rules import routing_rules_view
from storeops.domain.orders.substitution import SubstitutionRules
from storeops.flows import order_exceptions
from storeops.flows import order_lifecycle as lifecycle
from storeops.flows import orders as order_flow
from storeops.web.deps import Admin, DbDep, shop_id_for

router = APIRouter(prefix="/api/v1", dependencies=[Admin], tags=["orders"])


class ModeIn(BaseModel):
    mode: Literal["off", "shadow", "live"]




def order_view(o: Order) -> dict[str, Any]:
    return {
        "id": o.external_id, "name": o.name, "email": o.email, "total": o.total, "currency": o.currency,
        "status": o.status, "priority": o.priority, "assigned_fc": o.assigned_fc,
        "shopify": {"gid": o.gid, "financial_status": o.financial_status,
                    "fulfillment_status": o.shopify_fulfillment_status,
                    "cancelled_at": o.cancelled_at.isoformat() if o.cancelled_at else None, "tags": o.tags},
        "shipbob": {"order_id": o.shipbob_order_id, "status": o.shipbob_status},
        "tracking": {"number": o.tracking_number, "company": o.tracking_company, "url": o.tracking_url},
        "source_updated_at": o.source_updated_at.isoformat() if o.source_updated_at else None,
        "updated_at": o.updated_at.isoformat(),
    }


def decision_view(r: DecisionRecord) -> dict[str, Any]:
    return {"id": r.id, "automation": r.automation, "mode": r.mode, "inputs": r.inputs, "rules": r.rules,
            "outputs": r.outputs, "intended_actions": r.intended_actions, "actions_taken": r.actions_taken,
            "cause": r.cause, "created_at": r.created_at.isoformat()}


@router.get("/orders")
def list_orders(db: DbDep, shop: str | None = None, status: str | None = None,
                limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    shop_id = shop_id_for(db, shop)
    query = select(Order).order_by(Order.id.desc()).limit(limit)
    if status:
        query = query.where(Order.status == status)
    with db.session(shop_id) as session:
        return [order_view(o) for o in session.scalars(query)]


@router.get("/orders/{order_id}")
def get_order(order_id: str, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        order = orders.find(session, order_id)
        if order is None:
            raise HTTPException(404, f"no order {order_id!r}")
        return {**order_view(order), "lines": order.lines, "checks": order.checks,
                "decisions": [decision_view(r) for r in decisions.for_subject(session, f"order:{order_id}")]}


@router.get("/automations")
def list_automations(db: DbDep, shop: str | None = None) -> dict[str, str]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        return decisions.modes(session, shop_id)


@router.put("/automations/{automation}")
def set_automation(automation: str, body: ModeIn, db: DbDep, shop: str | None = None) -> dict[str, str]:
    shop_id = shop_id_for(db, shop)
    try:
        with db.session(shop_id) as session:
            decisions.set_mode(session, shop_id, automation, body.mode)
    except InvalidInput as exc:
        raise HTTPException(422, {"error": str(exc), "field": exc.field}) from exc
    with db.session(shop_id) as session:
        return decisions.modes(session, shop_id)


# --- the exceptions queue ----------------------------------------------------------------------


class ExceptionActionIn(BaseModel):
    """A person's action on an exception. `by` names them (recorded on the decision)."""

    by: str = "admin"
    note: str | None = None
    address: dict[str, Any] | None = None  # fix: the corrected shipping address fields
    override: str | None = None  # override: route | hold | backorder | cancel
    fc: str | None = None  # override route: the fulfillment center id


def exception_view(row: OrderException, order: Order | None = None) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": row.id, "kind": row.kind, "status": row.status, "reason": row.reason,
        "order": {"id": row.order_external_id, "name": row.order_name,
                  "status": order.status if order is not None else None},
        "opened_at": row.opened_at.isoformat(), "sla_due_at": row.sla_due_at.isoformat(),
        "age_minutes": round(row.age(now).total_seconds() / 60, 1), "overdue": row.overdue(now),
        "escalation_level": row.escalation_level,
        "escalated_at": row.escalated_at.isoformat() if row.escalated_at else None,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolution": row.resolution, "resolved_by": row.resolved_by, "resolution_note": row.resolution_note,
        "context": row.context,
    }


@router.get("/exceptions")
def list_exceptions(db: DbDep, shop: str | None = None, status: str | None = None, kind: str | None = None,
                    order: str | None = None, limit: int = Query(default=200, ge=1, le=1000)) -> list[dict[str, Any]]:
    """Exceptions, newest first; status = open | waiting | resolved | unresolved."""
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        try:
            rows = exceptions.list_exceptions(session, status=status or None, kind=kind or None,
                                              order=order or None, limit=limit)
        except InvalidInput as exc:
            raise HTTPException(422, {"error": str(exc), "field": exc.field}) from exc
        found = {o.external_id: o for o in session.scalars(
            select(Order).where(Order.external_id.in_({r.order_external_id for r in rows})))}
        return [exception_view(r, found.get(r.order_external_id)) for r in rows]


@router.get("/exceptions/{exception_id}")
def get_exception(exception_id: int, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        try:
            row = exceptions.get_exception(session, exception_id)
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc
        order = orders.find(session, row.order_external_id)
        return {**exception_view(row, order),
                "order_detail": order_view(order) if order is not None else None,
                "decisions": [decision_view(r) for r in
                              decisions.for_subject(session, f"order:{row.order_external_id}")]}


@router.post("/exceptions/{exception_id}/{verb}")
def act_on_exception(exception_id: int, verb: str, body: ExceptionActionIn, db: DbDep,
                     shop: str | None = None) -> dict[str, Any]:
    """approve (release as decided / the customer consented), fix (a corrected address: checks and
    routing run again), override (route to `fc`, hold, backorder, or cancel the order in Shopify).
    Bad input: 422, nothing changed."""
    if verb not in order_exceptions.VERBS:
        raise HTTPException(404, f"no action {verb!r} (use {', '.join(order_exceptions.VERBS)})")
    shop_id = shop_id_for(db, shop)
    try:
        order_exceptions.act_on_exception(db, shop_id, exception_id, verb, by=body.by, note=body.note,
                                    address=body.address, override=body.override, fc=body.fc)
    except NotFound as exc:
        raise HTTPException(404, str(exc)) from exc
    except InvalidInput as exc:
        raise HTTPException(422, {"error": str(exc), "field": exc.field}) from exc
    return get_exception(exception_id, db, shop_id)


@router.get("/order-rules/substitution")
def get_substitution_rules(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        return rules_view(orders.substitution_rules(session))


@router.put("/order-rules/substitution")
def put_substitution_rules(body: dict[str, Any], db: DbDep, shop: str | None = None,
                           by: str = "admin") -> dict[str, Any]:
    """Replace the shop's stock-shortage rules (a new version); invalid rules: 422, nothing stored."""
    shop_id = shop_id_for(db, shop)
    try:
        with db.session(shop_id) as session:
            saved = orders.save_substitution_rules(session, shop_id, body, by,
                                                   expected_version=_expected_version(body))
    except InvalidInput as exc:
        raise _rules_refused(exc) from exc
    return rules_view(saved)


@router.get("/order-rules/routing")
def get_routing_rules(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        rules, version = orders.routing_rules(session)
    return routing_rules_view(rules, version)


@router.put("/order-rules/routing")
def put_routing_rules(body: dict[str, Any], db: DbDep, shop: str | None = None,
                      by: str = "admin") -> dict[str, Any]:
    """Replace the shop's routing rules (a new version); invalid rules: 422, nothing stored.
    They apply to orders decided from now on; each decision names the rules@version it used."""
    shop_id = shop_id_for(db, shop)
    try:
        with db.session(shop_id) as session:
            rules, version = orders.save_routing_rules(session, shop_id, body, by,
                                                       expected_version=_expected_version(body),
                                                       known_fcs=order_flow.known_fc_ids(session, shop_id))
    except InvalidInput as exc:
        raise _rules_refused(exc) from exc
    return routing_rules_view(rules, version)


@router.get("/order-rules/payment")
def get_payment_policy(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        policy, version = lifecycle.payment_policy(session)
    return {"version": version, **policy.as_dict()}


@router.put("/order-rules/payment")
def put_payment_policy(body: dict[str, Any], db: DbDep, shop: str | None = None,
                       by: str = "admin") -> dict[str, Any]:
    """Replace the shop's unpaid-order policy (a new version) for sequences started from now on;
    invalid: 422, nothing stored."""
    shop_id = shop_id_for(db, shop)
    try:
        policy = lifecycle.PaymentPolicy.parse({k: v for k, v in body.items() if k != "version"})
        with db.session(shop_id) as session:
            version = lifecycle.set_payment_policy(session, shop_id, policy, by,
                                                   expected_version=_expected_version(body))
    except InvalidInput as exc:
        raise _rules_refused(exc) from exc
    return {"version": version, **policy.as_dict()}


def _expected_version(body: dict[str, Any]) -> int | None:
    """A body's `version` (what GET showed) is the version the change was made from: if the
    rules were saved since, the save is refused (409) rather than overwriting that save."""
    value = body.get("version")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise HTTPException(422, {"error": "version must be the whole number GET showed", "field": "version"})
    return value


def _rules_refused(exc: InvalidInput) -> HTTPException:
    return HTTPException(409 if exc.field == "version" else 422, {"error": str(exc), "field": exc.field})


def rules_view(rules: SubstitutionRules) -> dict[str, Any]:
    return {"version": rules.version, "same_product_other_variant": rules.same_product_other_variant,
            "requires_consent": rules.requires_consent, "allow_partial": rules.allow_partial,
            "variant_separator": rules.variant_separator,
            "skus": {sku: {"substitutes": list(r.substitutes), "same_product_other_variant":
                           r.same_product_other_variant, "requires_consent": r.requires_consent}
                     for sku, r in rules.skus.items()}}
