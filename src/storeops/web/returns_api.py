"""REST API v1 for returns: requests, their decisions, a person's approval, the policy.

    POST /api/v1/returns?shop=                {"order_id", "lines": [{"line_id" | "sku", "quantity"}],
                                               "reason", "condition", "note", "reference"} -> 201
    GET  /api/v1/returns?shop=&status=&order_id=&limit=   newest first
    GET  /api/v1/returns/{id}?shop=           one request, its lines and decision records
    POST /api/v1/returns/{id}/approve?shop=   {"note"}: a person approves a needs_review request
    POST /api/v1/returns/{id}/reject?shop=    {"note"}: a person rejects it
    GET  /api/v1/return-policy?shop=          the shop's policy (defaults when never set)
    PUT  /api/v1/return-policy?shop=          a full or partial policy (unknown keys refused)

Bad input answers 422 and a request in the wrong status 409, with {"error", "field"}; in both
cases nothing changed (the transaction is rolled back).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query
from pydantic import BaseModel, Field

from storeops.core.errors import InvalidInput, NotFound
from storeops.db.session import Database
from storeops.domain.decisions import services as decisions
from storeops.domain.returns import services as returns
from storeops.domain.returns.models import STATUSES, ReturnRequest
from storeops.flows import returns as returns_flow
from storeops.web.deps import Admin, DbDep, shop_id_for

router = APIRouter(prefix="/api/v1", dependencies=[Admin], tags=["returns"])


class LineIn(BaseModel):
    line_id: str | None = Field(default=None, max_length=64)
    sku: str | None = Field(default=None, max_length=128)
    quantity: int = Field(default=1, ge=1, le=10_000)


class ReturnIn(BaseModel):
    order_id: str = Field(min_length=1, max_length=64)
    lines: list[LineIn] = Field(min_length=1, max_length=250)
    reason: str = Field(min_length=1, max_length=32)
    condition: str = Field(default="unopened", min_length=1, max_length=16)
    note: str | None = Field(default=None, max_length=1000)
    reference: str | None = Field(default=None, max_length=128, description="your id: a repeat is one request")


class DecisionIn(BaseModel):
    note: str | None = Field(default=None, max_length=500)




def _refused(exc: InvalidInput) -> HTTPException:
    status = 409 if exc.field == "status" else 422
    return HTTPException(status, {"error": str(exc), "field": exc.field})


def return_view(r: ReturnRequest) -> dict[str, Any]:
    return {
        "id": r.id, "order_id": r.order_external_id, "order_name": r.order_name, "email": r.email,
        "source": r.source, "reference": r.source_ref, "status": r.status, "reason": r.reason,
        "condition": r.condition, "note": r.note, "decided_by": r.decided_by,
        "eligibility": r.eligibility,
        "refund": {"subtotal": r.refund_subtotal, "restocking_fee": r.restocking_fee,
                   "shipping": r.shipping_refund, "total": r.refund_total, "currency": r.currency},
        "shopify": {"return_id": r.shopify_return_id, "refund_id": r.refund_id},
        "shipbob": {"return_id": r.shipbob_return_id, "rma": r.rma, "status": r.shipbob_status,
                    "fulfillment_center_id": r.fulfillment_center_id, "tracking_number": r.tracking_number},
        "received_at": r.received_at.isoformat() if r.received_at else None,
        "refunded_at": r.refunded_at.isoformat() if r.refunded_at else None,
        "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat(),
    }


def _detail(session: Any, r: ReturnRequest) -> dict[str, Any]:
    return {**return_view(r),
            "lines": [{"line_id": li.line_id, "sku": li.sku, "name": li.name, "quantity": li.quantity,
                       "unit_price": li.unit_price, "refund_amount": li.refund_amount}
                      for li in returns.lines_of(session, r.id)],
            "decisions": [{"id": d.id, "automation": d.automation, "mode": d.mode, "rules": d.rules,
                           "inputs": d.inputs, "outputs": d.outputs, "intended_actions": d.intended_actions,
                           "actions_taken": d.actions_taken, "cause": d.cause, "created_at": d.created_at.isoformat()}
                          for d in decisions.for_subject(session, f"return:{r.id}")]}


@router.post("/returns", status_code=201)
def create_return(body: ReturnIn, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    try:
        with db.session(shop_id) as session:
            request = returns_flow.request_return(
                session, shop_id, body.order_id, [line.model_dump() for line in body.lines], body.reason,
                condition=body.condition, source="api", source_ref=body.reference, note=body.note,
                cause=f"api:{body.reference}" if body.reference else None)
            return _detail(session, request)
    except InvalidInput as exc:
        raise _refused(exc) from exc


@router.get("/returns")
def list_returns(db: DbDep, shop: str | None = None, status: str | None = None, order_id: str | None = None,
                 limit: int = Query(default=100, ge=1, le=1000)) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise HTTPException(422, {"error": f"status must be one of {', '.join(STATUSES)}", "field": "status"})
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        return [return_view(r) for r in returns.list_requests(session, status=status, order_external_id=order_id,
                                                               limit=limit)]


@router.get("/returns/{return_id}")
def get_return(return_id: int, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        request = returns.find(session, return_id)
        if request is None:
            raise HTTPException(404, f"no return {return_id}")
        return _detail(session, request)


def _decide(return_id: int, body: DecisionIn | None, db: Database, shop: str | None, approve: bool) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    try:
        with db.session(shop_id) as session:
            request = returns_flow.decide_by_person(session, shop_id, return_id, approve=approve, actor="admin",
                                                    note=body.note if body else None)
            return _detail(session, request)
    except NotFound as exc:
        raise HTTPException(404, f"no return {return_id}") from exc
    except InvalidInput as exc:
        raise _refused(exc) from exc


@router.post("/returns/{return_id}/approve")
def approve_return(return_id: int, db: DbDep, shop: str | None = None,
                   body: DecisionIn | None = Body(default=None)) -> dict[str, Any]:
    return _decide(return_id, body, db, shop, approve=True)


@router.post("/returns/{return_id}/reject")
def reject_return(return_id: int, db: DbDep, shop: str | None = None,
                  body: DecisionIn | None = Body(default=None)) -> dict[str, Any]:
    return _decide(return_id, body, db, shop, approve=False)


@router.get("/return-policy")
def get_policy(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        return returns.get_policy(session, shop_id).as_json()


@router.put("/return-policy")
def put_policy(db: DbDep, shop: str | None = None, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    try:
        with db.session(shop_id) as session:
            return returns.set_policy(session, shop_id, body).as_json()
    except InvalidInput as exc:
        raise _refused(exc) from exc
