"""Catalog automation ("catalog_publish"): canonical products out to every channel, and kept there.

    import    Shopify (paged GraphQL reads: the sandbox emulates no bulk operations) or a
              Shopify product CSV -> canonical Product / Variant rows
    audit     data quality; products with audit errors are not published
    compile   render every eligible channel from ONE generator call per product, validate
              locally, and Amazon also through the sandbox's VALIDATION_PREVIEW
    publish   per product: a DecisionRecord with the intended actions; live: outbox actions
              in the same transaction (shopify.update_product, amazon.patch_listings,
              klaviyo.upsert_catalog_item); shadow: recorded only; off: nothing. A rendition
              whose content hash equals its published hash is not sent again (zero calls),
              and the idempotency key derives from (product, channel, content hash).
    monitor   read each channel's live fields, per channel the share equal to the rendition,
              snapshots + a DecisionRecord; live: repair actions for what drifted. Runs on a
              schedule (every 15 minutes) and from `storeops catalog consistency`.

Outbound calls run in the actions (durable, retried by the engine on 429 / 5xx); reads for
compile and the monitor happen outside any database transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import structlog
from sqlalchemy import select

from storeops.ai.content import OfflineGenerator
from storeops.connectors.amazon import AmazonClient
from storeops.connectors.klaviyo.client import KlaviyoClient
from storeops.connectors.klaviyo.models import CatalogItemInput
from storeops.connectors.shopify.client import ShopifyClient
from storeops.core.clock import parse_time, utcnow
from storeops.core.errors import InvalidInput
from storeops.core.secrets import SecretBox
from storeops.db.session import Database
from storeops.domain.catalog import channels as rules
from storeops.domain.catalog import services as catalog
from storeops.domain.catalog.audit import ERROR, AuditReport, audit
from storeops.domain.catalog.csv_import import parse_shopify_csv
from storeops.domain.catalog.models import VALID, Product, Rendition
from storeops.domain.catalog.records import ProductRecord, VariantRecord, plain_text
from storeops.domain.decisions import services as decisions
from storeops.domain.decisions.models import LIVE, OFF
from storeops.domain.shops import services as shops
from storeops.engine.inbox import EventContext, InvalidPayload
from storeops.engine.outbox import action, emit_actions
from storeops.engine.workflows import QueueSpec, define_queue, schedule, step
from storeops.flows import orders as order_flow
from storeops.flows.context import deps
from storeops.flows.demo import connector_for

log = structlog.get_logger(__name__)

AUTOMATION = "catalog_publish"
# patchListingsItem: 5 requests/s, burst 5 (listingsItems_2021-08-01.json usage plan); a queue
# of its own so catalog pushes do not hold up other Amazon calls.
AMAZON_LISTINGS_QUEUE = define_queue(QueueSpec(name="amazon_listings", limit=5, period=1.0))
TARGETS = {"shopify": "shopify.update_product", "amazon": "amazon.patch_listings",
           "klaviyo": "klaviyo.upsert_catalog_item"}
AMAZON_CONTENT = ("brand", "bullet_point", "product_description", "generic_keyword")




def _store_url(db: Database, shop_id: str) -> str:
    with db.system_session() as session:
        return f"https://{shops.find_shop(session, shop_id).domain}"


# The credential that proves a channel is connected for the shop (storeops.flows.demo._build).
_CHANNEL_CREDENTIAL = {"shopify": "shopify.access_token", "amazon": "amazon.refresh_token",
                       "klaviyo": "klaviyo.api_key"}


def connected_channels(db: Database, shop_id: str) -> tuple[str, ...]:
    """The channels this shop sells on: a publishing channel needs its credentials; email is ours."""
    with db.system_session() as session:
        stored = set(shops.view(session, shops.find_shop(session, shop_id)).credentials)
    return tuple(c for c in rules.CHANNELS if c not in _CHANNEL_CREDENTIAL or _CHANNEL_CREDENTIAL[c] in stored)


@contextmanager
def _client(db: Database, box: SecretBox, shop_id: str, vendor: str) -> Iterator[Any]:
    with closing(connector_for(db, box, shop_id, vendor)) as client:
        yield client


# --- import ----------------------------------------------------------------------------------


def import_csv(db: Database, shop_id: str, text: str) -> catalog.ImportResult:
    records = parse_shopify_csv(text)  # raises InvalidInput before anything is written
    with db.session(shop_id) as session:
        return catalog.upsert_products(session, shop_id, records, source="csv")


def _grams(node: dict[str, Any]) -> int | None:
    weight = ((node.get("inventoryItem") or {}).get("measurement") or {}).get("weight") or {}
    if weight.get("value") is None:
        return None
    factor = {"GRAMS": Decimal(1), "KILOGRAMS": Decimal(1000), "OUNCES": Decimal("28.349523125"),
              "POUNDS": Decimal("453.59237")}.get(str(weight.get("unit")), Decimal(1))
    return int((Decimal(str(weight["value"])) * factor).to_integral_value())


def record_from_shopify(node: dict[str, Any], existing: ProductRecord | None) -> ProductRecord:
    """Shopify has no attributes / compliance / media here: those stay as the catalog has them."""
    variants = tuple(VariantRecord(
        sku=v.get("sku") or None, barcode=v.get("barcode") or None, title=v.get("title") or "Default Title",
        price=Decimal(str(v["price"])), compare_at_price=Decimal(str(v["compareAtPrice"]))
        if v.get("compareAtPrice") else None, weight_grams=_grams(v), position=int(v.get("position") or n),
        options={o["name"].lower(): o["value"] for o in v.get("selectedOptions") or []
                 if not (o["name"] == "Title" and o["value"] == "Default Title")})
        for n, v in enumerate(node["variants"]["nodes"], start=1))
    options = {o["name"].lower(): list(o["values"]) for o in node.get("options") or []
               if o["name"] != "Title"}
    seo = node.get("seo") or {}
    return ProductRecord(
        handle=node["handle"], title=node["title"], description=plain_text(node.get("descriptionHtml")),
        vendor=node.get("vendor") or "", product_type=node.get("productType") or "", tags=tuple(node.get("tags") or ()),
        attributes=dict(existing.attributes) if existing else {}, options=options,
        compliance=dict(existing.compliance) if existing else {}, seo_title=seo.get("title"),
        seo_description=seo.get("description"), media=existing.media if existing else (), variants=variants)


def _unique_handles(nodes: list[dict[str, Any]]) -> None:
    """Shopify handles are unique per shop; a repeated one (seen in imported demo data) gets
    Shopify's own suffix (-1, -2, ...) in the canonical catalog so no product is merged."""
    seen: set[str] = set()
    for node in sorted(nodes, key=lambda n: int(n.get("legacyResourceId") or 0)):
        handle, n = node["handle"], 0
        while handle in seen:
            n += 1
            handle = f"{node['handle']}-{n}"
        node["handle"] = handle
        seen.add(handle)


