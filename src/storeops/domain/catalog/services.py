"""Catalog state: imports, edits, renditions and snapshots. Every call takes the caller's
session, opened for one shop (db.session(shop_id)), so every query is that shop's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storeops.core.clock import utcnow
from storeops.core.errors import InvalidInput, NotFound
from storeops.domain.catalog.models import INVALID, VALID, ChannelSnapshot, Product, Rendition, Variant
from storeops.domain.catalog.records import ProductRecord, VariantRecord, content_hash

EDITABLE = ("title", "description", "vendor", "product_type", "tags", "attributes", "compliance", "seo_title",
            "seo_description", "media")


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"created": len(self.created), "updated": len(self.updated), "unchanged": len(self.unchanged)}


def record_of(product: Product, variants: Sequence[Variant], store_url: str | None = None) -> ProductRecord:
    legacy = product.shopify_gid.rsplit("/", 1)[-1] if product.shopify_gid else None
    extra = {"store_url": store_url} if store_url else {}
    return ProductRecord(
        handle=product.handle, title=product.title, description=product.description, vendor=product.vendor,
        product_type=product.product_type, tags=tuple(product.tags), attributes=dict(product.attributes),
        options={k: list(v) for k, v in product.options.items()}, compliance=dict(product.compliance),
        seo_title=product.seo_title, seo_description=product.seo_description, media=tuple(product.media),
        external_id=legacy, variants=tuple(
            VariantRecord(sku=v.sku, barcode=v.barcode, title=v.title, price=Decimal(v.price),
                          compare_at_price=Decimal(v.compare_at_price) if v.compare_at_price else None,
                          weight_grams=v.weight_grams, options=dict(v.options), position=v.position)
            for v in sorted(variants, key=lambda v: v.position)), **extra)


def _fingerprint(record: ProductRecord) -> str:
    return content_hash({**record.__dict__, "external_id": None, "store_url": None})


def upsert_products(session: Session, shop_id: str, records: Iterable[ProductRecord], *, source: str,
                    gids: dict[str, str] | None = None) -> ImportResult:
    """Create or replace products by handle (variants replaced whole); unchanged ones are left alone."""
    result = ImportResult()
    gids = gids or {}
    for record in records:
        product = session.scalar(select(Product).where(Product.handle == record.handle))
        if product is not None:
            current = record_of(product, variants_of(session, product.id))
            if _fingerprint(current) == _fingerprint(record) and (product.shopify_gid or None) == (
                    gids.get(record.handle) or product.shopify_gid):
                result.unchanged.append(record.handle)
                continue
            result.updated.append(record.handle)
        else:
            product = Product(shop_id=shop_id, handle=record.handle, title=record.title)
            session.add(product)
            result.created.append(record.handle)
        product.title, product.description, product.vendor = record.title, record.description, record.vendor
        product.product_type, product.tags = record.product_type, list(record.tags)
        product.attributes, product.compliance = dict(record.attributes), dict(record.compliance)
        product.options = {k: list(v) for k, v in record.options.items()}
        product.seo_title, product.seo_description = record.seo_title, record.seo_description
        product.media, product.source = list(record.media), source
        product.shopify_gid = gids.get(record.handle) or product.shopify_gid
        product.updated_at = utcnow()
        session.flush()
        session.execute(delete(Variant).where(Variant.shop_id == shop_id, Variant.product_id == product.id))
        for v in record.variants:
            session.add(Variant(shop_id=shop_id, product_id=product.id, position=v.position, title=v.title, sku=v.sku,
                                barcode=v.barcode, price=str(v.price),
                                compare_at_price=str(v.compare_at_price) if v.compare_at_price is not None else None,
                                weight_grams=v.weight_grams, options=dict(v.options)))
    session.flush()
    return result


def variants_of(session: Session, product_id: int) -> list[Variant]:
    return list(session.scalars(select(Variant).where(Variant.product_id == product_id).order_by(Variant.position)))


def products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).order_by(Product.handle)))


def records(session: Session, store_url: str | None = None) -> list[tuple[Product, ProductRecord]]:
    rows = products(session)
    by_product: dict[int, list[Variant]] = {}
    for v in session.scalars(select(Variant)):
        by_product.setdefault(v.product_id, []).append(v)
    return [(p, record_of(p, by_product.get(p.id, []), store_url)) for p in rows]


def find(session: Session, *, handle: str | None = None, sku: str | None = None) -> Product:
    if handle:
        found = session.scalar(select(Product).where(Product.handle == handle))
        if found is None:
            raise NotFound("product", handle)
        return found
    if sku:
        variant = session.scalar(select(Variant).where(Variant.sku == sku))
        if variant is None:
            raise NotFound("sku", sku)
        return session.get_one(Product, variant.product_id)
    raise InvalidInput("name a product by handle or SKU", field="handle")


def edit_product(session: Session, product: Product, changes: dict[str, Any]) -> list[str]:
    """Apply a merchant's edit to the canonical record; returns the fields that changed."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(f"cannot edit {', '.join(unknown)}; editable: {', '.join(EDITABLE)}", field=unknown[0])
    if "title" in changes and not str(changes["title"] or "").strip():
        raise InvalidInput("title must not be empty", field="title")
    changed = []
    for name, value in changes.items():
        if name in ("tags", "media") and not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
            raise InvalidInput(f"{name} must be a list of strings", field=name)
        if name in ("attributes", "compliance") and not isinstance(value, dict):
            raise InvalidInput(f"{name} must be an object", field=name)
        if getattr(product, name) != value:
            setattr(product, name, value)
            changed.append(name)
    if changed:
        product.updated_at = utcnow()
    return changed


