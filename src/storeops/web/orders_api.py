"""REST API v1 for the order automation: orders across systems, their decisions, modes.

    GET /api/v1/orders?shop=&status=&limit=   orders, newest first, status in every system
    GET /api/v1/orders/{id}?shop=             one order (Shopify id) with its decision records
    GET /api/v1/automations?shop=             the shop's mode per automation
    PUT /api/v1/automations/{name}?shop=      {"mode": "off" | "shadow" | "live"}

`shop` is a shop id or domain; it may be left out while storeops has exactly one shop.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from storeops.core.errors import InvalidInput, NotFound
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import DecisionRecord
from storeops.domain.orders import services as orders
from storeops.domain.orders.models import Order
from storeops.domain.shops import services as shops
from storeops.web.deps import Admin, DbDep

router = APIRouter(prefix="/api/v1", dependencies=[Admin], tags=["orders"])


class ModeIn(BaseModel):
    mode: Literal["off", "shadow", "live"]


def _shop_id(db: Any, shop: str | None) -> str:
    with db.system_session() as session:
        if shop is None:
            found = shops.list_shops(session)
            if len(found) != 1:
                raise HTTPException(422, {"error": "name the shop (?shop=<id or domain>)", "field": "shop"})
            return str(found[0].id)
        try:
            return shops.find_shop(session, shop).id
        except NotFound as exc:
            raise HTTPException(404, str(exc)) from exc


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
    shop_id = _shop_id(db, shop)
    query = select(Order).order_by(Order.id.desc()).limit(limit)
    if status:
        query = query.where(Order.status == status)
    with db.session(shop_id) as session:
        return [order_view(o) for o in session.scalars(query)]


@router.get("/orders/{order_id}")
def get_order(order_id: str, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = _shop_id(db, shop)
    with db.session(shop_id) as session:
        order = orders.find(session, order_id)
        if order is None:
            raise HTTPException(404, f"no order {order_id!r}")
        return {**order_view(order), "lines": order.lines, "checks": order.checks,
                "decisions": [decision_view(r) for r in decisions.for_subject(session, f"order:{order_id}")]}


@router.get("/automations")
def list_automations(db: DbDep, shop: str | None = None) -> dict[str, str]:
    shop_id = _shop_id(db, shop)
    with db.session(shop_id) as session:
        return decisions.modes(session, shop_id)


@router.put("/automations/{automation}")
def set_automation(automation: str, body: ModeIn, db: DbDep, shop: str | None = None) -> dict[str, str]:
    shop_id = _shop_id(db, shop)
    try:
        with db.session(shop_id) as session:
            decisions.set_mode(session, shop_id, automation, body.mode)
    except InvalidInput as exc:
        raise HTTPException(422, {"error": str(exc), "field": exc.field}) from exc
    with db.session(shop_id) as session:
        return decisions.modes(session, shop_id)