def import_shopify(db: Database, box: SecretBox, shop_id: str, query: str | None = None) -> catalog.ImportResult:
    """All products, or those matching a Shopify search `query` ("product_type:Bags",
    "updated_at:>2026-11-01")."""
    with _client(db, box, shop_id, "shopify") as client:
        nodes = cast(ShopifyClient, client).list_catalog_products(query)
    _unique_handles(nodes)
    with db.session(shop_id) as session:
        current = {p.handle: (p, r) for p, r in catalog.records(session)}
        published = {r.product_id: r.fields for r in catalog.renditions(session) if r.channel == "shopify"
                     and r.published_hash}
        records = []
        for node in nodes:
            row, existing = current.get(node["handle"], (None, None))
            record = record_from_shopify(node, existing)
            # Shopify shows what we published: its description is our rendition, not a new canonical one.
            if row is not None and existing is not None and \
                    published.get(row.id, {}).get("descriptionHtml") == node.get("descriptionHtml"):
                record = replace(record, description=existing.description, seo_title=existing.seo_title,
                                 seo_description=existing.seo_description)
            records.append(record)
        return catalog.upsert_products(session, shop_id, records, source="shopify",
                                       gids={n["handle"]: n["id"] for n in nodes})


# --- audit and compile -----------------------------------------------------------------------


def audit_catalog(db: Database, shop_id: str) -> AuditReport:
    with db.session(shop_id) as session:
        return audit(r for _, r in catalog.records(session))