def renditions(session: Session, product_id: int | None = None) -> list[Rendition]:
    query = select(Rendition).order_by(Rendition.product_id, Rendition.channel)
    if product_id is not None:
        query = query.where(Rendition.product_id == product_id)
    return list(session.scalars(query))


def save_rendition(session: Session, shop_id: str, product_id: int, channel: str, fields: dict[str, Any], *,
                   generator: str, issues: list[dict[str, Any]]) -> Rendition:
    row = session.scalar(select(Rendition).where(Rendition.product_id == product_id, Rendition.channel == channel))
    digest = content_hash(fields)
    if row is None:
        row = Rendition(shop_id=shop_id, product_id=product_id, channel=channel, fields=fields, content_hash=digest)
        session.add(row)
    row.fields, row.content_hash, row.generator = fields, digest, generator
    row.issues, row.status = issues, (INVALID if issues else VALID)
    session.flush()
    return row


def snapshot(session: Session, shop_id: str, product_id: int, channel: str, live: dict[str, Any],
             drift: list[str]) -> ChannelSnapshot:
    row = session.scalar(select(ChannelSnapshot).where(ChannelSnapshot.product_id == product_id,
                                                       ChannelSnapshot.channel == channel))
    if row is None:
        row = ChannelSnapshot(shop_id=shop_id, product_id=product_id, channel=channel)
        session.add(row)
    row.live_fields, row.drift, row.equal, row.checked_at = live, drift, not drift, utcnow()
    session.flush()
    return row


def snapshots(session: Session) -> list[ChannelSnapshot]:
    return list(session.scalars(select(ChannelSnapshot)))


def consistency(session: Session) -> dict[str, dict[str, Any]]:
    """Per channel: products checked, equal, and the share equal (percent, 1 decimal)."""
    out: dict[str, dict[str, Any]] = {}
    for row in snapshots(session):
        entry = out.setdefault(row.channel, {"checked": 0, "equal": 0})
        entry["checked"] += 1
        entry["equal"] += 1 if row.equal else 0
    for entry in out.values():
        entry["percent"] = round(100.0 * entry["equal"] / entry["checked"], 1) if entry["checked"] else None
    return out
