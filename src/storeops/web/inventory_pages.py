"""The inventory page: SKU x channel with on hand, reserved, ATP, last pushed, drift, and the
open alerts (oversells first). Reads through the same services as /api/v1/inventory."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from storeops.core.errors import NotFound
from storeops.domain.inventory import services as stock
from storeops.domain.inventory.models import CHANNELS
from storeops.domain.shops import services as shops
from storeops.flows import inventory as inventory_flow
from storeops.web.dashboard import _login_redirect, _render, _signed_in
from storeops.web.deps import DbDep

router = APIRouter(include_in_schema=False)
ALERT_ORDER = {"oversell": 0, "drift": 1, "low_stock": 2}


@router.get("/inventory", response_class=HTMLResponse, response_model=None)
def inventory_page(request: Request, db: DbDep, shop: str | None = None, sku: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_list = shops.list_shops(session)
        shop_id: str | None = None
        try:
            shop_id = shops.find_shop(session, shop).id if shop else (shop_list[0].id if shop_list else None)
        except NotFound:
            shop_id = None
    rows: list[dict[str, Any]] = []
    alerts: list[Any] = []
    mode = "off"
    if shop_id is not None:
        with db.session(shop_id) as session:
            mode = inventory_flow.mode(session, shop_id)
            rows = stock.overview(session, sku_prefix=sku or None, limit=200)
            alerts = sorted(stock.open_alerts(session, 100), key=lambda a: (ALERT_ORDER.get(a.kind, 9), -a.id))
            session.expunge_all()
    for row in rows:
        row["by_channel"] = {c: [x for x in row["channels"] if x["channel"] == c] for c in CHANNELS}
    return _render(request, "inventory.html", {
        "rows": rows, "alerts": alerts, "mode": mode, "shop_id": shop_id, "shops": shop_list, "sku": sku or "",
        "channels": CHANNELS, "unknown_shop": shop is not None and shop_id is None,
    })