def amazon_patches(fields: dict[str, Any], sku: str, marketplace_id: str) -> list[dict[str, Any]]:
    def text(value: str) -> list[dict[str, Any]]:
        return [{"value": value, "language_tag": "en_US", "marketplace_id": marketplace_id}]

    listing = fields["listings"][sku]
    values: dict[str, list[dict[str, Any]]] = {
        "item_name": text(listing["item_name"]), "brand": text(fields["brand"]),
        "bullet_point": [t for b in fields["bullet_point"] for t in text(b)],
        "product_description": text(fields["product_description"])}
    if fields.get("generic_keyword"):
        values["generic_keyword"] = text(fields["generic_keyword"])
    for name in ("color", "size"):
        if listing.get(name):
            values[name] = text(listing[name])
    return [{"op": "replace", "path": f"/attributes/{name}", "value": value} for name, value in values.items()]


@dataclass
class CompileResult:
    products: int = 0
    renditions: int = 0
    valid: int = 0
    invalid: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"products": self.products, "renditions": self.renditions, "valid": self.valid,
                "invalid": self.invalid}


def compile_renditions(db: Database, box: SecretBox | None, shop_id: str, *, writer: rules.Writer | None = None,
                       handles: Sequence[str] | None = None, amazon_preview: bool = True) -> CompileResult:
    """Render, validate and store every eligible channel's rendition. With `amazon_preview`,
    Amazon checks one SKU per changed product (VALIDATION_PREVIEW: nothing is saved there);
    per-SKU names, colours and sizes are checked by our local rules."""
    writer = writer or OfflineGenerator()
    store_url = _store_url(db, shop_id)
    connected = connected_channels(db, shop_id)
    with db.session(shop_id) as session:
        found = [(p.id, r) for p, r in catalog.records(session, store_url) if not handles or p.handle in handles]
        stored = {(r.product_id, r.channel): r.content_hash for r in catalog.renditions(session)}
    result = CompileResult(products=len(found))
    compiled: list[tuple[int, str, dict[str, Any], str, list[dict[str, Any]]]] = []
    amazon: AmazonClient | None = None
    try:
        for product_id, record in found:
            channels = [c for c in rules.eligible_channels(record) if c in connected]
            fields, generator = rules.render_all(record, writer, channels)
            for channel, values in fields.items():
                issues: list[dict[str, Any]] = list(rules.validate(channel, values))
                changed = stored.get((product_id, channel)) != catalog.content_hash(values)
                if channel == "amazon" and amazon_preview and changed and not issues and box is not None:
                    if amazon is None:
                        amazon = cast(AmazonClient, connector_for(db, box, shop_id, "amazon"))
                    sku = next(iter(values["listings"]))
                    submission = amazon.patch_listing(sku, amazon_patches(values, sku, amazon.marketplace_id),
                                                      product_type=values["product_type"], preview=True)
                    issues += [{"field": ",".join(i.get("attributeNames") or []) or "listing",
                                "message": f"Amazon {i.get('code')}: {i.get('message')}"}
                               for i in submission.issues if i.get("severity") == "ERROR"]
                compiled.append((product_id, channel, values, generator, issues))
    finally:
        if amazon is not None:
            amazon.close()
    with db.session(shop_id) as session:
        for product_id, channel, values, generator, issues in compiled:
            catalog.save_rendition(session, shop_id, product_id, channel, values, generator=generator, issues=issues)
            result.renditions += 1
            if issues:
                result.invalid.append({"product_id": product_id, "channel": channel, "issues": issues})
            else:
                result.valid += 1
    return result


# --- publish ---------------------------------------------------------------------------------


def _payload(product: Product, rendition: Rendition) -> dict[str, Any]:
    return {"product_id": product.id, "handle": product.handle, "gid": product.shopify_gid,
            "channel": rendition.channel, "fields": rendition.fields, "content_hash": rendition.content_hash}


