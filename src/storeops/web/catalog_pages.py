"""Server-rendered catalog pages: products with audit issues, per-channel previews with the diff
against what each channel shows, consistency per channel. Same services as the JSON API
(storeops.web.catalog_api), so a page can do nothing the API cannot."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from storeops.core.errors import ConfigError, InvalidInput, NotFound, VendorError
from storeops.domain.catalog import CHANNELS
from storeops.domain.catalog import services as catalog
from storeops.flows import catalog as flow
from storeops.web.catalog_api import product_detail, product_list
from storeops.web.dashboard import _login_redirect, _render, _signed_in
from storeops.web.deps import BoxDep, DbDep
from storeops.web.orders_pages import _pick_shop

router = APIRouter(include_in_schema=False)


@router.get("/catalog", response_class=HTMLResponse, response_model=None)
def catalog_page(request: Request, db: DbDep, shop: str | None = None, issue: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, shop_list = _pick_shop(session, shop)
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {"products": 0, "variants": 0, "counts": {}, "by_severity": {"error": 0, "warning": 0}}
    consistency: dict[str, Any] = {}
    if shop_id is not None:
        rows = product_list(db, shop_id)
        report = flow.audit_catalog(db, shop_id).as_dict()
        with db.session(shop_id) as session:
            consistency = catalog.consistency(session)
        if issue:
            rows = [r for r in rows if any(i["kind"] == issue for i in r["issues"])]
    return _render(request, "catalog.html", {
        "rows": rows[:500], "total": len(rows), "report": report, "consistency": consistency, "issue": issue,
        "channels": [c for c in CHANNELS if c != "email"], "shop_id": shop_id, "shops": shop_list,
        "unknown_shop": shop is not None and shop_id is None})


@router.get("/catalog/{handle}", response_class=HTMLResponse, response_model=None)
def product_page(request: Request, handle: str, db: DbDep, box: BoxDep, shop: str | None = None,
                 channel: str = "shopify", done: str | None = None) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, _ = _pick_shop(session, shop)
    if shop_id is None or channel not in CHANNELS:
        return _render(request, "catalog_product.html", {"product": None, "handle": handle, "shop_id": shop_id},
                       status_code=404)
    try:
        product = product_detail(db, shop_id, handle)
        shown = flow.preview(db, box, shop_id, handle, channel, live=True)
    except NotFound:
        return _render(request, "catalog_product.html", {"product": None, "handle": handle, "shop_id": shop_id},
                       status_code=404)
    return _render(request, "catalog_product.html", {
        "product": product, "handle": handle, "channel": channel, "channels": CHANNELS, "preview": shown,
        "flat": _flat(shown["fields"] or {}), "shop_id": shop_id, "done": done, "error": None})


def _flat(fields: dict[str, Any]) -> dict[str, Any]:
    from storeops.domain.catalog.channels import flatten

    return flatten(fields)


@router.post("/catalog/{handle}/publish", response_class=HTMLResponse, response_model=None)
def publish_product(request: Request, handle: str, db: DbDep, box: BoxDep, shop: str = Form(""),
                    channel: str = Form("shopify")) -> Any:
    if not _signed_in(request):
        return _login_redirect()
    with db.system_session() as session:
        shop_id, _ = _pick_shop(session, shop or None)
    if shop_id is None:
        return RedirectResponse("/catalog", status_code=303)
    try:
        flow.compile_renditions(db, box, shop_id, handles=[handle])
        with db.session(shop_id) as session:
            product_id = catalog.find(session, handle=handle).id
            # Channels the last check found drifted are sent again even if the content did not change.
            drifted = {(s.product_id, s.channel) for s in catalog.snapshots(session)
                       if s.product_id == product_id and not s.equal}
        summary = flow.publish(db, shop_id, handles=[handle], repair=drifted)
    except (InvalidInput, NotFound, ConfigError, VendorError) as exc:
        return _render(request, "catalog_product.html", {"product": None, "handle": handle, "shop_id": shop_id,
                                                         "error": str(exc)}, status_code=422)
    done = f"{summary['mode']}: {summary['emitted']} sent, {summary['intended']} intended, " \
           f"{summary['unchanged']} unchanged"
    return RedirectResponse(f"/catalog/{handle}?shop={shop_id}&channel={channel}&done={done}", status_code=303)
