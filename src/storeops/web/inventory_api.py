"""REST API v1 for inventory: SKU x channel with on hand, reserved, ATP, last pushed, drift, alerts.

    GET /api/v1/inventory?shop=&sku=&limit=&offset=   SKUs (by prefix), each with its locations and
                                                      every channel listing, plus open alerts
    GET /api/v1/inventory/alerts?shop=                open oversell / low-stock / drift alerts
    PUT /api/v1/inventory/policies/{channel}?shop=    {"safety_buffer", "floor", "share_pct"}
    PUT /api/v1/inventory/thresholds/{sku}?shop=      {"low_stock": n}
    PUT /api/v1/inventory/mode?shop=                  {"mode": "off" | "shadow" | "live"}

`shop` is a shop id or domain; it may be left out while storeops has exactly one shop.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from storeops.core.errors import InvalidInput
from storeops.domain.inventory import services as stock
from storeops.flows import inventory as inventory_flow
from storeops.web.deps import Admin, DbDep, shop_id_for

router = APIRouter(prefix="/api/v1", dependencies=[Admin], tags=["inventory"])


class PolicyIn(BaseModel):
    safety_buffer: int = Field(default=0, ge=0)
    floor: int = Field(default=0, ge=0)
    share_pct: int = Field(default=100, ge=0, le=100)


class ThresholdIn(BaseModel):
    low_stock: int = Field(ge=0)


class ModeIn(BaseModel):
    mode: Literal["off", "shadow", "live"]




def alert_view(alert: Any) -> dict[str, Any]:
    return {"id": alert.id, "kind": alert.kind, "sku": alert.sku, "order_id": alert.order_id,
            "detail": alert.detail, "created_at": alert.created_at.isoformat()}


@router.get("/inventory")
def list_inventory(db: DbDep, shop: str | None = None, sku: str | None = None,
                   limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        return {"shop": shop_id, "mode": inventory_flow.mode(session, shop_id),
                "policies": {c: vars(p) for c, p in stock.policies(session).items()},
                "skus": stock.overview(session, sku_prefix=sku, limit=limit, offset=offset),
                "alerts": [alert_view(a) for a in stock.open_alerts(session, 50)]}


@router.get("/inventory/alerts")
def list_alerts(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        return {"alerts": [alert_view(a) for a in stock.open_alerts(session)]}


@router.put("/inventory/policies/{channel}")
def put_policy(channel: str, body: PolicyIn, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    try:
        with db.session(shop_id) as session:
            policy = stock.set_policy(session, shop_id, channel, safety_buffer=body.safety_buffer,
                                      floor=body.floor, share_pct=body.share_pct)
            skus = sorted({row["sku"] for row in stock.overview(session, limit=100_000)})
            stock.refresh_targets(session, shop_id, skus)
    except InvalidInput as exc:
        raise HTTPException(422, {"error": str(exc), "field": exc.field}) from exc
    return {"channel": channel, **vars(policy)}


@router.put("/inventory/thresholds/{sku}")
def put_threshold(sku: str, body: ThresholdIn, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        stock.set_threshold(session, shop_id, sku, body.low_stock)
        stock.refresh_targets(session, shop_id, [sku])
    return {"sku": sku, "low_stock": body.low_stock}


@router.put("/inventory/mode")
def put_mode(body: ModeIn, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    with db.session(shop_id) as session:
        inventory_flow.set_mode(session, shop_id, body.mode)
    return {"automation": inventory_flow.AUTOMATION, "mode": body.mode}