def publish(db: Database, shop_id: str, *, handles: Sequence[str] | None = None, cause: str | None = None,
            repair: set[tuple[int, str]] | None = None) -> dict[str, Any]:
    """Decide per product what to send where; live: emit, shadow: record only. Renditions already
    published with the same content hash are skipped, unless named in `repair` (drift)."""
    run = cause or f"publish:{uuid.uuid4().hex[:12]}"
    summary: dict[str, Any] = {"mode": None, "products": 0, "emitted": 0, "intended": 0, "unchanged": 0,
                               "blocked": []}
    with db.session(shop_id) as session:
        mode = decisions.mode_for(session, shop_id, AUTOMATION)
        summary["mode"] = mode
        if mode == OFF:
            return summary
        pairs = catalog.records(session)
        report = audit(r for _, r in pairs)
        by_product: dict[int, list[Rendition]] = {}
        for r in catalog.renditions(session):
            by_product.setdefault(r.product_id, []).append(r)
        for product, _record in pairs:
            if handles and product.handle not in handles:
                continue
            summary["products"] += 1
            errors = [i.as_dict() for i in report.for_product(product.handle) if i.severity == ERROR]
            intended: list[dict[str, Any]] = []
            skipped: list[dict[str, Any]] = []
            for rendition in by_product.get(product.id, []):
                target = TARGETS.get(rendition.channel)
                if target is None or rendition.status != VALID:
                    continue
                if rendition.channel == "shopify" and not product.shopify_gid:
                    skipped.append({"channel": "shopify", "reason": "not in Shopify (imported from CSV)"})
                    continue
                if rendition.published_hash == rendition.content_hash and (product.id, rendition.channel) \
                        not in (repair or set()):
                    summary["unchanged"] += 1
                    continue
                reason = "repair" if repair and (product.id, rendition.channel) in repair else "publish"
                # The key covers the transition (published -> new content): the same change is sent
                # once, and content that comes back after another edit (A -> B -> A) is sent again.
                change = f"{rendition.published_hash or 'none'}->{rendition.content_hash}"
                intended.append({"target": target, "payload": _payload(product, rendition),
                                 "cause": f"catalog:{reason}:{product.id}:{rendition.channel}:{change}"
                                          + (f":{run}" if reason == "repair" else "")})
            if errors:
                summary["blocked"].append({"handle": product.handle, "issues": errors})
            if not intended and not errors:
                continue
            record = decisions.record(
                session, shop_id, subject=f"product:{product.handle}", automation=AUTOMATION, mode=mode,
                inputs={"handle": product.handle, "renditions": {r.channel: r.content_hash
                                                                 for r in by_product.get(product.id, [])}},
                rules=["catalog_audit@1", "channel_rules@1"],
                outputs={"blocked_by_audit": errors, "skipped": skipped,
                         "channels": [i["payload"]["channel"] for i in intended] if not errors else []},
                intended_actions=[] if errors else [{k: i[k] for k in ("target", "cause")} for i in intended],
                actions_taken=[], cause=run)
            if errors:
                continue
            summary["intended"] += len(intended)
            if mode == LIVE:
                record.actions_taken = emit_actions(session, shop_id, record.id, intended)
                summary["emitted"] += len(record.actions_taken)
    return summary


def apply_edit(db: Database, box: SecretBox | None, shop_id: str, handle: str, changes: dict[str, Any], *,
               writer: rules.Writer | None = None) -> dict[str, Any]:
    """A merchant's edit to the canonical record, recompiled and published to every channel."""
    with db.session(shop_id) as session:
        product = catalog.find(session, handle=handle)
        changed = catalog.edit_product(session, product, changes)
    compiled = compile_renditions(db, box, shop_id, writer=writer, handles=[handle])
    published = publish(db, shop_id, handles=[handle], cause=f"edit:{handle}:{uuid.uuid4().hex[:12]}")
    return {"changed": changed, "compiled": compiled.as_dict(), "published": published}


def _published(shop_id: str, payload: dict[str, Any], key: str, result: dict[str, Any]) -> None:
    db, _ = deps()
    with db.session(shop_id) as session:
        row = session.scalar(select(Rendition).where(Rendition.product_id == int(payload["product_id"]),
                                                     Rendition.channel == payload["channel"]))
        if row is not None and row.content_hash == payload["content_hash"]:
            row.published_hash, row.published_at = payload["content_hash"], utcnow()
        decisions.note_emitted_result(session, payload, key, result)


