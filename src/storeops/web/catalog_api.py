"""REST API v1 for the catalog: products with their audit issues, renditions, previews, edits.

    GET   /api/v1/catalog/products?shop=                      products, audit issues, rendition states
    GET   /api/v1/catalog/products/{handle}?shop=             one product: variants, renditions, snapshots,
                                                              decision records
    PATCH /api/v1/catalog/products/{handle}?shop=             {"title", "description", ...}: edit the
                                                              canonical record, recompile, publish everywhere
    GET   /api/v1/catalog/products/{handle}/preview/{channel}?shop=&live=   rendition, issues, diff vs live
    GET   /api/v1/catalog/audit?shop=                         the data-quality report
    POST  /api/v1/catalog/import?shop=                        {"csv": "<Shopify product CSV>"} or {"shopify": true}
    POST  /api/v1/catalog/publish?shop=                       {"handles": [...]}: compile + publish what changed
    GET   /api/v1/catalog/consistency?shop=                   per channel % equal (last check)
    POST  /api/v1/catalog/consistency?shop=                   check now (and repair drift in live mode)

`shop` is a shop id or domain; it may be left out while storeops has exactly one shop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from storeops.core.errors import ConfigError, InvalidInput, NotFound, VendorError
from storeops.domain.catalog import services as catalog
from storeops.domain.catalog.audit import audit
from storeops.domain.decisions import services as decisions
from storeops.flows import catalog as flow
from storeops.web.deps import Admin, BoxDep, DbDep, shop_id_for

router = APIRouter(prefix="/api/v1/catalog", dependencies=[Admin], tags=["catalog"])


class ProductEdit(BaseModel):
    title: str | None = None
    description: str | None = None
    vendor: str | None = None
    product_type: str | None = None
    tags: list[str] | None = None
    attributes: dict[str, str] | None = None
    compliance: dict[str, str] | None = None
    seo_title: str | None = None
    seo_description: str | None = None
    media: list[str] | None = None


class ImportIn(BaseModel):
    csv: str | None = None
    shopify: bool = False
    query: str | None = None


class PublishIn(BaseModel):
    handles: list[str] | None = Field(default=None, max_length=500)
    amazon_preview: bool = True


def _refuse(exc: Exception) -> HTTPException:
    if isinstance(exc, NotFound):
        return HTTPException(404, str(exc))
    if isinstance(exc, InvalidInput):
        return HTTPException(422, {"error": str(exc), "field": exc.field})
    return HTTPException(502, str(exc))


def product_list(db: Any, shop_id: str) -> list[dict[str, Any]]:
    with db.session(shop_id) as session:
        pairs = catalog.records(session)
        report = audit(r for _, r in pairs)
        by_product: dict[int, dict[str, Any]] = {}
        for r in catalog.renditions(session):
            by_product.setdefault(r.product_id, {})[r.channel] = {
                "status": r.status, "published": r.published_hash == r.content_hash, "issues": len(r.issues)}
        drift: dict[int, dict[str, bool]] = {}
        for s in catalog.snapshots(session):
            drift.setdefault(s.product_id, {})[s.channel] = s.equal
        return [{"handle": p.handle, "title": p.title, "vendor": p.vendor, "product_type": p.product_type,
                 "source": p.source, "variants": len(r.variants), "skus": r.skus,
                 "issues": [i.as_dict() for i in report.for_product(p.handle)],
                 "renditions": by_product.get(p.id, {}), "live_equal": drift.get(p.id, {})} for p, r in pairs]


@router.get("/products")
def list_products(db: DbDep, shop: str | None = None) -> list[dict[str, Any]]:
    return product_list(db, shop_id_for(db, shop))


def product_detail(db: Any, shop_id: str, handle: str) -> dict[str, Any]:
    with db.session(shop_id) as session:
        product = catalog.find(session, handle=handle)
        variants = catalog.variants_of(session, product.id)
        record = catalog.record_of(product, variants)
        return {
            "handle": product.handle, "title": product.title, "description": product.description,
            "vendor": product.vendor, "product_type": product.product_type, "tags": product.tags,
            "attributes": product.attributes, "compliance": product.compliance, "seo_title": product.seo_title,
            "seo_description": product.seo_description, "media": product.media, "source": product.source,
            "shopify_gid": product.shopify_gid, "options": product.options,
            "variants": [{"sku": v.sku, "barcode": v.barcode, "title": v.title, "price": v.price,
                          "compare_at_price": v.compare_at_price, "weight_grams": v.weight_grams,
                          "options": v.options} for v in variants],
            "issues": [i.as_dict() for i in audit([record]).issues],
            "renditions": {r.channel: {"fields": r.fields, "status": r.status, "issues": r.issues,
                                       "content_hash": r.content_hash, "published_hash": r.published_hash,
                                       "published_at": r.published_at, "generator": r.generator}
                           for r in catalog.renditions(session, product.id)},
            "live": {s.channel: {"equal": s.equal, "drift": s.drift, "checked_at": s.checked_at}
                     for s in catalog.snapshots(session) if s.product_id == product.id},
            "decisions": [{"id": d.id, "mode": d.mode, "created_at": d.created_at, "outputs": d.outputs,
                           "intended_actions": d.intended_actions, "actions_taken": d.actions_taken}
                          for d in decisions.for_subject(session, f"product:{product.handle}")],
        }


@router.get("/products/{handle}")
def get_product(handle: str, db: DbDep, shop: str | None = None) -> dict[str, Any]:
    try:
        return product_detail(db, shop_id_for(db, shop), handle)
    except NotFound as exc:
        raise _refuse(exc) from exc


@router.patch("/products/{handle}")
def edit_product(handle: str, body: ProductEdit, db: DbDep, box: BoxDep, shop: str | None = None) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise HTTPException(422, {"error": "nothing to change", "field": None})
    try:
        return flow.apply_edit(db, box, shop_id_for(db, shop), handle, changes)
    except (NotFound, InvalidInput, ConfigError, VendorError) as exc:
        raise _refuse(exc) from exc


@router.get("/products/{handle}/preview/{channel}")
def preview(handle: str, channel: str, db: DbDep, box: BoxDep, shop: str | None = None,
            live: bool = True) -> dict[str, Any]:
    try:
        return flow.preview(db, box, shop_id_for(db, shop), handle, channel, live=live)
    except (NotFound, InvalidInput) as exc:
        raise _refuse(exc) from exc


@router.get("/audit")
def get_audit(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    return flow.audit_catalog(db, shop_id_for(db, shop)).as_dict()


@router.post("/import")
def import_products(body: ImportIn, db: DbDep, box: BoxDep, shop: str | None = None) -> dict[str, Any]:
    if (body.csv is None) == (not body.shopify):
        raise HTTPException(422, {"error": "give exactly one of csv or shopify", "field": "csv"})
    shop_id = shop_id_for(db, shop)
    try:
        result = flow.import_csv(db, shop_id, body.csv) if body.csv is not None else \
            flow.import_shopify(db, box, shop_id, body.query)
    except (InvalidInput, ConfigError, VendorError) as exc:
        raise _refuse(exc) from exc
    return result.as_dict()


@router.post("/publish")
def publish(body: PublishIn, db: DbDep, box: BoxDep, shop: str | None = None) -> dict[str, Any]:
    shop_id = shop_id_for(db, shop)
    try:
        compiled = flow.compile_renditions(db, box, shop_id, handles=body.handles,
                                           amazon_preview=body.amazon_preview)
        return {"compiled": compiled.as_dict(), "published": flow.publish(db, shop_id, handles=body.handles)}
    except (InvalidInput, ConfigError, VendorError) as exc:
        raise _refuse(exc) from exc


@router.get("/consistency")
def consistency(db: DbDep, shop: str | None = None) -> dict[str, Any]:
    with db.session(shop_id_for(db, shop)) as session:
        return catalog.consistency(session)


@router.post("/consistency")
def check_consistency(db: DbDep, box: BoxDep, shop: str | None = None, repair: bool = True) -> dict[str, Any]:
    try:
        return flow.check_consistency(db, box, shop_id_for(db, shop), repair=repair)
    except (ConfigError, VendorError) as exc:
        raise _refuse(exc) from exc