@action(TARGETS["shopify"], queue=order_flow.SHOPIFY_QUEUE.name)
def shopify_update_product(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = deps()
    fields = payload["fields"]
    with _client(db, box, shop_id, "shopify") as client:
        updated = cast(ShopifyClient, client).update_product(payload["gid"], {
            "title": fields["title"], "descriptionHtml": fields["descriptionHtml"], "seo": fields["seo"]})
    result = {"updated_at": updated.get("updatedAt")}
    _published(shop_id, payload, key, result)
    return result


@action(TARGETS["amazon"], queue=AMAZON_LISTINGS_QUEUE.name)
def amazon_patch_listings(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    """One PATCH per SKU; a retry repeats them all, which is safe: every op is a replace."""
    db, box = deps()
    fields = payload["fields"]
    statuses: dict[str, str] = {}
    with _client(db, box, shop_id, "amazon") as client:
        amazon = cast(AmazonClient, client)
        for sku in fields["listings"]:
            submission = amazon.patch_listing(sku, amazon_patches(fields, sku, amazon.marketplace_id),
                                              product_type=fields["product_type"])
            statuses[sku] = submission.status
    result = {"statuses": statuses}
    if all(s == "ACCEPTED" for s in statuses.values()):
        _published(shop_id, payload, key, result)
    else:
        db_, _ = deps()
        with db_.session(shop_id) as session:
            decisions.note_emitted_result(session, payload, key, result, "failed")
    return result


def klaviyo_item(fields: dict[str, Any]) -> CatalogItemInput:
    return CatalogItemInput(external_id=fields["external_id"], title=fields["title"],
                            description=fields["description"], url=fields["url"],
                            price=Decimal(fields["price"]) if fields.get("price") is not None else None,
                            image_full_url=fields.get("image_full_url"), custom_metadata=fields["custom_metadata"])


@action(TARGETS["klaviyo"], queue=order_flow.KLAVIYO_QUEUE.name)
def klaviyo_upsert_catalog_item(shop_id: str, payload: dict[str, Any], key: str) -> dict[str, Any]:
    db, box = deps()
    with _client(db, box, shop_id, "klaviyo") as client:
        item = cast(KlaviyoClient, client).upsert_catalog_item(klaviyo_item(payload["fields"]))
    result = {"id": item.id}
    _published(shop_id, payload, key, result)
    return result


# --- consistency monitor -----------------------------------------------------------------------


def _live_shopify(client: ShopifyClient, product: Product, fields: dict[str, Any]) -> dict[str, Any] | None:
    node = client.product_content(product.shopify_gid or "")
    if node is None:
        return None
    seo = node.get("seo") or {}
    return {"title": node["title"], "descriptionHtml": node["descriptionHtml"],
            "seo": {"title": seo.get("title"), "description": seo.get("description")}}


def _values(attributes: dict[str, Any], name: str) -> list[Any]:
    return [e.get("value") for e in attributes.get(name) or []]


def _live_amazon(client: AmazonClient, product: Product, fields: dict[str, Any]) -> dict[str, Any] | None:
    live: dict[str, Any] = {"product_type": fields["product_type"], "listings": {}}
    for n, sku in enumerate(fields["listings"]):
        found = client.get_listing(sku, ["attributes"])
        if found is None:
            return None
        attributes = found.get("attributes") or {}
        if n == 0:  # the shared content, read from the first SKU
            live["brand"] = next(iter(_values(attributes, "brand")), None)
            live["bullet_point"] = _values(attributes, "bullet_point")
            live["product_description"] = next(iter(_values(attributes, "product_description")), None)
            live["generic_keyword"] = next(iter(_values(attributes, "generic_keyword")), "")
        entry = {"item_name": next(iter(_values(attributes, "item_name")), None)}
        for name in ("color", "size"):
            if name in fields["listings"][sku]:
                entry[name] = next(iter(_values(attributes, name)), None)
        live["listings"][sku] = entry
    return live


def _live_klaviyo(client: KlaviyoClient, product: Product, fields: dict[str, Any]) -> dict[str, Any] | None:
    item = client.get_catalog_item(fields["external_id"])
    if item is None:
        return None
    # The connector's CatalogItem carries no image: the image is not compared. Klaviyo answers the
    # price as a number (52.0): the same amount is shown as our text.
    price = str(item.price) if item.price is not None else None
    if _same_price(price, fields.get("price")):
        price = fields.get("price")
    return {"external_id": item.external_id, "title": item.title, "description": item.description, "url": item.url,
            "price": price,
            "custom_metadata": item.custom_metadata or {}}


LIVE_READERS: dict[str, Callable[[Any, Product, dict[str, Any]], dict[str, Any] | None]] = {
    "shopify": _live_shopify, "amazon": _live_amazon, "klaviyo": _live_klaviyo}


def _same_price(a: Any, b: Any) -> bool:
    return a is None and b is None or (a is not None and b is not None and Decimal(str(a)) == Decimal(str(b)))


def drift_of(channel: str, expected: dict[str, Any], live: dict[str, Any] | None) -> list[str]:
    if live is None:
        return ["missing"]
    if channel == "klaviyo":
        expected = {k: v for k, v in expected.items() if k != "image_full_url"}
    changes = [d["field"] for d in rules.diff(live, expected)]
    if channel == "klaviyo":  # Klaviyo answers prices as numbers: compare amounts, not text
        changes = [c for c in changes if c != "price" or not _same_price(live.get("price"), expected.get("price"))]
    return changes


def check_consistency(db: Database, box: SecretBox, shop_id: str, *, repair: bool = True) -> dict[str, Any]:
    """Compare every published rendition with what its channel shows; record and (live) repair drift."""
    with db.session(shop_id) as session:
        mode = decisions.mode_for(session, shop_id, AUTOMATION)
        rows = [(p, r) for p in catalog.products(session) for r in catalog.renditions(session, p.id)
                if r.published_hash and r.channel in LIVE_READERS]
        session.expunge_all()  # read below, outside this transaction
    found: list[tuple[Product, Rendition, dict[str, Any] | None, list[str]]] = []
    for channel in LIVE_READERS:
        mine = [(p, r) for p, r in rows if r.channel == channel]
        if not mine:
            continue
        with _client(db, box, shop_id, channel) as client:
            for product, rendition in mine:
                # The rendition is what the channel should show, published yet or not.
                live = LIVE_READERS[channel](client, product, rendition.fields)
                found.append((product, rendition, live, drift_of(channel, rendition.fields, live)))
    drifted = {(p.id, r.channel) for p, r, _, d in found if d}
    with db.session(shop_id) as session:
        for product, rendition, live, drift in found:
            catalog.snapshot(session, shop_id, product.id, rendition.channel, live or {}, drift)
        per_channel = catalog.consistency(session)
        decisions.record(
            session, shop_id, subject="catalog:consistency", automation=AUTOMATION, mode=mode,
            inputs={"checked": len(found)}, rules=["consistency@1"],
            outputs={"channels": per_channel, "drift": [{"handle": p.handle, "channel": r.channel, "fields": d}
                                                        for p, r, _, d in found if d]},
            intended_actions=[{"target": TARGETS[c], "product_id": pid} for pid, c in sorted(drifted)],
            actions_taken=[], cause=f"consistency:{utcnow().isoformat()}")
    repaired = None
    if repair and drifted and mode == LIVE:
        handles = sorted({p.handle for p, r, _, d in found if d})
        repaired = publish(db, shop_id, handles=handles, repair=drifted, cause=f"repair:{uuid.uuid4().hex[:12]}")
    return {"mode": mode, "channels": per_channel, "drifted": len(drifted), "repair": repaired}


@step(name="catalog.consistency_for_shop")
def _consistency_step(shop_id: str) -> dict[str, Any]:
    db, box = deps()
    return check_consistency(db, box, shop_id)


@schedule("catalog_consistency", "0 */15 * * * *")
def consistency_sweep(scheduled_at: datetime, context: Any) -> None:
    try:
        db, _ = deps()
        with db.system_session() as session:
            shop_ids = list(session.scalars(select(Rendition.shop_id).where(
                Rendition.published_hash.is_not(None)).distinct()))
    except Exception as exc:  # noqa: BLE001 - not configured in this process, or the database is away
        log.warning("catalog consistency sweep skipped", error=repr(exc))
        return
    for shop_id in shop_ids:
        try:
            _consistency_step(shop_id)
        except Exception as exc:  # noqa: BLE001 - one shop's failure must not stop the others
            log.warning("catalog consistency failed", shop=shop_id, error=repr(exc))


# --- preview (dashboard, CLI) --------------------------------------------------------------------


def preview(db: Database, box: SecretBox | None, shop_id: str, handle: str, channel: str, *,
            writer: rules.Writer | None = None, live: bool = True) -> dict[str, Any]:
    """A channel's rendition rendered now, its issues, and its diff against what the channel
    shows (live read; falls back to the last snapshot when the channel cannot be read)."""
    if channel not in rules.CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(rules.CHANNELS)}", field="channel")
    store_url = _store_url(db, shop_id)
    with db.session(shop_id) as session:
        product = catalog.find(session, handle=handle)
        record = catalog.record_of(product, catalog.variants_of(session, product.id), store_url)
        stored = next((r for r in catalog.renditions(session, product.id) if r.channel == channel), None)
        last = next((s for s in catalog.snapshots(session) if s.product_id == product.id and s.channel == channel),
                    None)
        stored_view = None if stored is None else {"content_hash": stored.content_hash, "status": stored.status,
                                                   "published_hash": stored.published_hash,
                                                   "published_at": stored.published_at, "generator": stored.generator}
        last_live = None if last is None else dict(last.live_fields)
        session.expunge(product)
    if channel not in rules.eligible_channels(record):
        return {"handle": handle, "channel": channel, "eligible": False, "fields": None,
                "issues": [{"field": "listings", "message": m} for m in rules.amazon_blockers(record)],
                "live": None, "diff": [], "stored": stored_view}
    fields = rules.render(record, channel, writer or OfflineGenerator())
    current = last_live
    source = "snapshot" if last_live is not None else None
    if live and box is not None and channel in LIVE_READERS:
        try:
            with _client(db, box, shop_id, channel) as client:
                current = LIVE_READERS[channel](client, product, fields)
                source = "live"
        except Exception as exc:  # noqa: BLE001 - a preview still shows the rendition
            log.warning("catalog preview: live read failed", channel=channel, error=repr(exc))
    return {"handle": handle, "channel": channel, "eligible": True, "fields": fields,
            "issues": rules.validate(channel, fields), "live": current, "live_source": source,
            "diff": rules.diff(current or {}, fields), "stored": stored_view}


# --- Shopify products/update (inbox handler: runs inside the inbox transaction) ------------------


def on_shopify_product_update(ctx: EventContext) -> None:
    """A product changed in Shopify. Our own publish comes back here too (then it equals the
    rendition). If Shopify's title or description differs from the published Shopify rendition,
    the product drifted there: the snapshot says so at once (dashboard, consistency %), and a
    decision records it; the consistency monitor repairs it on its schedule in live mode.
    A delivery older than the last check (late or reordered) changes nothing."""
    data = ctx.payload
    if not isinstance(data, dict) or not data.get("admin_graphql_api_id"):
        raise InvalidPayload("products/update needs admin_graphql_api_id")
    product = ctx.session.scalar(select(Product).where(Product.shopify_gid == str(data["admin_graphql_api_id"])))
    if product is None:
        return  # not in the canonical catalog (not imported yet)
    ctx.event.subject = f"product:{product.handle}"
    rendition = next((r for r in catalog.renditions(ctx.session, product.id) if r.channel == "shopify"), None)
    if rendition is None or rendition.published_hash is None:
        return  # nothing published there yet: nothing can drift
    seen = next((s for s in catalog.snapshots(ctx.session) if s.product_id == product.id and s.channel == "shopify"),
                None)
    changed_at = parse_time(data.get("updated_at"))
    # Shopify's REST timestamps have whole seconds: compare at that precision.
    if seen is not None and changed_at is not None and changed_at < seen.checked_at.replace(microsecond=0):
        return
    live = {**(seen.live_fields if seen else {}), "title": data.get("title"), "descriptionHtml": data.get("body_html")}
    drift = sorted({*(d for d in (seen.drift if seen else []) if d not in ("title", "descriptionHtml")),
                    *(name for name in ("title", "descriptionHtml") if live[name] != rendition.fields.get(name))})
    if seen is not None and seen.drift == drift:
        seen.checked_at = changed_at or utcnow()
        return
    catalog.snapshot(ctx.session, ctx.shop_id, product.id, "shopify", live, drift)
    decisions.record(
        ctx.session, ctx.shop_id, subject=f"product:{product.handle}", automation=AUTOMATION,
        mode=decisions.mode_for(ctx.session, ctx.shop_id, AUTOMATION), inputs={"topic": "products/update",
                                                                              "updated_at": data.get("updated_at")},
        rules=["consistency@1"], outputs={"channel": "shopify", "drift": drift}, intended_actions=[],
        actions_taken=[], cause=f"inbox:{ctx.event.vendor}:{ctx.event.event_id}")
